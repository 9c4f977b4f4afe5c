"""The training loop both stages share: alternate D and G steps, and a few callbacks every so many steps.

    config --Experiment.build--> networks, objective, data --Trainer.fit--> run folder --load_run--> inference

:class:`Trainer` owns what only training needs — the optimisers, the step, the process-wide random streams —
and calls its callbacks after each step: :class:`Logger` (``metrics.jsonl``, TensorBoard), :class:`Sampler`
(``samples/``), :class:`Checkpointer` (``checkpoints/``) and :class:`Evaluation` (``metrics.json``). Each
callback's ``state_dict`` is saved in every checkpoint, so ``Trainer.resume(run_dir)`` continues exactly where
the last checkpoint stopped: data order, noise, optimiser states and a log window half filled included. A
user's own callbacks go in ``Trainer(..., callbacks=[...])``; they run on process 0 only. The run folder's
layout: :mod:`pgvg_core.training.run`; several processes: :mod:`pgvg_core.training.distributed`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from pgvg_core import __version__
from pgvg_core.blocks import CHANNELS_LAST
from pgvg_core.config import ExperimentConfig, build, config_to_toml
from pgvg_core.errors import CheckpointError, ConfigError, PgvgError, Preempted
from pgvg_core.interfaces import Dataset, Metric, clips_by_class, frames_kept
from pgvg_core.measure.evaluation import measure
from pgvg_core.media.files import atomic_write
from pgvg_core.objective import DataInfo, Objective, adam
from pgvg_core.training import checkpoint, distributed, randomness
from pgvg_core.training.experiment import Experiment, network_specs
from pgvg_core.training.randomness import derived_seed, rng_state, seed_everything, seeded_streams, set_rng_state
from pgvg_core.training.run import CONFIG_FILE, EVALUATION_FILE, METRICS_LOG, SAMPLES_DIR, saved_config
from registries import RegistrySet

log = logging.getLogger("pgvg.trainer")


class TrainingError(PgvgError):
    """Training cannot go on (a loss that is not finite); the last good checkpoint is kept."""


class StopSignals:
    """While active, SIGTERM and SIGINT only ask the loop to stop at the next step boundary (a second one
    acts as usual: stops at once). Only the main thread can take signals; elsewhere this does nothing."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:  # asked twice: give the signal its usual meaning
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self.received = signum
        log.warning("%s received: stopping after this step, with a checkpoint (again to stop at once)",
                    signal.Signals(signum).name)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


