"""``video-folder``: real clips in the UCF101 / KTH layout, ``root/<class>/<clip>.avi|.mp4`` or frame folders.

Poses come from a pose source and are cached on disk, one file per clip, keyed by a hash of the clip's bytes
and of the source's settings, written atomically: extraction runs once, and an interrupted run keeps what
it finished. The frames a dataset reads of each clip (its window, letterboxed to its resolution, uint8) are
cached the same way, keyed by the clip's hash and the window's settings, in the same pass: decoding is what
a video dataset costs, and it then happens once per clip and settings, not once per read.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pgvg_core.errors import DataError
from pgvg_core.interfaces import Dataset, PoseSource
from pgvg_core.media.files import cache_root
from pgvg_core.media.video import frame_files, is_video, letterbox, read_video
from pgvg_core.poses.cache import UNREADABLE, PoseCache, atomic_save_npz, clip_hash, default_cache_dir  # noqa: F401

log = logging.getLogger(__name__)

SPLITS = ("all", "train", "test")
CROPS = ("letterbox", "person", "face")
#: The skeleton each person-centred crop frames, and the built-in data whose framing it copies.
CROP_SKELETONS = {"person": "body-18", "face": "face-68"}


def default_frame_cache_dir() -> Path:
    return cache_root() / "frames"


class FrameCache:
    """Each clip's window of frames, letterboxed, uint8 ``[T, H, W, 3]``, with the letterbox ``[scale, left,
    top]`` that maps the clip's pixels to them: files keyed by (clip hash, resolution, frames, stride)."""

    def __init__(self, directory: Path, hash_of: Callable[[Path], str], resolution: int, frames: int,
                 stride: int, crop: str = "letterbox") -> None:
        self.directory = Path(directory)
        self.hash_of = hash_of  # the pose cache's: a clip is hashed once
        self.settings = f"{resolution}px-{frames}x{stride}" + ("" if crop == "letterbox" else f"-{crop}")

    def path_for(self, clip: Path) -> Path:
        return self.directory / f"{self.hash_of(clip)}-{self.settings}.npz"

    def get(self, clip: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """The cached frames and letterbox, or None where there are none (or the file is unreadable)."""
        cached = self.path_for(clip)
        if not cached.exists():
            return None
        try:
            with np.load(cached) as archive:
                return archive["frames"], archive["box"]
        except UNREADABLE:
            log.warning("frame cache file %s is unreadable; decoding %s again", cached, clip)
            return None

    def put(self, clip: Path, frames: np.ndarray, box: np.ndarray) -> None:
        atomic_save_npz(self.path_for(clip), frames=frames, box=box)


class VideoFolder(Dataset):
    """Real videos in class folders (UCF101 / KTH layout); poses from a pose source and the frames read
    (letterboxed) cached on disk (``cache_frames``), both made once when the dataset is made; a clip's frames,
    once read, kept in memory up to ``keep_mb`` (0: read them from the cache, or decode them, at every read).

    ``crop``: ``"letterbox"`` (the whole frame, padded square), or ``"person"`` / ``"face"``: a square that
    follows the person (the pose source's, tracked; lost frames filled, see :mod:`pgvg_core.app.motion_transfer`),
    one size per clip, smoothed over time, framing them as the built-in data frames people (synthetic-actions'
    torso length and hip position, synthetic-faces' eyes-to-mouth length and eye midpoint), so a person a few
    pixels tall in a street clip fills the frame as a model trained on pgvg's data expects. A clip whose person
    is lost in more than ``max_lost`` of its frames is left out with a warning naming it."""

    splits = SPLITS

    def __init__(
        self,
        *,
        root: str,
        split: str = "all",
        resolution: int = 64,
        frames: int = 16,
        stride: int = 2,
        pose_source: str = "keypoints-file",
        pose_params: dict[str, Any] | None = None,
        cache_dir: str | None = None,
        test_fraction: float = 0.2,
        progress: bool = True,
        keep_mb: float = 512,
        cache_frames: bool = True,
        crop: str = "letterbox",
        max_lost: float = 0.25,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if resolution < 16 or resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16, got {resolution}")
        if frames < 1 or stride < 1:
            raise ValueError("frames and stride must be at least 1")
        if keep_mb < 0:
            raise ValueError(f"keep_mb must be >= 0 (0: keep no decoded clip), got {keep_mb}")
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
        if not 0 <= max_lost < 1:
            raise ValueError(f"max_lost must be in [0, 1) (the share of a clip's frames the person may be lost in), "
                             f"got {max_lost}")
        self.crop, self.max_lost = crop, max_lost
        self.root = Path(root).expanduser()
        self.resolution, self.frames, self.stride = resolution, frames, stride
        self.classes, all_clips = self._scan()
        self.clips = [c for c in all_clips if self._in_split(c[0], split, test_fraction)]
        if not self.clips:
            raise DataError(f"{self.root}: no clips in split '{split}' (of {len(all_clips)} clips)")
        self.pose_source = self._pose_source(pose_source, pose_params or {})
        self.skeleton = getattr(self.pose_source, "skeleton", "body-18")  # the keypoints are the pose source's
        if crop != "letterbox" and CROP_SKELETONS[crop] != self.skeleton:
            raise DataError(f"data.params.crop = {crop!r} frames '{CROP_SKELETONS[crop]}' keypoints; pose source "
                            f"'{pose_source}' gives '{self.skeleton}' (use crop = "
                            f"{'face' if self.skeleton == 'face-68' else 'person'!r}, or another pose source)")
        self._framing = _builtin_framing(crop, resolution) if crop != "letterbox" else None
        self.cache = PoseCache(Path(cache_dir) if cache_dir else default_cache_dir(), self.pose_source)
        frames_dir = Path(cache_dir) / "frames" if cache_dir else default_frame_cache_dir()
        self.frame_cache = (FrameCache(frames_dir, self.cache.hash_of, resolution, frames, stride, crop)
                            if cache_frames else None)
        # Clips read once are kept (letterboxed, uint8) up to keep_mb: training reads every clip once per epoch,
        # and memory is faster still than the frame cache's files.
        self.keep_bytes = int(keep_mb * 2**20)
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._kept_bytes = 0
        self._prepare(progress)

    def _scan(self) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
        if not self.root.is_dir():
            raise DataError(f"video folder not found: {self.root} (expected root/<class>/<clip>.avi|.mp4)")
        class_dirs = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise DataError(f"{self.root}: no class folders; expected root/<class>/<clip>.avi|.mp4 or frame folders")
        clips: list[tuple[Path, int]] = []
        for label, folder in enumerate(class_dirs):
            found = [p for p in sorted(folder.iterdir()) if is_video(p) or (p.is_dir() and frame_files(p))]
            if not found:
                raise DataError(f"{folder}: class folder has no clips (videos or folders of frames)")
            clips += [(p, label) for p in found]
        return tuple(p.name for p in class_dirs), clips

    @staticmethod
    def _in_split(clip: Path, split: str, test_fraction: float) -> bool:
        if split == "all":
            return True
        # A stable hash of the clip's name: the same clip is always in the same split.
        is_test = (zlib.crc32(clip.name.encode()) % 1000) < test_fraction * 1000
        return is_test == (split == "test")

    @staticmethod
    def _pose_source(name: str, params: dict[str, Any]) -> PoseSource:
        from pgvg_core.config import ComponentSpec, build  # noqa: PLC0415

        source = build("pose_sources", ComponentSpec(name=name, params=params), path="data.params.pose_source")
        if getattr(source, "provides_ground_truth", False):
            raise DataError("pose source 'ground-truth' has no poses for real videos; use 'keypoints-file' "
                            "or 'mediapipe' (data.params.pose_source)")
        return source

    def _prepare(self, progress: bool) -> None:
        """Extract (or find cached) the poses of every clip and cache the frames the dataset reads of it, with
        a progress bar; a clip that needs both is decoded once."""
        from tqdm.auto import tqdm  # noqa: PLC0415

        todo = [clip for clip, _ in self.clips if not self._is_prepared(clip)]
        if todo and self.frame_cache is not None:
            megabytes = len(todo) * self.frames * self.resolution**2 * 3 / 2**20
            log.info("%s: caching the frames of %d clip(s) at %d px in %s (~%.0f MB; cache_frames=false to "
                     "decode at every read instead)", self.root, len(todo), self.resolution,
                     self.frame_cache.directory, megabytes)
        unreadable = {}
        for clip in tqdm(todo, desc=f"clips (poses: {type(self.pose_source).__name__})", unit="clip",
                         disable=not progress):
            try:
                self._prepare_clip(clip)
            except DataError as error:  # a truncated or damaged video: one clip, not the whole dataset
                unreadable[clip] = str(error)
        if unreadable:
            self.clips = [(clip, label) for clip, label in self.clips if clip not in unreadable]
            log.warning("%s: %d clip(s) left out, they could not be decoded, their poses extracted or their person followed:\n  %s",
                        self.root, len(unreadable), "\n  ".join(unreadable.values()))
            if not self.clips:
                raise DataError(f"{self.root}: no readable clip in split; each failed (first: "
                                f"{next(iter(unreadable.values()))})")

    def _is_prepared(self, clip: Path) -> bool:
        frames_cached = self.frame_cache is None or self.frame_cache.path_for(clip).exists()
        return frames_cached and self.cache.path_for(clip).exists()

    def _prepare_clip(self, clip: Path) -> None:
        video = None if self.cache.path_for(clip).exists() else read_video(clip)  # [N, H, W, 3]
        keypoints = self.cache.get(clip, video)
        chosen = self._window(len(keypoints))
        poses = self._followed(clip, keypoints[chosen])  # a clip whose person is lost too long is left out here
        if self.frame_cache is not None and not self.frame_cache.path_for(clip).exists():
            window = read_video(clip, frames=chosen.tolist()) if video is None else video[chosen]
            self.frame_cache.put(clip, *self._framed(window, poses))

    def _followed(self, clip: Path, keypoints: np.ndarray) -> np.ndarray:
        """The window's poses ``[T, K, 3]`` as the dataset gives them: as cached (letterbox), or of the person
        the crop follows (:meth:`_tracked`)."""
        return keypoints if self.crop == "letterbox" else self._tracked(clip, keypoints)

    def _tracked(self, clip: Path, keypoints: np.ndarray) -> np.ndarray:
        """The window's poses ``[T, K, 3]`` of the person followed (tracked, lost frames filled), or a DataError
        naming the clip where the person is lost in more than ``max_lost`` of them."""
        from pgvg_core.app.motion_transfer import fill_lost, track_person
        from pgvg_core.poses.skeleton import skeleton_by_name

        try:
            tracked = track_person([pose[None] for pose in keypoints], skeleton_by_name(self.skeleton))
        except DataError:
            raise DataError(f"{clip}: no person found in the frames read (crop = {self.crop!r})") from None
        filled, lost, _ = fill_lost(tracked)
        if len(lost) > self.max_lost * len(keypoints):
            raise DataError(f"{clip}: the person is lost in {len(lost)} of the {len(keypoints)} frames read (more "
                            f"than max_lost = {self.max_lost}); left out")
        return filled

    def _framed(self, window: np.ndarray, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The window's frames ``[T, R, R, 3]`` as the dataset shows them and the transform of the clip's pixels
        to theirs, ``new = old * scale + offset``: ``[scale, offset_x, offset_y]`` (letterbox) or one per frame
        ``[T, 3]`` (a crop that follows the person of ``poses``, :meth:`_followed`'s)."""
        if self.crop == "letterbox":
            return letterbox(window, self.resolution)
        from pgvg_core.poses.framing import crop_photo, following_crops

        crops = following_crops(poses, self._framing)
        frames = np.stack([crop_photo(frame, crop, self.resolution) for frame, crop in zip(window, crops)])
        # PersonCrop.to_model: new = (old - left + 0.5) * scale - 0.5
        boxes = np.array([[c.scale, (0.5 - c.left) * c.scale - 0.5, (0.5 - c.top) * c.scale - 0.5] for c in crops],
                         np.float32)
        return frames, boxes

    def _window(self, clip_frames: int) -> np.ndarray:
        """The time indices the dataset reads of a clip of ``clip_frames`` frames: ``self.frames`` at the
        stride, centred in the clip; a short clip repeats its last frame."""
        span = (self.frames - 1) * self.stride + 1
        start = max(0, (clip_frames - span) // 2)
        return np.minimum(start + np.arange(self.frames) * self.stride, clip_frames - 1)

    def __len__(self) -> int:
        return len(self.clips)

    def label_of(self, index: int) -> int:
        return int(self.clips[index][1])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self._clip(index)

    def frames_of(self, index: int, frames: Sequence[int]) -> dict[str, torch.Tensor]:
        return self._clip(index, frames)

    def _clip(self, index: int, frames: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
        """Clip ``index``: its ``self.frames`` frames at the stride, or those of them at ``frames``. A clip is
        read whole the first time (from the frame cache, else decoded) and kept while there is room
        (``keep_mb``); without room, read again each time (without the frame cache, decoded only up to the last
        frame asked for, and only those are converted)."""
        kept = self._kept.get(index)
        if kept is None:
            keep = self._kept_bytes + self.frames * self.resolution**2 * 3 <= self.keep_bytes
            try:
                boxed, points = self._decoded(index, None if keep else frames)
            except DataError as error:
                return self._instead_of(index, error, frames)
            if not keep:
                return self._item(index, boxed, points)
            self._kept[index] = kept = (boxed, points)
            self._kept_bytes += boxed.nbytes + points.nbytes
        boxed, points = kept
        if frames is not None:
            pick = np.asarray(frames, dtype=np.int64)
            boxed, points = boxed[pick], points[pick]
        return self._item(index, boxed, points)

    def _decoded(self, index: int, frames: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """Letterboxed frames uint8 ``[T, H, W, 3]`` and their keypoints ``[T, K, 3]`` in those pixels."""
        clip, _ = self.clips[index]
        keypoints = self.cache.get(clip)  # [N, K, 3]; cached when the dataset was made: no decoding here
        chosen = self._window(len(keypoints))
        pick = slice(None) if frames is None else np.asarray(frames, dtype=np.int64)
        window = self._followed(clip, keypoints[chosen])
        if self.frame_cache is None:  # decoded up to the last frame asked for (a following crop needs them all)
            if self.crop == "letterbox":
                boxed, box = letterbox(read_video(clip, frames=chosen[pick].tolist()), self.resolution)
            else:
                boxed, box = self._framed(read_video(clip, frames=chosen.tolist()), window)
                boxed, box = boxed[pick], box[pick]
        else:
            boxed, box = self._cached_frames(clip, chosen, window)
            boxed, box = boxed[pick], (box if box.ndim == 1 else box[pick])
        points = window[pick].copy()
        box = np.broadcast_to(box, (len(points), 3)) if box.ndim == 1 else box  # [T, 3]
        points[..., 0] = points[..., 0] * box[:, :1] + box[:, 1:2]
        points[..., 1] = points[..., 1] * box[:, :1] + box[:, 2:3]
        return boxed, points

    def _cached_frames(self, clip: Path, chosen: np.ndarray, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cached = self.frame_cache.get(clip)
        if cached is None:  # removed or damaged since the dataset was made: decoded and cached again
            cached = self._framed(read_video(clip, frames=chosen.tolist()), poses)
            self.frame_cache.put(clip, *cached)
        return cached

    def _item(self, index: int, boxed: np.ndarray, points: np.ndarray) -> dict[str, torch.Tensor]:
        return {
            "frames": torch.from_numpy(boxed).permute(0, 3, 1, 2).float() / 127.5 - 1.0,  # [T, 3, H, W]
            "keypoints": torch.from_numpy(points.copy()),  # [T, K, 3]; a copy: the kept clip stays as it is
            "label": torch.tensor(self.clips[index][1], dtype=torch.long),
            "identity": torch.tensor(index, dtype=torch.long),
        }

    def _instead_of(self, index: int, error: DataError, frames: Sequence[int] | None) -> dict[str, torch.Tensor]:
        """A clip that became unreadable after its poses were cached: the next readable clip takes its place
        (the same one every time, so a resumed run sees what an uninterrupted one saw), with a warning."""
        self._unreadable = getattr(self, "_unreadable", set()) | {index}
        if len(self._unreadable) >= len(self.clips):
            raise DataError(f"{self.root}: no clip can be read any more (last: {error})")
        log.warning("%s; clip %d skipped, clip %d used in its place", error, index, (index + 1) % len(self.clips))
        return self._clip((index + 1) % len(self.clips), frames)

    def __repr__(self) -> str:
        return f"VideoFolder({str(self.root)!r}, clips={len(self)}, classes={len(self.classes)})"


def _builtin_framing(crop: str, resolution: int) -> Any:
    """How pgvg's built-in data frames people (``crop = "person"``) or faces (``"face"``) at ``resolution``."""
    from pgvg_core.poses.framing import framing_of

    if crop == "face":
        from pgvg_data.faces import SyntheticFaces

        return framing_of(SyntheticFaces(resolution=resolution, render=False))
    from pgvg_data.synthetic import SyntheticActions

    return framing_of(SyntheticActions(resolution=resolution, render=False))
