"""The pose cache: a clip's keypoints extracted once per (clip bytes, pose-source settings), one ``.npz`` file
each, written atomically, so extraction runs once and an interrupted run keeps what it finished. Used by the
``video-folder`` dataset (one person per frame) and by ``pgvg animate --drive`` (every person of each frame,
``people=True``, to track the one that drives)."""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from pgvg_core.errors import DataError
from pgvg_core.files import atomic_write, cache_root
from pgvg_core.interfaces import PoseSource
from pgvg_core.skeleton import skeleton_by_name
from pgvg_core.video import frame_files, read_video

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


class PoseCache:
    """Pose files keyed by (clip hash, pose-source settings). With ``people``, every person the source finds
    in each frame (``source.people``), ``[N, P, K, 3]`` zero-padded, and the frames' size."""

    def __init__(self, directory: Path, source: PoseSource, *, people: bool = False) -> None:
        self.directory = Path(directory)
        self.source = source
        self.people = people
        settings = {**dict(source.settings()), **({"people": True} if people else {})}
        self.settings_hash = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self._hashes: dict[Path, str] = {}

    def hash_of(self, clip: Path) -> str:
        # Hashing reads the whole clip: once per clip, not once per item.
        if clip not in self._hashes:
            self._hashes[clip] = clip_hash(clip)[:32]
        return self._hashes[clip]

    def path_for(self, clip: Path) -> Path:
        return self.directory / f"{self.hash_of(clip)}-{self.settings_hash}.npz"

    def get(self, clip: Path, frames: np.ndarray | None = None) -> np.ndarray:
        """Keypoints ``[N, K, 3]`` (``[N, P, K, 3]`` with ``people``) in the clip's own pixels for every frame
        (``K`` that of the source's skeleton), extracting once."""
        cached = self._read(clip)
        if cached is not None:
            return cached["keypoints"]
        if frames is None:
            frames = read_video(clip)
        keypoints = self._people(frames, clip) if self.people else self._one_person(frames, clip)
        atomic_save_npz(self.path_for(clip), keypoints=keypoints, size=np.array(frames.shape[1:3]))
        return keypoints

    def frame_size(self, clip: Path) -> tuple[int, int]:
        """(height, width) of the clip's frames, as cached with its poses."""
        cached = self._read(clip)
        if cached is None or "size" not in cached:
            return tuple(read_video(clip, frames=[0]).shape[1:3])
        return tuple(int(v) for v in cached["size"])

    def _read(self, clip: Path) -> dict[str, np.ndarray] | None:
        cached = self.path_for(clip)
        if not cached.exists():
            return None
        try:
            with np.load(cached) as archive:
                return {name: archive[name] for name in archive.files}
        except UNREADABLE:
            log.warning("pose cache file %s is unreadable; extracting %s again", cached, clip)
            return None

    def _joints(self) -> tuple[str, int]:
        skeleton = getattr(self.source, "skeleton", "body-18")
        return skeleton, skeleton_by_name(skeleton).num_keypoints

    def _one_person(self, frames: np.ndarray, clip: Path) -> np.ndarray:
        keypoints = np.asarray(self.source(frames, clip_path=clip), np.float32)
        skeleton, joints = self._joints()
        if keypoints.shape != (len(frames), joints, 3):
            raise DataError(f"{clip}: pose source returned keypoints of shape {list(keypoints.shape)}; expected "
                            f"[{len(frames)}, {joints}, 3] (skeleton '{skeleton}')")
        return keypoints

    def _people(self, frames: np.ndarray, clip: Path) -> np.ndarray:
        from tqdm.auto import tqdm

        if not self.source.several_people:  # one person a frame: the clip's poses as the source gives them
            return self._one_person(frames, clip)[:, None]
        skeleton, joints = self._joints()
        found = []
        for frame in tqdm(frames, desc=f"poses of {clip.name}", unit="frame", leave=False):
            people = np.asarray(self.source.people(frame, path=clip), np.float32).reshape(-1, joints, 3)
            found.append(people)
        most = max(1, max(len(p) for p in found))
        out = np.zeros((len(frames), most, joints, 3), np.float32)
        for t, people in enumerate(found):
            out[t, : len(people)] = people
        return out
