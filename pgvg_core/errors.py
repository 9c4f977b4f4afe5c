"""User-facing errors: each says what went wrong, where, and how to fix it. The CLI exits 2 on them."""

from __future__ import annotations

import signal
from pathlib import Path


class PgvgError(Exception):
    """Base of every error caused by user input (a config, a file, an option)."""

    exit_code = 2


class ConfigError(PgvgError):
    """A config file or override that cannot be used; the message names the file and the TOML path."""

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.file = file
        self.path = path
        where = ", ".join(part for part in (file, f"at '{path}'" if path else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class PluginError(PgvgError):
    """A plugin that failed to import or to register (fatal only with --strict)."""


class DataError(PgvgError):
    """An input file or folder that cannot be read; the message names the file."""


class CheckpointError(PgvgError):
    """A run folder without a usable checkpoint."""


class Preempted(Exception):
    """A stop signal (SIGTERM: a scheduler preempting the job; SIGINT: Ctrl-C) ended training at a step
    boundary, after a checkpoint of that step; ``pgvg run --resume`` continues exactly. The process exits with
    ``128 + signal`` (143, 130), as a process killed by that signal would."""

    def __init__(self, signum: int, step: int, checkpoint_path: Path) -> None:
        self.signum, self.step, self.checkpoint_path = signum, step, checkpoint_path
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: stopped after step {step}, checkpoint {checkpoint_path}; continue "
                         f"with `pgvg run --resume {checkpoint_path.parent.parent}`")