#: What the training loader asks a dataset for when the objective reads a few frames of each clip.
FrameRequest = tuple[int, tuple[int, ...]]  # (clip index, time indices)


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches as a pure function of (seed, step): a fresh permutation per epoch, so resuming is exact. With
    several processes, process ``rank`` of ``world_size`` takes its share of each global batch.

    With ``frame_choice`` (an objective's ``training_frames`` for the data's clip length), each batch is of
    :data:`FrameRequest` s instead: every sample's frames drawn from a stream of (seed, step, position)."""

    def __init__(self, size: int, batch_size: int, seed: int, start_step: int, steps: int, *, rank: int = 0,
                 world_size: int = 1,
                 frame_choice: Callable[[torch.Generator], Sequence[int]] | None = None) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start_step, self.steps = start_step, steps
        self.rank, self.world_size = rank, world_size
        self.frame_choice = frame_choice
        self._permutations: dict[int, torch.Tensor] = {}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutations = {epoch: torch.randperm(self.size, generator=generator)}
        return self._permutations[epoch]

    def batch(self, step: int) -> list[int]:
        positions = range(step * self.batch_size, (step + 1) * self.batch_size)
        return [int(self._permutation(p // self.size)[p % self.size]) for p in positions]

    def positions(self) -> range:
        """This process's positions in every global batch."""
        share = self.batch_size // self.world_size
        return range(self.rank * share, (self.rank + 1) * share)

    def share(self, step: int) -> list[int]:
        batch = self.batch(step)
        return [batch[p] for p in self.positions()]

    def requests(self, step: int) -> list[FrameRequest]:
        """This process's share of the batch of ``step`` with the frames each sample's step reads."""
        requests = []
        for position, index in zip(self.positions(), self.share(step)):
            generator = torch.Generator().manual_seed(derived_seed(self.seed, f"frames:{step}:{position}"))
            requests.append((index, tuple(int(t) for t in self.frame_choice(generator))))
        return requests

    def __iter__(self) -> Iterator[list[int] | list[FrameRequest]]:
        for step in range(self.start_step, self.steps):
            yield self.requests(step) if self.frame_choice is not None else self.share(step)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)


class FrameRequests(torch.utils.data.Dataset):
    """A dataset as the training loader reads it when the objective reads a few frames of each clip: items are
    asked for as :data:`FrameRequest` s, and only those frames are made (:meth:`Dataset.frames_of`) or, for a
    dataset that is not a pgvg :class:`Dataset`, cut from the whole clip."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, request: FrameRequest) -> dict[str, torch.Tensor]:
        index, frames = request
        frames_of = getattr(self.dataset, "frames_of", None)
        return frames_of(index, frames) if frames_of is not None else frames_kept(self.dataset[index], frames)


@attrs.frozen(kw_only=True)
class RunResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any]
    seconds: float


def due(step: int, every: int, last: int) -> bool:
    """Whether a callback that runs every ``every`` steps runs after ``step`` (it always runs after the last)."""
    return step % every == 0 or step == last


def matmul_flops_per_second(dtype: torch.dtype, *, device: torch.device | str = "cpu", size: int = 512,
                            repeats: int = 5) -> float:
    """The device's matrix-multiply FLOP/s in ``dtype``: the best of ``repeats`` ``size``-square products."""
    device = torch.device(device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a = torch.randn(size, size, device=device).to(dtype)
    a @ a  # the first call sets the kernel up
    synchronize()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def bf16_matmul_speed(size: int = 512, repeats: int = 5) -> float:
    """This CPU's bf16 matrix-multiply speed over its fp32 one."""
    return (matmul_flops_per_second(torch.bfloat16, size=size, repeats=repeats)
            / matmul_flops_per_second(torch.float32, size=size, repeats=repeats))


def warn_if_bf16_is_slow() -> None:
    """bf16 autocast on a CPU pays off only where the CPU has bf16 instructions (AVX512-BF16, AMX): measure."""
    ratio = bf16_matmul_speed()
    if ratio < 1.5:
        # Measured on a 2-core CPU without them (bf16 matmul 0.18x fp32): SCGAN's step 0.54-0.58x and the paper's
        # PSGAN's 0.71x of fp32, its convolutions in bf16 at ~60 GFLOP/s against ~200.
        log.warning("trainer.precision = 'bf16': bf16 matrix multiplies run at %.2fx the speed of fp32 on this "
                    "CPU (few or no bf16 instructions), and pgvg's models were measured 1.4-1.9x slower in bf16 "
                    "than in fp32 on such a CPU; use precision = 'fp32' here (benchmarks/bench_train.py measures "
                    "both)", ratio)
    else:
        log.info("trainer.precision = 'bf16': bf16 matrix multiplies run at %.2fx fp32's speed on this CPU; "
                 "whether pgvg's convolutions follow, benchmarks/bench_train.py measures", ratio)


#: ``precision = "auto"`` takes bf16 on a CPU whose bf16 matrix multiplies run at least this much faster than
#: its fp32 ones (an AVX512-BF16 CPU measured 2.3x; one without bf16 instructions 0.2x).
AUTO_BF16_SPEEDUP = 1.2


def auto_precision(device: torch.device, world: distributed.World) -> str:
    """``trainer.precision = "auto"``: bf16 on a GPU that computes it natively; on a CPU, bf16 where its bf16
    matrix multiplies run ``AUTO_BF16_SPEEDUP`` x its fp32 ones (measured once per CPU and torch, cached), else
    fp32. Every process takes fp32 if any would. The log says which and why. (Measured on matrix products,
    not on each model: bench_train.py measures a model.)"""
    if device.type == "cuda":
        choice = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        why = "this GPU computes bf16 natively" if choice == "bf16" else "this GPU has no native bf16"
    else:
        ratio = _cached_bf16_speed()
        choice = "bf16" if ratio >= AUTO_BF16_SPEEDUP else "fp32"
        why = f"bf16 matrix multiplies run at {ratio:.2f}x fp32's speed on this CPU"
    if distributed.any_process(choice == "fp32", world, device):
        choice = "fp32"
    log.info("trainer.precision = 'auto': %s (%s)", choice, why)
    return choice


def _cached_bf16_speed() -> float:
    """:func:`bf16_matmul_speed`, measured once per CPU model, thread count and torch version (a file in the
    cache folder), since it takes a second and does not change."""
    from pgvg_core.media.files import cache_root

    key = f"{platform.processor() or platform.machine()}|{torch.get_num_threads()}|{torch.__version__}"
    path = cache_root() / "bf16-speed.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = bf16_matmul_speed()
        try:
            atomic_write(path, lambda file: file.write(json.dumps(known).encode()))
        except OSError:
            pass  # a read-only cache: measured again next time
    return float(known[key])


def to_channels_last(net: nn.Module) -> nn.Module:
    """``net``'s 4-D parameters and buffers (2-D convolutions) in ``channels_last`` and 5-D ones (3-D
    convolutions) in ``channels_last_3d``, in place. A convolution whose weight is channels-last makes its
    output so, and the layers after it follow: the activations need no conversion by the caller."""
    for tensor in (*net.parameters(), *net.buffers()):
        if tensor.dim() in CHANNELS_LAST:
            tensor.data = tensor.data.contiguous(memory_format=CHANNELS_LAST[tensor.dim()])
    return net


class Callback:
    """Something the loop does after some steps. ``name`` keys its ``state_dict`` in every checkpoint, so a
    resumed run continues with the callback's state as it was (a user's callback: give it a unique name)."""

    name: str = ""

    def start(self, trainer: "Trainer") -> None:
        """Before the first step of :meth:`Trainer.fit` (of a new run or a resumed one)."""

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        """After every step; ``logged``: that step's loss terms (``d/<term>``, ``g/<term>``)."""

    def end(self, trainer: "Trainer") -> None:
        """After the last step."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


class Logger(Callback):
    """Every ``every`` steps, the mean of each loss term over the steps since the last row (and steps/s): one
    JSON line appended to ``metrics.jsonl``, TensorBoard scalars, the progress bar's figures."""

    name = "log"

    def __init__(self, every: int) -> None:
        self.every = every
        self.window: list[dict[str, float]] = []  # the steps not logged yet; checkpointed
        self.history: list[dict[str, float]] = []  # rows logged by this process
        self._window_started = time.perf_counter()

    def start(self, trainer: "Trainer") -> None:
        self._window_started = time.perf_counter()
        self._forget_rows_after(trainer.run_dir / METRICS_LOG, trainer.step)

    @staticmethod
    def _forget_rows_after(path: Path, step: int) -> None:
        """A run stopped after its last checkpoint logged steps it will train again: those rows go (the file
        is rewritten atomically, once per resume), so that no step is logged twice."""
        if not path.exists():
            return
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
        if len(kept) != len(lines):
            atomic_write(path, lambda file: file.write("".join(kept).encode("utf-8")))
            log.info("%s: %d rows after step %d dropped (logged again as the run continues)", path,
                     len(lines) - len(kept), step)

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        self.window.append(dict(logged))
        if not due(trainer.step, self.every, trainer.config.trainer.steps):
            return
        keys = sorted({key for row in self.window for key in row})
        rate = len(self.window) / max(time.perf_counter() - self._window_started, 1e-9)
        row = {"step": trainer.step, **{k: float(np.mean([r[k] for r in self.window if k in r])) for k in keys},
               "it_per_s": rate}
        self.window, self._window_started = [], time.perf_counter()
        self.history.append(row)
        with open(trainer.run_dir / METRICS_LOG, "a", encoding="utf-8") as file:  # append-only
            file.write(json.dumps(row) + "\n")
        trainer.add_scalars({k: v for k, v in row.items() if k != "step"})
        if trainer.bar is not None:
            trainer.bar.set_postfix({k.split("/")[-1][:10]: f"{v:.3f}" for k, v in row.items() if "/" in k},
                                    refresh=False)

    def state_dict(self) -> dict[str, Any]:
        return {"window": [dict(row) for row in self.window]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.window = [dict(row) for row in state.get("window", [])]


class Sampler(Callback):
    """Every ``every`` steps, the objective's pictures of a fixed batch of evaluation clips (spread over the
    classes) with fixed noise, so that pictures of different steps compare: ``samples/<name>-step*.png|gif``."""

    name = "samples"

    def __init__(self, every: int, count: int) -> None:
        self.every, self.count = every, count
        self._batch: dict[str, torch.Tensor] | None = None

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        if due(trainer.step, self.every, trainer.config.trainer.steps):
            self.save(trainer)

    def _sample_batch(self, dataset: Dataset) -> dict[str, torch.Tensor]:
        if self._batch is None:
            count = min(self.count, len(dataset))
            self._batch = torch.utils.data.default_collate([dataset[i] for i in clips_by_class(dataset, count)])
        return self._batch

    @torch.no_grad()
    def save(self, trainer: "Trainer") -> list[Path]:
        from pgvg_core.media.sheets import save_png
        from pgvg_core.media.video import write_video

        batch = self._sample_batch(trainer.experiment.evaluation_dataset())
        trainer.nets.eval()
        with seeded_streams(derived_seed(trainer.config.experiment.seed, "samples"), trainer.device):
            pictures = trainer.objective.samples(trainer.nets, trainer.objective.prepare(batch, trainer.device))
        trainer.nets.train()
        folder = trainer.run_dir / SAMPLES_DIR
        folder.mkdir(exist_ok=True)
        written = []
        for name, picture in pictures.items():
            stem = folder / f"{name}-step{trainer.step:07d}"
            if picture.ndim == 4:
                written.append(write_video(stem.with_suffix(".gif"), picture, fps=6))
            else:
                save_png(stem.with_suffix(".png"), picture)
                written.append(stem.with_suffix(".png"))
        return written


class Checkpointer(Callback):
    """Every ``every`` steps, the whole training state (:meth:`Trainer.state_dict`), written atomically; the
    last ``keep`` checkpoints are kept."""

    name = "checkpoint"

    def __init__(self, every: int, keep: int) -> None:
        self.every, self.keep = every, keep

    def start(self, trainer: "Trainer") -> None:
        for stale in checkpoint.stale_writes(trainer.run_dir):  # a process killed while writing one
            stale.unlink(missing_ok=True)
            log.info("removed %s, a checkpoint write that never finished", stale)

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        if due(trainer.step, self.every, trainer.config.trainer.steps):
            trainer.save_checkpoint()


class Evaluation(Callback):
    """Every configured metric on the evaluation split, every ``every`` steps (0: only at the end) and after
    the last step; written to ``metrics.json`` and TensorBoard (``eval/<metric>.<value>``)."""

    name = "evaluate"

    def __init__(self, every: int) -> None:
        self.every = every
        self.last: dict[str, Any] = {}
        self._metrics: dict[str, Metric] | None = None

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        if self.every and trainer.step % self.every == 0 and trainer.step != trainer.config.trainer.steps:
            self.evaluate(trainer)

    def end(self, trainer: "Trainer") -> None:
        if trainer.config.metrics:
            self.evaluate(trainer)

    def metrics(self, trainer: "Trainer") -> dict[str, Metric]:
        """The configured metrics, built once (a metric's helper network is loaded once per run)."""
        if self._metrics is None:
            self._metrics = {
                spec.name: build("metrics", spec, registries=trainer.registries, file=trainer.config.source,
                                 path=f"metrics[{index}]", data=trainer.data, device=trainer.device)
                for index, spec in enumerate(trainer.config.metrics)}
        return self._metrics

    def evaluate(self, trainer: "Trainer") -> dict[str, Any]:
        metrics = self.metrics(trainer)
        dataset = trainer.experiment.evaluation_dataset()
        count = min(trainer.config.trainer.eval_clips, len(dataset))
        values = measure(trainer.objective, trainer.nets, dataset, metrics, clips=count,
                         batch_size=trainer.config.trainer.batch_size,
                         seed=derived_seed(trainer.config.experiment.seed, "evaluate"), device=trainer.device,
                         num_workers=trainer.config.trainer.num_workers, progress=trainer.progress)
        result = {"step": trainer.step, "clips": count, "metrics": values,
                  "provenance": {name: metric.provenance() for name, metric in metrics.items()}}
        (trainer.run_dir / EVALUATION_FILE).write_text(json.dumps(result, indent=2, default=str))
        trainer.add_scalars({f"eval/{name}.{key}": value for name, sub in values.items()
                             for key, value in sub.items()
                             if isinstance(value, (int, float)) and math.isfinite(value)})
        # The log line keeps the headline values; per-part ones ("presence.<joint>": 68 of them for a face)
        # are in the evaluation file.
        headline = {name: {key: value for key, value in sub.items() if "." not in key} for name, sub in values.items()}
        log.info("step %d: %s (all values: %s)", trainer.step, json.dumps(headline), EVALUATION_FILE)
        self.last = values
        return values


class Trainer:
    """The training loop: an :class:`~pgvg_core.training.experiment.Experiment` built from ``config``, its optimisers,
    and the callbacks, writing into ``run_dir``."""

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        *,
        registries: RegistrySet | None = None,
        progress: bool = True,
        callbacks: Sequence[Callback] = (),
        _resume_state: dict[str, Any] | None = None,
    ) -> None:
        trainer = config.trainer
        self.run_dir = Path(run_dir)
        self.progress = progress
        if trainer.threads:
            torch.set_num_threads(trainer.threads)
        device = resolve_device(trainer.device)
        self.world = distributed.start(device.type)
        if self.world.active and device.type == "cuda":
            device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(device)
        if trainer.batch_size % self.world.size:
            raise ConfigError(f"trainer.batch_size {trainer.batch_size} is the global batch: it must split evenly "
                              f"over the {self.world.size} processes", file=config.source, path="trainer.batch_size")
        self.precision = auto_precision(device, self.world) if trainer.precision == "auto" else trainer.precision
        if self.precision == "fp16" and device.type != "cuda":
            raise ConfigError("trainer.precision 'fp16' needs CUDA; use 'fp32' on the CPU",
                              file=config.source, path="trainer.precision")
        if trainer.precision == "bf16" and device.type == "cpu":  # "auto" has said why it chose
            warn_if_bf16_is_slow()
        self.experiment = Experiment.build(config, device=device, registries=registries)
        for net in self.nets.values():
            distributed.broadcast_from_main(net)
            if trainer.channels_last:
                to_channels_last(net)
            if trainer.compile:
                net.compile()  # in place: parameter names and checkpoints stay those of the plain network
        self.optimizers = {
            role: adam(self.nets[role].parameters(), self.device, lr=spec.lr, betas=spec.betas,
                       weight_decay=spec.weight_decay)
            for _, role, spec in network_specs(config)
        }
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        self.step = 0
        self.logger = Logger(trainer.log_every)
        self.evaluation = Evaluation(trainer.eval_every)
        # Order matters: a checkpoint holds the log window after this step's row, and evaluation comes after
        # the checkpoint (as a run that stops during an evaluation resumes from that checkpoint).
        self.callbacks: list[Callback] = [self.logger, Sampler(trainer.sample_every, trainer.samples),
                                          Checkpointer(trainer.checkpoint_every, trainer.keep_checkpoints),
                                          self.evaluation, *callbacks]
        names = [callback.name for callback in self.callbacks]
        if len(set(names)) != len(names) or "" in names:
            raise PgvgError(f"callbacks need unique, non-empty names (their checkpoint keys); got {names}")
        self.writer: Any = None
        self.bar: Any = None
        if _resume_state is not None:
            self.load_state_dict(_resume_state)
        else:
            # The loop owns the process-wide streams: a new run's training noise starts from the seed alone.
            seed_everything(derived_seed(config.experiment.seed, "train"))

    # What the experiment built, under the names the loop and its callbacks use.
    config = property(lambda self: self.experiment.config)
    registries = property(lambda self: self.experiment.registries)
    device = property(lambda self: self.experiment.device)
    dataset = property(lambda self: self.experiment.dataset)
    data: DataInfo = property(lambda self: self.experiment.data)  # type: ignore[assignment]
    nets: nn.ModuleDict = property(lambda self: self.experiment.nets)  # type: ignore[assignment]
    objective: Objective = property(lambda self: self.experiment.objective)  # type: ignore[assignment]
    history = property(lambda self: self.logger.history)

    # ------------------------------------------------------------------------------------------ one step

    def _roles(self, roles: tuple[str, ...]) -> tuple[str, ...]:
        """The roles of ``roles`` this run has networks for (an optional one may be left out)."""
        return tuple(role for role in roles if role in self.nets)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _loader(self, sampler: StepBatchSampler) -> torch.utils.data.DataLoader:
        trainer = self.config.trainer
        dataset = self.dataset if sampler.frame_choice is None else FrameRequests(self.dataset)
        return torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, num_workers=trainer.num_workers,
            pin_memory=self.device.type == "cuda", persistent_workers=False,
            # Its own generator: a loader draws a seed when iterated, which must not shift the global stream
            # (or a resumed run would draw different noise than an uninterrupted one).
            generator=torch.Generator().manual_seed(self.config.experiment.seed),
        )

    def _sampler(self) -> StepBatchSampler:
        trainer = self.config.trainer
        return StepBatchSampler(len(self.dataset), trainer.batch_size, self.config.experiment.seed, self.step,
                                trainer.steps, rank=self.world.rank, world_size=self.world.size,
                                frame_choice=self._frame_choice())

    def _frame_choice(self) -> Callable[[torch.Generator], Sequence[int]] | None:
        """The objective's choice of frames for this data's clips, or ``None`` where a step reads whole clips."""
        length = getattr(self.dataset, "frames", None)
        if not isinstance(length, int):
            return None
        probe = self.objective.training_frames(length, torch.Generator().manual_seed(0))
        if probe is None:
            return None
        return functools.partial(self.objective.training_frames, length)

    def _update(self, roles: tuple[str, ...], terms: dict[str, torch.Tensor]) -> None:
        total = sum(terms.values())
        for role in roles:
            self.optimizers[role].zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        for role in roles:
            distributed.average_gradients(self.nets[role].parameters(), self.world)
            if self.config.trainer.grad_clip > 0:
                self.scaler.unscale_(self.optimizers[role])
                nn.utils.clip_grad_norm_(self.nets[role].parameters(), self.config.trainer.grad_clip)
            self.scaler.step(self.optimizers[role])
        self.scaler.update()

    def _requires_grad(self, roles: tuple[str, ...], flag: bool) -> None:
        for role in roles:
            self.nets[role].requires_grad_(flag)

    def train_step(self, raw_batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step's updates; its loss terms as 0-dim tensors on the device (``d/...``, ``g/...``), read by
        the host once, in :meth:`_logged`."""
        objective = self.objective
        # Evaluation helpers are fitted like generators: by the terms of the generator step.
        generators = self._roles(objective.generator_roles + objective.evaluator_roles)
        discriminators = self._roles(objective.discriminator_roles)
        self.nets.train()
        batch = objective.prepare(objective.training_batch(raw_batch), self.device)
        logged: dict[str, float] = {}
        with self._autocast():
            fakes = objective.generate(self.nets, batch) if generators else {}
        if discriminators:
            self._requires_grad(discriminators, True)
            with self._autocast():
                d_terms = objective.discriminator_terms(self.nets, batch, {k: v.detach() for k, v in fakes.items()})
            if d_terms:
                self._update(discriminators, d_terms)
                logged.update({f"d/{k}": v.detach() for k, v in d_terms.items()})
        if generators:
            self._requires_grad(discriminators, False)  # no discriminator gradients in the generator step
            with self._autocast():
                g_terms = objective.generator_terms(self.nets, batch, fakes)
            self._update(generators, g_terms)
            self._requires_grad(discriminators, True)
            logged.update({f"g/{k}": v.detach() for k, v in g_terms.items()})
        return logged

    def _logged(self, terms: Mapping[str, torch.Tensor], stopping: bool) -> tuple[dict[str, float], bool]:
        """The step's loss terms (0-dim tensors on the device), averaged over the processes, as numbers, and
        whether any process was asked to stop: one collective and one host sync a step (there were up to five
        and one per term). A term that is not finite on any process is not finite in the sum: training stops
        there, naming it, before a checkpoint could keep what that step did to the weights."""
        names = list(terms)
        packed = torch.stack([terms[name].float() for name in names] +
                             [torch.tensor(float(stopping), device=self.device)]).double() if names else \
            torch.tensor([float(stopping)], dtype=torch.float64, device=self.device)
        *values, stops = distributed.sum_over_processes(packed, self.world).tolist()
        bad = [name for name, value in zip(names, values) if not math.isfinite(value)]
        if bad:
            last_good = self._last_checkpoint()
            kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
            mine = [name for name in bad if not bool(torch.isfinite(terms[name]))]
            what = (f"loss term '{mine[0]}' is {terms[mine[0]].item()}" if mine
                    else "a loss term of another process is not finite")
            raise TrainingError(f"step {self.step}: {what}; training stopped and {kept}. Lower the learning rate, "
                                "enable trainer.grad_clip, or use precision = \"fp32\"")
        return {name: value / self.world.size for name, value in zip(names, values)}, stops > 0

    def _set_learning_rates(self) -> None:
        """The schedule's learning rate for this step: a pure function of the step, so a resumed run follows
        the same schedule without any scheduler state in the checkpoint."""
        trainer = self.config.trainer
        factor = 1.0
        if trainer.lr_schedule == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * min(self.step, trainer.steps) / trainer.steps))
        for _, role, spec in network_specs(self.config):
            for group in self.optimizers[role].param_groups:
                group["lr"] = spec.lr * factor

    # ---------------------------------------------------------------------------------------------- loop

    def fit(self) -> RunResult:
        """Train to ``trainer.steps``, then evaluate; returns where everything went."""
        from tqdm.auto import tqdm

        trainer = self.config.trainer
        main = self.world.main  # only process 0 logs, samples, checkpoints and evaluates
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / CONFIG_FILE).write_text(config_to_toml(self.config), encoding="utf-8")
        started = time.perf_counter()
        if self.step == 0:
            warmed = self.objective.warm_start(self.nets, self.dataset, seed=self.config.experiment.seed)
            if warmed:
                log.info("warm start: %s", ", ".join(f"{k} {v:.4g}" for k, v in warmed.items()))
        # The progress bar and the TensorBoard writer are closed whatever ends the run (an error included).
        with contextlib.ExitStack() as closing:
            self.writer = self._tensorboard() if main else None
            if self.writer is not None:
                closing.callback(self.writer.close)
            self.bar = closing.enter_context(tqdm(total=trainer.steps, initial=self.step, unit="step",
                                                  desc=self.config.experiment.name,
                                                  disable=not (self.progress and main), dynamic_ncols=True))
            stop = closing.enter_context(StopSignals())
            callbacks = self.callbacks if main else []
            for callback in callbacks:
                callback.start(self)
            sampler = self._sampler()
            for raw in self._loader(sampler):
                self._set_learning_rates()
                self._check_batch(raw)
                with randomness.per_sample_streams(self.config.experiment.seed, self.step, sampler.positions()):
                    terms = self._guarded_step(raw)
                logged, stopping = self._logged(terms, stop.received is not None)
                self.step += 1
                self.bar.update(1)
                for callback in callbacks:
                    callback.after_step(self, logged)
                # A signal that came during the callbacks stops here too; with several processes, at the next
                # step, when all of them know of it (the flag travels with the next step's loss terms).
                if stopping or (not self.world.active and stop.received is not None):
                    self._preempted(stop.received or signal.SIGTERM)
            for callback in callbacks:
                callback.end(self)
            self.bar = None
        distributed.barrier()  # the others wait for process 0's last checkpoint and evaluation
        return RunResult(run_dir=self.run_dir, step=self.step, metrics=self.evaluation.last,
                         seconds=time.perf_counter() - started)

    def _preempted(self, signum: int) -> None:
        """Every process stops after the same step; process 0 writes its checkpoint first."""
        path = checkpoint.checkpoint_path(self.run_dir, self.step)
        if self.world.main:
            path = self._checkpoint_at_this_step()
        distributed.barrier()
        raise Preempted(signum, self.step, path)

    def _check_batch(self, raw: Mapping[str, torch.Tensor]) -> None:
        """A batch with NaN or infinite values stops training here, naming the clips, before it reaches the
        weights (every process stops: one's share of the batch is enough)."""
        bad = {key: value for key, value in raw.items()
               if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()}
        if not distributed.any_process(bool(bad), self.world, self.device):
            return
        if not bad:
            raise TrainingError(f"step {self.step + 1}: another process's share of the batch holds NaN or infinite "
                                "values; its error names the clips")
        rows = sorted({row for value in bad.values() for row in
                       torch.nonzero(~torch.isfinite(value.flatten(1)).all(1)).flatten().tolist()})
        indices = self._sampler().share(self.step)
        last = self._last_checkpoint()
        raise TrainingError(
            f"step {self.step + 1}: the batch holds NaN or infinite values in {', '.join(sorted(bad))} (dataset "
            f"'{self.config.data.name}', clips {', '.join(str(indices[row]) for row in rows)}); fix or remove those "
            f"clips; {f'the last good checkpoint is {last}' if last else 'no checkpoint was written yet'}")

    def _guarded_step(self, raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step; whatever stops it (a plugin's bug, the machine) is said with what survives."""
        try:
            return self.train_step(raw)
        except TrainingError:
            raise
        except Exception as error:
            last = self._last_checkpoint()
            log.error("step %d: training stopped by %s: %s; %s", self.step + 1, type(error).__name__, error,
                      f"the last good checkpoint is {last}: continue with `pgvg run --resume {self.run_dir}` once "
                      "fixed" if last else "no checkpoint was written yet")
            raise

    def evaluate(self) -> dict[str, Any]:
        """Every configured metric on the evaluation split now (what the loop does at the end)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return self.evaluation.evaluate(self)

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is a dependency, but keep training if it is broken
            log.warning("tensorboard is not importable; scalars go to metrics.jsonl only")
            return None
        return SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=self.step or None)

    def add_scalars(self, values: Mapping[str, float]) -> None:
        """TensorBoard scalars at this step (nothing when TensorBoard is not available or not open)."""
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, self.step)

    # --------------------------------------------------------------------------------------- checkpoints

    def _last_checkpoint(self) -> Path | None:
        found = checkpoint.list_checkpoints(self.run_dir)
        return found[-1] if found else None

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly (and what :func:`pgvg_core.training.run.load_run` reads)."""
        return {
            "step": self.step,
            "nets": {role: net.state_dict() for role, net in self.nets.items()},
            "optimizers": {role: opt.state_dict() for role, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "callbacks": {callback.name: callback.state_dict() for callback in self.callbacks},
            "data": attrs.asdict(self.data),
            "config": config_to_toml(self.config),
            "pgvg_version": __version__,
            "world_size": self.world.size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        try:
            for role, net in self.nets.items():
                net.load_state_dict(state["nets"][role])
            for role, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][role])
        except (KeyError, RuntimeError) as error:
            raise PgvgError(f"checkpoint does not fit this config's networks: {error}") from None
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for callback in self.callbacks:
            callback.load_state_dict(state.get("callbacks", {}).get(callback.name, {}))
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        saved = int(state.get("world_size", 1))
        if saved != self.world.size:
            log.info("resuming step %d with %d process(es) where the run had %d: the same global batch, data "
                     "order and per-sample noise; gradients summed in another order make it equal within "
                     "rounding, not bit for bit", self.step, self.world.size, saved)

    def _checkpoint_at_this_step(self) -> Path:
        existing = checkpoint.checkpoint_path(self.run_dir, self.step)
        return existing if existing.exists() else self.save_checkpoint()

    def save_checkpoint(self) -> Path:
        path = checkpoint.checkpoint_path(self.run_dir, self.step)
        try:
            checkpoint.save_atomic(self.state_dict(), path)
        except OSError as error:  # a full disk, a quota, a vanished network share
            last = self._last_checkpoint()
            raise CheckpointError(
                f"{path}: cannot write the checkpoint ({error.strerror or error}); nothing was replaced, "
                f"{f'the last good checkpoint is {last}' if last else 'no checkpoint was written yet'}; free "
                f"space (or move the run) and continue with `pgvg run --resume {self.run_dir}`") from None
        checkpoint.prune(self.run_dir, self.config.trainer.keep_checkpoints)
        return path

    @classmethod
    def train_or_continue(cls, config: ExperimentConfig, run_dir: str | Path, *, overrides: Sequence[str] = (),
                          progress: bool = True) -> Path:
        """Train ``config`` into ``run_dir``: a run already at ``config.trainer.steps`` is reused, an interrupted
        (or shorter) one continues from its last checkpoint, its saved config with ``overrides``."""
        run_dir = Path(run_dir)
        found = checkpoint.list_checkpoints(run_dir)
        if not found:
            cls(config, run_dir, progress=progress).fit()
            return run_dir
        step = checkpoint.load(found[-1])["step"]
        if step >= config.trainer.steps:
            log.info("reusing the trained run in %s (step %d)", run_dir, step)
            return run_dir
        log.info("resuming %s from step %d to %d", run_dir, step, config.trainer.steps)
        cls.resume(run_dir, tuple(overrides), progress=progress).fit()
        return run_dir

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: tuple[str, ...] = (), *, from_checkpoint: str | None = None,
               **kwargs: Any) -> "Trainer":
        """A trainer that continues the run in ``run_dir`` from its latest checkpoint (or ``from_checkpoint``,
        a file name in its ``checkpoints/``)."""
        from pgvg_core.training.experiment import default_registries

        run_dir = Path(run_dir)
        state = checkpoint.for_resume(run_dir, from_checkpoint)
        config = saved_config(run_dir, state, overrides, registries=default_registries(kwargs.get("registries")))
        if state["step"] >= config.trainer.steps:
            log.info("%s is already at step %d of %d; raise trainer.steps with --set to train longer",
                     run_dir, state["step"], config.trainer.steps)
        return cls(config, run_dir, _resume_state=state, **kwargs)
