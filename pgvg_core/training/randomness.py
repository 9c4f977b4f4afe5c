"""Random streams: seeding them, saving and restoring them, and keeping a caller's streams as they were.

Only the training loop owns the process-wide streams (Python's ``random``, NumPy's, torch's on the CPU and on
CUDA). Everything else — building an experiment, loading a run, sampling pictures, evaluating — draws inside
:func:`seeded_streams`, which leaves them exactly as it found them.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derived_seed(seed: int, purpose: str) -> int:
    """A seed for one purpose (``"init"``, ``"train"``, ``"samples"``, ``"evaluate"``) of an experiment seed:
    separate streams, so that the noise of training never replays the draws that initialised the weights."""
    digest = hashlib.sha256(f"pgvg:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**63


@contextlib.contextmanager
def streams_kept(device: torch.device | str | None = None) -> Iterator[None]:
    """Every global random stream (Python's, NumPy's, torch's CPU one and ``device``'s if it is a CUDA device)
    as it was before, whatever happens inside."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextlib.contextmanager
def seeded_streams(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Every global stream seeded with ``seed`` inside and as it was afterwards (:func:`streams_kept`)."""
    with streams_kept(device):
        seed_everything(seed)
        yield


def rng_state() -> dict[str, Any]:
    """Every random generator's state, in types that ``torch.load(weights_only=True)`` accepts."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------- per-sample streams
#
# A training step's random draws for a sample (its noise, its abnormal pose, its augmentation, its target
# frame) come from that sample's own stream, seeded by (seed, step, the sample's position in the global
# batch). Which process trains the sample then changes nothing: 2 processes with half the batch each draw
# what 1 process with the whole batch draws. Objectives, networks and augmentations draw through the
# functions below; outside a training step (sampling, evaluation, inference) they use torch's global stream.


def sample_seed(seed: int, step: int, position: int) -> int:
    return derived_seed(seed, f"sample:{step}:{position}")


class SampleStreams:
    """One ``torch.Generator`` per sample of this process's share of a global batch."""

    def __init__(self, seed: int, step: int, positions: Sequence[int]) -> None:
        self.generators = [torch.Generator().manual_seed(sample_seed(seed, step, p)) for p in positions]

    def __len__(self) -> int:
        return len(self.generators)

    def draw(self, rows: int, make: Callable[[torch.Generator], torch.Tensor]) -> torch.Tensor:
        """``rows`` rows, each ``make(generator)``: the batch's own samples, or ``k`` draws of each laid out as
        ``x.repeat(k, ...)`` lays out a batch repeated ``k`` times (row ``d * n + b`` is draw ``d`` of sample b)."""
        count = len(self.generators)
        if rows % count:
            raise ValueError(f"a draw of {rows} rows for a batch of {count} samples: rows must be a multiple")
        per_sample = [torch.stack([make(g) for _ in range(rows // count)]) for g in self.generators]  # [k, ...]
        return torch.stack(per_sample, dim=1).flatten(0, 1)  # [k * n, ...], draw-major


_STREAMS: contextvars.ContextVar[SampleStreams | None] = contextvars.ContextVar("pgvg_sample_streams", default=None)


@contextlib.contextmanager
def per_sample_streams(seed: int, step: int, positions: Sequence[int]) -> Iterator[SampleStreams]:
    """Inside, :func:`randn`, :func:`rand`, :func:`randint`, :func:`randperm` and :func:`sample_params` draw
    each sample's values from its own stream."""
    token = _STREAMS.set(SampleStreams(seed, step, positions))
    try:
        yield _STREAMS.get()
    finally:
        _STREAMS.reset(token)


def _drawn(rows: int, make: Callable[[torch.Generator], torch.Tensor], device: Any) -> torch.Tensor:
    """``rows`` rows from the active per-sample streams (the callers draw from torch's stream outside a step)."""
    return _STREAMS.get().draw(rows, make).to(device)


def randn(rows: int, *shape: int, device: Any = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``[rows, *shape]`` standard normal; in a training step, row ``i`` from its sample's stream."""
    if _STREAMS.get() is None:
        return torch.randn(rows, *shape, device=device, dtype=dtype)
    return _drawn(rows, lambda g: torch.randn(shape, generator=g), device).to(dtype or torch.get_default_dtype())


def rand(rows: int, *shape: int, device: Any = None) -> torch.Tensor:
    """``[rows, *shape]`` uniform in [0, 1)."""
    if _STREAMS.get() is None:
        return torch.rand(rows, *shape, device=device)
    return _drawn(rows, lambda g: torch.rand(shape, generator=g), device)


def randint(low: int, high: int, rows: int, *, device: Any = None) -> torch.Tensor:
    """``[rows]`` integers in [low, high)."""
    if _STREAMS.get() is None:
        return torch.randint(low, high, (rows,), device=device)
    return _drawn(rows, lambda g: torch.randint(low, high, (), generator=g), device)


def randperm(rows: int, n: int, *, device: Any = None) -> torch.Tensor:
    """``[rows, n]``: a permutation of ``range(n)`` per row."""
    if _STREAMS.get() is None:
        return torch.stack([torch.randperm(n) for _ in range(rows)]).to(device)
    return _drawn(rows, lambda g: torch.randperm(n, generator=g), device)


def sample_params(augmentation: Any, shape: Sequence[int]) -> Any:
    """``augmentation.sample(shape)``; in a training step each sample's parameters from its own stream (the
    augmentation drawn for a batch of one, per sample, and the parameters put together again)."""
    streams = _STREAMS.get()
    if streams is None:
        return augmentation.sample(torch.Size(shape))
    if shape[0] != len(streams):
        raise ValueError(f"augmentation parameters for {shape[0]} samples in a step of {len(streams)}")
    return _joined([augmentation.sample(torch.Size((1, *shape[1:])), g) for g in streams.generators])


def augment(augmentation: Any, x: torch.Tensor) -> torch.Tensor:
    """``augmentation`` applied to ``x`` with :func:`sample_params`."""
    return augmentation.apply(x, sample_params(augmentation, x.shape))


def _joined(parts: list[Any]) -> Any:
    """Per-sample parameters (each drawn for a batch of one) as one batch's: tensors whose first dimension
    is the batch (of 1) are concatenated; anything else is the same for every sample and kept once."""
    first = parts[0]
    if isinstance(first, dict):
        return {key: _joined([part[key] for part in parts]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_joined(list(items)) for items in zip(*parts))
    if isinstance(first, torch.Tensor) and first.ndim >= 1 and first.shape[0] == 1:
        return torch.cat(parts)
    return first
