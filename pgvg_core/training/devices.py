"""Where and in what precision training runs: the device, ``precision = "auto"`` (bf16 where it is faster,
measured), and channels-last memory layout."""

from __future__ import annotations

import json
import logging
import platform
import time

import torch
from torch import nn

from pgvg_core.blocks import CHANNELS_LAST
from pgvg_core.errors import ConfigError
from pgvg_core.media.files import atomic_write
from pgvg_core.training import distributed

log = logging.getLogger("pgvg.trainer")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)



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
