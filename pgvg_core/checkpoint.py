"""Checkpoints: written atomically (temporary file, fsync, rename), the last N kept, loaded with weights_only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from pgvg_core.errors import CheckpointError
from pgvg_core.files import atomic_write

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d+)\.pt$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step:07d}.pt"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_atomic(state: dict[str, Any], path: Path) -> None:
    atomic_write(path, lambda file: torch.save(state, file))


def prune(run_dir: Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint's state; a file that is not one is a :class:`CheckpointError` naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a zip archive, unpickling refused...
        raise CheckpointError(
            f"{path}: cannot load checkpoint ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            "delete it to resume from the one before"
        ) from None
    if not isinstance(state, dict) or "step" not in state or "nets" not in state:
        raise CheckpointError(f"{path}: not a pgvg checkpoint (no 'step' / 'nets')")
    return state


def latest(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder not found: {run_dir}")
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(
            f"{run_dir}: no checkpoint ({CHECKPOINT_DIR}/step-*.pt); start the run with `pgvg run CONFIG --out "
            f"{run_dir}` first"
        )
    return found[-1]
