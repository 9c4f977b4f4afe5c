"""Training on several processes (one per GPU, or CPU processes) with PyTorch's own launcher.

``torchrun --nproc_per_node=N -m pgvg_core.cli run CONFIG`` (or ``pgvg run CONFIG --nproc N``, which starts
exactly that) runs N copies of the loop. Each process trains its share of every global batch
(``trainer.batch_size`` is the global batch); after each backward pass the gradients of each network are
averaged over the processes (one flat all-reduce per network), so every process applies the same update
to the same weights. Random draws come from each sample's own stream (:mod:`pgvg_core.training.randomness`), so the
result does not depend on the number of processes. Process 0 alone logs, draws samples, writes checkpoints
and evaluates.

Why gradients are averaged here and not by ``DistributedDataParallel``: the objectives call their
networks' own methods (a pose generator's ``keypoint_sequence``, G2's pose refiner, warm starts) that DDP's
wrapper does not route, and DDP's reducer expects every forward to go through the wrapper, once per backward;
a GAN step runs some networks twice and others not at all. Averaging each network's gradients after its
backward is exact under any such pattern, with one collective per network update.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import attrs
import torch
import torch.distributed as dist

log = logging.getLogger("pgvg.distributed")


@attrs.frozen
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def world_from_environment() -> World:
    """What ``torchrun`` says (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); one process without it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(rank=int(os.environ.get("RANK", "0")), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def start(device_type: str) -> World:
    """Join the process group that ``torchrun`` set up (gloo on the CPU, NCCL on CUDA); nothing for one
    process."""
    world = world_from_environment()
    if world.active and not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        log.info("process %d of %d (%s)", world.rank, world.size, backend)
    return world


def stop() -> None:
    """Leave the process group (every process waits for the others first)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_from_main(module: torch.nn.Module) -> None:
    """Every process starts from process 0's weights and buffers (they are built from the same seed already;
    this makes it a guarantee)."""
    if dist.is_initialized():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: Iterable[torch.nn.Parameter], world: World) -> None:
    """Each gradient replaced by its mean over the processes: one flat all-reduce."""
    if not world.active:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset: offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def sum_over_processes(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """``tensor`` summed over the processes, in place (one collective); as it is with one process. The
    trainer packs a step's loss terms and its stop flag into one such tensor: each process's loss is the mean
    over its share of the batch, so the sum over the processes / their number is the global batch's."""
    if world.active:
        dist.all_reduce(tensor)
    return tensor


def any_process(flag: bool, world: World, device: torch.device) -> bool:
    """True on every process if it is true on any (a stop signal seen by one stops all at the same step)."""
    if not world.active:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
