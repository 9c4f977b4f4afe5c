"""Files: atomic writes, content hashes, and pgvg's cache folder."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # pgvg_core/: experiments/, suites/ and models/ ship in it


def shipped(*parts: str) -> Path:
    """A file or folder that ships inside pgvg (``shipped("suites")``), wherever the package is installed."""
    return PACKAGE_DIR.joinpath(*parts)


def cache_root() -> Path:
    """``$PGVG_CACHE_DIR``, else ``$XDG_CACHE_HOME/pgvg``, else ``~/.cache/pgvg``."""
    explicit = os.environ.get("PGVG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pgvg"


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write through ``write(file)`` to a temporary file beside ``path``, fsync, then rename over ``path``:
    readers never see half a file, and an interrupted write leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _fsync_folder(path.parent)  # the rename itself survives a power cut
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform that cannot open folders (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
