"""Motion transfer: a driving video's (or keypoint file's) motion moved onto the person of a photo.

1. :func:`track_person`: among the people found in each frame ``[P, K, 3]``, the chosen one (the largest in
   the first frame where anyone is found, or the ``person``-th largest), followed frame to frame by the
   nearest pose; a frame where no pose is near enough is *lost*.
2. :func:`fill_lost`: every joint of a lost frame, or a joint missing in a frame, is filled by linear
   interpolation in time between the nearest frames where it was found (held at the clip's ends); a joint
   never found stays missing. What was filled is counted.
3. Retargeting to the photo's pose (all in pixels):

   * :func:`relative_motion` (First Order Motion Model's relative mode): each joint's displacement from the
     driving clip's first pose, scaled by the ratio of the two people's sizes (the framing length: torso for a
     body, eyes to mouth for a face), added to the photo's pose. When the photo is the clip's first frame,
     the result is the clip's own poses.
   * :func:`absolute_motion` (Everybody Dance Now's global pose normalisation): each driving pose rebuilt with
     the photo's bone lengths along the driving bones' directions, placed where the photo's person stands and
     moved as the driving person's anchor (hip centre, eye midpoint) moves, scaled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pgvg_core.errors import DataError, PgvgError
from pgvg_core.poses.framing import SEEN
from pgvg_core.poses.skeleton import Skeleton

log = logging.getLogger("pgvg.motion")

MOTIONS = ("relative", "absolute")
#: A tracked pose may move this many body sizes (framing lengths) per frame and still be the same person.
MAX_STEP = 1.0
#: Joints two poses must share to be compared.
MIN_SHARED = 3


@attrs.frozen
class DrivingMotion:
    """The driving person's poses ``[T, K, 3]`` (pixels of the driving frames, filled) and how they were had."""

    poses: np.ndarray
    fps: float
    frame_indices: tuple[int, ...]  # which frames of the driving video (or file) they are
    lost_frames: tuple[int, ...]  # positions in ``poses`` where the person was not found and was filled in
    filled_joints: int  # joints filled in frames where the person was found but the joint was not
    source: str  # what gave the poses

    def record(self) -> dict[str, Any]:
        return {"source": self.source, "fps": self.fps, "frames": len(self.poses),
                "frame_indices": list(self.frame_indices), "lost_frames": list(self.lost_frames),
                "lost": len(self.lost_frames), "filled_joints": self.filled_joints,
                "filled_how": "each missing joint linearly interpolated in time between the nearest frames where "
                              "it was found, held at the clip's ends"}


