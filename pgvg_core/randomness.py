"""Random streams: seeding them, saving and restoring them, and keeping a caller's streams as they were.

Only the training loop owns the process-wide streams (Python's ``random``, NumPy's, torch's on the CPU and on
CUDA). Everything else — building an experiment, loading a run, sampling pictures, evaluating — draws inside
:func:`seeded_streams`, which leaves them exactly as it found them.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Iterator
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
