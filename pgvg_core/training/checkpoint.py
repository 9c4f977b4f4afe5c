"""Checkpoints: written atomically (temporary file, fsync, rename), the last N kept, loaded with weights_only."""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from pgvg_core.errors import CheckpointError
from pgvg_core.media.files import atomic_write

log = logging.getLogger("pgvg.checkpoint")

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


def stale_writes(run_dir: Path) -> list[Path]:
    """Temporary files of checkpoint writes that never finished (the process was killed mid-write)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    return sorted(folder.glob(".step-*.tmp")) if folder.is_dir() else []


def save_atomic(state: dict[str, Any], path: Path) -> None:
    atomic_write(path, lambda file: torch.save(state, file))


def prune(run_dir: Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint's state; a file that is not one is a :class:`CheckpointError` naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" not in str(error).lower():  # not a refused object: bytes that are no pickle at all
            raise CheckpointError(f"{path}: cannot load checkpoint (damaged: not a checkpoint's bytes)") from None
        # weights_only=True refused to import a Python object it names ("unsupported GLOBAL"): nothing ran.
        raise CheckpointError(
            f"{path}: refused: it holds Python objects, not only tensors and plain data (a file crafted to run "
            "code when loaded, or not written by pgvg); pgvg loads checkpoints with weights_only=True, so none "
            "of it ran") from None
    except Exception as error:  # truncated, not a zip archive...
        raise CheckpointError(
            f"{path}: cannot load checkpoint ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        ) from None
    if not isinstance(state, dict) or "step" not in state or "nets" not in state:
        raise CheckpointError(f"{path}: not a pgvg checkpoint (no 'step' / 'nets')")
    return state


def for_resume(run_dir: Path, name: str | None = None) -> dict[str, Any]:
    """The state a resumed run starts from: the latest checkpoint, or ``name`` (``step-0000200.pt``). A
    checkpoint that does not load names the one before it; starting from an earlier one sets the later ones
    aside (renamed ``*.pt.set-aside``), so that the next resume does not pick them up again."""
    run_dir = Path(run_dir)
    path = latest(run_dir) if name is None else _named(run_dir, name)
    try:
        state = load(path)
    except CheckpointError as error:
        earlier = [p for p in list_checkpoints(run_dir) if p.name < path.name]
        hint = (f"resume from the one before: pgvg run --resume {run_dir} --from {earlier[-1].name}" if earlier
                else "there is no earlier checkpoint to resume from")
        raise CheckpointError(f"{error}; {hint}") from None
    for later in (p for p in list_checkpoints(run_dir) if p.name > path.name):
        later.rename(later.with_name(later.name + ".set-aside"))
        log.warning("resuming from %s: %s set aside as %s.set-aside", path.name, later.name, later.name)
    return state


def _named(run_dir: Path, name: str) -> Path:
    found = {p.name: p for p in list_checkpoints(run_dir)}
    if Path(name).name not in found:
        raise CheckpointError(f"--from {name}: no such checkpoint in {run_dir / CHECKPOINT_DIR}; there: "
                              f"{', '.join(found) or 'none'}")
    return found[Path(name).name]


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