def body_size(pose: np.ndarray, skeleton: Skeleton) -> float:
    """The framing length of a pose (:meth:`Skeleton.measure`: a torso, or eyes to mouth), else the diagonal of
    its seen joints' box / 3."""
    measured = skeleton.measure(pose, found=SEEN)
    if measured is not None and measured[0] > 0:
        return float(measured[0])
    seen = pose[pose[:, 2] > SEEN, :2]
    if len(seen) < 2:
        return 0.0
    return float(np.linalg.norm(seen.max(0) - seen.min(0))) / 3


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance between the joints two poses share (inf when they share fewer than ``MIN_SHARED``)."""
    shared = (a[:, 2] > SEEN) & (b[:, 2] > SEEN)
    if shared.sum() < MIN_SHARED:
        return float("inf")
    return float(np.linalg.norm(a[shared, :2] - b[shared, :2], axis=-1).mean())


def track_person(people: Sequence[np.ndarray], skeleton: Skeleton, person: int = 0) -> np.ndarray:
    """The chosen person's pose in each frame: ``people`` (per frame ``[P, K, 3]``, P may be 0) -> ``[T, K, 3]``
    (all-zero where lost). The ``person``-th largest in the first frame with anyone in it starts the track; each
    next frame takes the pose nearest the last one found, if it moved less than ``MAX_STEP`` sizes per frame."""
    length = len(people)
    joints = skeleton.num_keypoints
    track = np.zeros((length, joints, 3), np.float32)
    start = next((t for t, found in enumerate(people) if _valid(found, skeleton)), None)
    if start is None:
        raise DataError("no person was found in any frame of the driving video")
    first = sorted(_valid(people[start], skeleton), key=lambda p: -body_size(p, skeleton))
    if not 0 <= person < len(first):
        raise PgvgError(f"--drive-person {person}: the driving video's first frame with people (frame {start}) has "
                        f"{len(first)} (0 to {len(first) - 1}, largest first)")
    track[start] = last = first[person]
    last_t = start
    for t in range(start + 1, length):
        candidates = _valid(people[t], skeleton)
        if not candidates:
            continue
        distances = [_distance(last, candidate) for candidate in candidates]
        best = int(np.argmin(distances))
        allowed = MAX_STEP * max(body_size(last, skeleton), 1.0) * (t - last_t)
        if distances[best] <= allowed:
            track[t] = last = candidates[best]
            last_t = t
    return track


def _valid(found: np.ndarray, skeleton: Skeleton) -> list[np.ndarray]:
    found = np.asarray(found, np.float32).reshape(-1, skeleton.num_keypoints, 3)
    return [p for p in found if (p[:, 2] > SEEN).sum() >= MIN_SHARED]


def fill_lost(poses: np.ndarray) -> tuple[np.ndarray, tuple[int, ...], int]:
    """``[T, K, 3]`` with missing joints filled (see the module docstring) -> (filled poses, the frames where the
    whole person was missing, the number of joints filled in the other frames)."""
    poses = np.asarray(poses, np.float32).copy()
    seen = poses[..., 2] > SEEN  # [T, K]
    lost = tuple(int(t) for t in np.nonzero((~seen).all(1))[0])
    filled_joints = int(((~seen) & seen.any(1, keepdims=True)).sum())
    times = np.arange(len(poses))
    for k in range(poses.shape[1]):
        known = np.nonzero(seen[:, k])[0]
        if len(known) == 0 or len(known) == len(poses):
            continue
        for axis in range(3):
            poses[:, k, axis] = np.interp(times, known, poses[known, k, axis])
    return poses, lost, filled_joints


def relative_motion(photo: np.ndarray, driving: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """The photo's pose ``[K, 3]`` moved as the driving poses ``[T, K, 3]`` move from their first -> ``[T, K, 3]``.

    A joint the driving clip never shows keeps the photo's place; a joint the photo does not show stays
    missing."""
    scale = _size_ratio(photo, driving[0], skeleton)
    shown = (driving[:, :, 2] > SEEN) & (driving[:1, :, 2] > SEEN)  # [T, K]
    displacement = np.where(shown[..., None], driving[..., :2] - driving[:1, :, :2], 0.0) * scale
    out = np.repeat(photo[None].astype(np.float32), len(driving), axis=0)
    out[..., :2] += displacement
    return out


def absolute_motion(photo: np.ndarray, driving: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """The driving poses ``[T, K, 3]`` with the photo's bone lengths, placed where the photo's person stands and
    moved as the driving person moves (their anchor's displacement, scaled) -> ``[T, K, 3]``."""
    scale = _size_ratio(photo, driving[0], skeleton)
    photo_anchor, driving_anchor = _anchor(photo, skeleton), _anchor(driving[0], skeleton)
    out = np.zeros_like(driving, dtype=np.float32)
    for t, pose in enumerate(driving):
        # Every tree of the skeleton starts where the driving pose's root is, scaled about the anchor; its
        # bones follow the driving directions with the photo's lengths (the driving ones, scaled, where the
        # photo does not show a bone).
        rebuilt = pose.astype(np.float32).copy()
        anchor_t = _anchor(pose, skeleton)
        rebuilt[:, :2] = anchor_t + (pose[:, :2] - anchor_t) * scale
        for parent, child in skeleton.bones:
            if pose[parent, 2] <= SEEN or pose[child, 2] <= SEEN:
                continue
            direction = pose[child, :2] - pose[parent, :2]
            norm = float(np.linalg.norm(direction))
            if norm < 1e-6:
                continue
            both = photo[parent, 2] > SEEN and photo[child, 2] > SEEN
            length = float(np.linalg.norm(photo[child, :2] - photo[parent, :2])) if both else norm * scale
            rebuilt[child, :2] = rebuilt[parent, :2] + direction / norm * length
        # Placed: the rebuilt anchor goes where the photo's person stands, plus the driving anchor's travel.
        rebuilt[:, :2] += photo_anchor + (anchor_t - driving_anchor) * scale - _anchor(rebuilt, skeleton)
        rebuilt[:, 2] = np.where(photo[:, 2] > SEEN, pose[:, 2], 0.0)
        out[t] = rebuilt
    return out


def _anchor(pose: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    measured = skeleton.measure(pose, found=SEEN)
    if measured is not None:
        return np.asarray(measured[1], np.float32)
    seen = pose[pose[:, 2] > SEEN, :2]
    return seen.mean(0).astype(np.float32) if len(seen) else np.zeros(2, np.float32)


def _size_ratio(photo: np.ndarray, driving_first: np.ndarray, skeleton: Skeleton) -> float:
    photo_size, driving_size = body_size(photo, skeleton), body_size(driving_first, skeleton)
    if photo_size <= 0 or driving_size <= 0:
        raise DataError("the photo's or the driving clip's first pose has no measurable size (a body needs its "
                        "neck and a hip, a face its eyes and mouth)")
    return photo_size / driving_size


def retarget(photo: np.ndarray, driving: np.ndarray, skeleton: Skeleton, motion: str) -> np.ndarray:
    if motion == "relative":
        return relative_motion(photo, driving, skeleton)
    if motion == "absolute":
        return absolute_motion(photo, driving, skeleton)
    raise PgvgError(f"--motion {motion!r}: use one of {', '.join(MOTIONS)}")


def chosen_frames(total: int, stride: int, max_frames: int | None) -> np.ndarray:
    """Frame i of the output is frame ``i * stride`` of the driving clip, at most ``max_frames`` of them."""
    if stride < 1:
        raise PgvgError(f"--stride {stride}: at least 1")
    indices = np.arange(0, total, stride)
    return indices[:max_frames] if max_frames else indices


def video_fps(path: Path) -> float:
    """A video's frame rate (25 for a folder of frames, which has none)."""
    if path.is_dir():
        return 25.0
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else 25.0
    except (av.error.FFmpegError, IndexError) as error:
        raise DataError(f"{path}: cannot read the video ({type(error).__name__}: {error})") from None


def driving_motion(*, video: str | None = None, poses_file: str | None = None, skeleton: Skeleton,
                   pose_source: str | None = None, person: int = 0, stride: int = 1,
                   max_frames: int | None = None, fps: float | None = None,
                   cache_dir: str | Path | None = None) -> DrivingMotion:
    """The tracked, filled poses of the driving person: from ``video`` (by the pose source, cached as
    ``video-folder`` caches poses) or from ``poses_file`` (``.npz [T, K, 3]``, a folder of OpenPose JSON, COCO
    JSON with several frames, OpenFace CSV for a face)."""
    if (video is None) == (poses_file is None):
        raise PgvgError("give one of --drive VIDEO or --poses FILE")
    if video is not None:
        path = Path(video)
        if not path.exists():
            raise DataError(f"--drive {video}: no such video (or folder of frames)")
        total = _frame_count(path)
        indices = chosen_frames(total, stride, max_frames)
        tracked = _video_track(path, skeleton, pose_source, indices, person, cache_dir)
        rate, what = fps or video_fps(path), f"video {path} ({pose_source})"
    else:
        from pgvg_core.config import ComponentSpec, build

        path = Path(poses_file)
        reader = build("pose_sources", ComponentSpec(name="keypoints-file", params={"skeleton": skeleton.name}),
                       path="--poses")
        people = reader.people_over_time(path)
        rate, what = fps or 25.0, f"keypoints file {path}"
        total = len(people)
        indices = chosen_frames(total, stride, max_frames)
        tracked = track_person([people[i] for i in indices], skeleton, person) if len(indices) >= 2 else None
    if len(indices) < 2:
        raise DataError(f"{what}: {total} frame(s) at stride {stride}; motion needs at least 2")
    poses, lost, filled = fill_lost(tracked)
    if len(lost):
        log.warning("the driving person was not found in %d of %d frames (%s); their poses are interpolated "
                    "between the frames around them", len(lost), len(poses), _ranges(lost))
    return DrivingMotion(poses=poses, fps=rate / stride, frame_indices=tuple(int(i) for i in indices),
                         lost_frames=lost, filled_joints=filled, source=what)


def _video_track(path: Path, skeleton: Skeleton, pose_source: str | None, indices: np.ndarray, person: int,
                 cache_dir: str | Path | None) -> np.ndarray:
    """The driving person's pose ``[T, K, 3]`` at each of ``indices`` of a video (zeros where lost), cached by
    the clip's hash, the source's settings, the person and the frames.

    A source that finds several people in an image (MediaPipe) is tracked frame to frame in a square around
    where the person was (:func:`track_in_video`); another gives the clip's poses at once, tracked by
    :func:`track_person`."""
    import hashlib
    import json

    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.media.video import read_video
    from pgvg_core.poses.cache import PoseCache, atomic_save_npz, default_cache_dir, read_cached

    # keypoints-file reads any skeleton's keypoints: it is told which (as for --poses and --keypoints files).
    params = {"skeleton": skeleton.name} if pose_source == "keypoints-file" else {}
    source = build("pose_sources", ComponentSpec(name=pose_source, params=params), path="--pose-source")
    if getattr(source, "provides_ground_truth", False):
        raise PgvgError("--pose-source ground-truth has no poses for a real video; use mediapipe (or "
                        "mediapipe-face), or give the poses with --poses FILE")
    if getattr(source, "skeleton", "body-18") != skeleton.name:
        raise PgvgError(f"--pose-source {pose_source} finds '{getattr(source, 'skeleton', 'body-18')}' keypoints; "
                        f"the model's skeleton is '{skeleton.name}'")
    cache = PoseCache(Path(cache_dir) if cache_dir else default_cache_dir(), source)
    if not source.several_people:
        keypoints = cache.get(path)  # [N, K, 3], the same file video-folder reads
        return track_person([keypoints[i][None] for i in indices], skeleton, person)
    key = json.dumps({"settings": dict(source.settings()), "person": person, "frames": indices.tolist()},
                     sort_keys=True)
    cached = cache.directory / f"{cache.hash_of(path)}-tracked-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    found = read_cached(cached, path)
    if found is not None:
        return found
    frames = read_video(path, frames=indices.tolist())
    track = track_in_video(frames, source, skeleton, person)
    atomic_save_npz(cached, keypoints=track)
    return track


#: The square searched around the tracked person is this many times their box's longer side.
SEARCH_AREA = 1.8


def track_in_video(frames: np.ndarray, source: Any, skeleton: Skeleton, person: int = 0) -> np.ndarray:
    """The ``person``-th largest person of the first frame where the source finds anyone, followed through
    ``frames [T, H, W, 3]``: in each next frame the source looks in a square around where they were (the way
    MediaPipe's own video mode follows one person; it also finds a person small in a wide frame), and where it
    finds nobody near enough there, in the whole frame. -> ``[T, K, 3]``, zeros where lost."""
    from tqdm.auto import tqdm

    track = np.zeros((len(frames), skeleton.num_keypoints, 3), np.float32)
    last, last_t = None, -1
    for t, frame in enumerate(tqdm(frames, desc="tracking the driving person", unit="frame", leave=False,
                                   disable=len(frames) < 8)):
        if last is None:
            people = _valid(source.people(frame), skeleton)
            if not people:
                continue
            first = sorted(people, key=lambda p: -body_size(p, skeleton))
            if not 0 <= person < len(first):
                raise PgvgError(f"--drive-person {person}: the driving video's first frame with people (frame "
                                f"{t}) has {len(first)} (0 to {len(first) - 1}, largest first)")
            track[t] = last = first[person]
            last_t = t
            continue
        allowed = MAX_STEP * max(body_size(last, skeleton), 1.0) * (t - last_t)
        found = _search_around(frame, last, source, skeleton)
        if found is None or _distance(last, found) > allowed:
            candidates = _valid(source.people(frame), skeleton)
            distances = [_distance(last, candidate) for candidate in candidates]
            found = candidates[int(np.argmin(distances))] if candidates and min(distances) <= allowed else None
        if found is not None:
            track[t] = last = found
            last_t = t
    if last is None:
        raise DataError("no person was found in any frame of the driving video")
    return track


def _search_around(frame: np.ndarray, pose: np.ndarray, source: Any, skeleton: Skeleton) -> np.ndarray | None:
    """The source's person in a square around ``pose`` (padded with black beyond the frame), or None."""
    seen = pose[pose[:, 2] > SEEN, :2]
    (left, top), (right, bottom) = seen.min(0), seen.max(0)
    side = int(np.ceil(SEARCH_AREA * max(right - left, bottom - top, 16)))
    x0, y0 = int(round((left + right) / 2 - side / 2)), int(round((top + bottom) / 2 - side / 2))
    height, width = frame.shape[:2]
    window = np.zeros((side, side, 3), np.uint8)
    xs, ys = slice(max(0, x0), min(width, x0 + side)), slice(max(0, y0), min(height, y0 + side))
    if xs.start >= xs.stop or ys.start >= ys.stop:
        return None
    window[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = frame[ys, xs]
    found = np.asarray(source(window[None]), np.float32)[0]
    if (found[:, 2] > SEEN).sum() < MIN_SHARED:
        return None
    found[:, 0] += x0
    found[:, 1] += y0
    return found


def _frame_count(path: Path) -> int:
    """How many frames a video (or folder of frames) has: decoded and counted (a container's count can lie)."""
    from pgvg_core.media.video import frame_files

    if path.is_dir():
        return len(frame_files(path))
    import av

    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.demux(video=0) if _.size)
    except (av.error.FFmpegError, IndexError) as error:
        raise DataError(f"{path}: cannot read the video ({type(error).__name__}: {error})") from None


def _ranges(frames: Sequence[int]) -> str:
    parts, start = [], None
    for i, t in enumerate(frames):
        if start is None:
            start = t
        if i + 1 == len(frames) or frames[i + 1] != t + 1:
            parts.append(f"{start}" if start == t else f"{start}-{t}")
            start = None
    return ", ".join(parts[:8]) + (" ..." if len(parts) > 8 else "")
