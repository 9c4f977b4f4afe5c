"""The pose cache: a clip's keypoints extracted once per (clip bytes, pose-source settings), one ``.npz`` file
each, written atomically, so extraction runs once and an interrupted run keeps what it finished. Used by the
``video-folder`` dataset and by ``pgvg animate --drive`` (:mod:`pgvg_core.app.motion_transfer`, which keeps the
person it tracks in files of its own beside these)."""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from pgvg_core.errors import DataError
from pgvg_core.interfaces import PoseSource
from pgvg_core.media.files import atomic_write, cache_root
from pgvg_core.media.video import frame_files, read_video
from pgvg_core.poses.skeleton import skeleton_by_name

log = logging.getLogger(__name__)

# What np.load raises on a cache file that is not a whole .npz archive (a disk error, a file from elsewhere).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def default_cache_dir() -> Path:
    return cache_root() / "poses"


def clip_hash(path: Path) -> str:
    """sha256 of a video file's bytes, or of a frame folder's file names and bytes."""
    digest = hashlib.sha256()
    files = frame_files(path) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode() if path.is_dir() else b"")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda file: np.savez(file, **arrays))


def read_cached(cached: Path, clip: Path) -> np.ndarray | None:
    """The keypoints of a cache file, or None where there is none or it is unreadable (said, then redone)."""
    if not cached.exists():
        return None
    try:
        with np.load(cached) as archive:
            return archive["keypoints"]
    except UNREADABLE:
        log.warning("pose cache file %s is unreadable; extracting %s again", cached, clip)
        return None


class PoseCache:
    """Pose files keyed by (clip hash, pose-source settings)."""

    def __init__(self, directory: Path, source: PoseSource) -> None:
        self.directory = Path(directory)
        self.source = source
        settings = json.dumps(dict(source.settings()), sort_keys=True)
        self.settings_hash = hashlib.sha256(settings.encode()).hexdigest()[:16]
        self._hashes: dict[Path, str] = {}

    def hash_of(self, clip: Path) -> str:
        # Hashing reads the whole clip: once per clip, not once per item.
        if clip not in self._hashes:
            self._hashes[clip] = clip_hash(clip)[:32]
        return self._hashes[clip]

    def path_for(self, clip: Path) -> Path:
        return self.directory / f"{self.hash_of(clip)}-{self.settings_hash}.npz"

    def get(self, clip: Path, frames: np.ndarray | None = None) -> np.ndarray:
        """Keypoints ``[N, K, 3]`` in the clip's own pixels for every frame (``K`` that of the source's
        skeleton), extracting once."""
        cached = self.path_for(clip)
        found = read_cached(cached, clip)
        if found is not None:
            return found
        if frames is None:
            frames = read_video(clip)
        keypoints = np.asarray(self.source(frames, clip_path=clip), np.float32)
        skeleton = getattr(self.source, "skeleton", "body-18")
        joints = skeleton_by_name(skeleton).num_keypoints
        if keypoints.shape != (len(frames), joints, 3):
            raise DataError(f"{clip}: pose source returned keypoints of shape {list(keypoints.shape)}; expected "
                            f"[{len(frames)}, {joints}, 3] (skeleton '{skeleton}')")
        atomic_save_npz(cached, keypoints=keypoints)
        return keypoints
