"""User-facing errors: each says what went wrong, where, and how to fix it. The CLI exits 2 on them."""

from __future__ import annotations


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
