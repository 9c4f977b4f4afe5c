"""Pose sources: frames ``uint8 [T, H, W, 3]`` -> keypoints ``float32 [T, K, 3]`` in the frames' pixels (``K`` that
of the source's skeleton; MediaPipe's are body-18)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from pgvg_core.errors import DataError
from pgvg_core.interfaces import PoseSource
from pgvg_core.poses.keypoints import NUM_KEYPOINTS
from pgvg_core.poses.skeleton import BODY_18, FACE_68, skeleton_by_name
from pgvg_poses.formats import load_keypoints, load_people, load_people_over_time

log = logging.getLogger(__name__)


class GroundTruthPoses(PoseSource):
    """Exact poses that come with the data (synthetic-actions); nothing is estimated."""

    provides_ground_truth = True

    def __call__(self, frames: Any, *, clip_path: Path | None = None) -> np.ndarray:
        raise DataError(
            "pose source 'ground-truth' only works with data that carries its poses (synthetic-actions); "
            "for real videos use 'keypoints-file' or 'mediapipe'"
        )


SIDECAR_SUFFIXES = (".npz", ".json")
FACE_SIDECAR_SUFFIXES = (".npz", ".csv")  # OpenFace writes CSV


class KeypointsFilePoses(PoseSource):
    """Poses read from files beside each clip: ``clip.npz``, ``clip.json``, ``clip.csv`` (OpenFace) or a
    ``clip_keypoints/`` folder;
    with ``file``, the people of one image from that file (OpenPose or COCO JSON with several people).
    ``skeleton`` names what the files' keypoints are (``.npz`` files may hold any registered skeleton's)."""

    def __init__(self, *, file: str | None = None, skeleton: str = "body-18") -> None:
        self.file = file
        self.skeleton = skeleton
        self._skeleton = skeleton_by_name(skeleton) if skeleton != BODY_18.name else BODY_18

    def people(self, image: Any, *, path: Path | None = None) -> np.ndarray:
        if self.file is None:
            return super().people(image, path=path)
        return load_people(self.file, skeleton=self._skeleton)

    def people_over_time(self, path: Path) -> list[np.ndarray]:
        """Every person of every frame of a keypoints file (``[P_t, K, 3]`` per frame): what
        ``pgvg animate --poses FILE`` tracks the driving person in."""
        return load_people_over_time(path, skeleton=self._skeleton)

    def __call__(self, frames: Any, *, clip_path: Path | None = None) -> np.ndarray:
        if clip_path is None:
            raise DataError("pose source 'keypoints-file' needs the clip's path to find its keypoints file")
        suffixes = FACE_SIDECAR_SUFFIXES if self._skeleton.name == FACE_68.name else SIDECAR_SUFFIXES
        candidates = [clip_path.with_suffix(s) for s in suffixes]
        candidates += [clip_path.parent / f"{clip_path.stem}_keypoints"]
        if clip_path.is_dir():
            candidates += [clip_path / "keypoints.npz", clip_path / "keypoints.json"]
        for candidate in candidates:
            if candidate.exists() and candidate != clip_path:
                points = load_keypoints(candidate, skeleton=self._skeleton)
                if len(points) < len(frames):
                    raise DataError(
                        f"{candidate}: {len(points)} frames of keypoints for {len(frames)} video frames of {clip_path}"
                    )
                return points[: len(frames)]
        raise DataError(
            f"no keypoints file for {clip_path}; looked for "
            + ", ".join(str(c.name) for c in candidates)
            + " beside it (or use --pose-source mediapipe)"
        )

    def settings(self) -> dict[str, Any]:
        # body-18 is left out, so the pose-cache keys of body files stay as they were
        return {"source": "keypoints-file", **({"file": str(self.file)} if self.file else {}),
                **({"skeleton": self.skeleton} if self.skeleton != BODY_18.name else {})}


# MediaPipe's 33 BlazePose landmarks -> the 18 COCO/OpenPose keypoints (the neck is made from the shoulders).
MEDIAPIPE_TO_COCO18 = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)

MEDIAPIPE_INSTALL = (
    "pose source 'mediapipe' needs mediapipe 0.10.21, the last version that ships its pose models. Install it "
    "without its outdated pins:\n"
    '  pip install --no-deps mediapipe==0.10.21 && pip install absl-py flatbuffers opencv-contrib-python '
    'matplotlib "protobuf>=6.31.1,<7"\n'
    "(or pass poses in files with --pose-source keypoints-file)"
)


class MediaPipePoses(PoseSource):
    """Real pose estimation with MediaPipe BlazePose (full model, runs offline), mapped to 18 keypoints.

    BlazePose finds one person per run; :meth:`people` finds up to ``max_people`` by covering each person found
    (the box of their landmarks, grown, filled with the picture's median colour) and searching again."""

    several_people = True
    #: how much a found person's landmark box is grown on each side before it is covered (of its height)
    COVER_MARGIN = 0.1
    #: a person this tall (of the picture's shorter side) found in the whole picture: squares are not searched
    LARGE = 0.4

    def __init__(self, *, min_detection_confidence: float = 0.5, static_image_mode: bool = True,
                 max_people: int = 4) -> None:
        if max_people < 1:
            raise ValueError(f"max_people must be at least 1, got {max_people}")
        self.min_detection_confidence = min_detection_confidence
        self.static_image_mode = static_image_mode
        self.max_people = max_people
        self._pose = self._segmenter = None

    @staticmethod
    def _mediapipe():
        try:
            import mediapipe as mp  # noqa: PLC0415
        except ImportError as error:
            raise DataError(f"{MEDIAPIPE_INSTALL}\n(import failed: {error})") from None
        return mp

    def _model(self):
        if self._pose is None:
            mp = self._mediapipe()
            # model_complexity=1 is the model that ships inside the wheel; 0 and 2 are downloaded on first use.
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=self.static_image_mode,
                model_complexity=1,
                min_detection_confidence=self.min_detection_confidence,
            )
        return self._pose

    def _landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """BlazePose's 33 landmarks ``[33, 3]`` (x, y in pixels, visibility) of the person it finds, or None."""
        result = self._model().process(np.ascontiguousarray(image[..., :3]))
        if result.pose_landmarks is None:
            return None
        height, width = image.shape[:2]
        return np.array([[m.x * width, m.y * height, m.visibility] for m in result.pose_landmarks.landmark],
                        np.float32)

    @staticmethod
    def _coco18(marks: np.ndarray) -> np.ndarray:
        out = np.zeros((NUM_KEYPOINTS, 3), np.float32)
        for k, source in enumerate(MEDIAPIPE_TO_COCO18):
            if source is not None:
                out[k] = marks[source]
        out[1, :2] = (marks[11, :2] + marks[12, :2]) / 2
        out[1, 2] = min(marks[11, 2], marks[12, 2])
        return out

    def __call__(self, frames: Any, *, clip_path: Path | None = None) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        out = np.zeros((len(frames), NUM_KEYPOINTS, 3), np.float32)
        from tqdm.auto import tqdm

        # A long clip takes a while (about 20 frames/s on 2 cores): a progress bar from 8 frames on.
        for t, frame in enumerate(tqdm(frames, desc="MediaPipe poses", unit="frame", leave=False,
                                       disable=len(frames) < 8)):
            marks = self._landmarks(frame)
            if marks is not None:
                out[t] = self._coco18(marks)
        return out

    def people(self, image: Any, *, path: Path | None = None) -> np.ndarray:
        """Up to ``max_people`` people ``[P, 18, 3]``, largest first. BlazePose's detector sees the picture at
        224 px, so a person a tenth of a wide frame's height is missed: the picture is searched whole, then (unless
        someone ``LARGE`` was found there) in squares of its shorter side and of half of it (overlapping by
        half), until ``max_people`` are found."""
        picture = np.asarray(image[..., :3], dtype=np.uint8)
        height, width = picture.shape[:2]
        found: list[tuple[np.ndarray, tuple[int, int, int, int]]] = []
        for left, top, side in _search_windows(height, width):
            if side and any(box[3] - box[1] >= self.LARGE * min(height, width) for _, box in found):
                break  # a person large in the picture is found whole: no need to look closer (a photo)
            window = picture[top : top + side, left : left + side] if side else picture
            for pose, box in self._covering_search(window):
                pose[:, 0] += left
                pose[:, 1] += top
                box = (box[0] + left, box[1] + top, box[2] + left, box[3] + top)
                if not any(_overlap(box, other) > 0.5 for _, other in found):
                    found.append((pose, box))
            if len(found) >= self.max_people:
                break
        found.sort(key=lambda item: -(item[1][3] - item[1][1]))
        poses = [pose for pose, _ in found[: self.max_people]]
        return np.stack(poses) if poses else np.zeros((0, NUM_KEYPOINTS, 3), np.float32)

    def _covering_search(self, picture: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
        """The people of one picture, each found person covered before searching again: (pose, box) pairs."""
        picture = np.array(picture)  # a copy: people found are covered in it
        height, width = picture.shape[:2]
        fill = np.median(picture.reshape(-1, 3), axis=0).astype(np.uint8)
        found = []
        for _ in range(self.max_people):
            marks = self._landmarks(picture)
            if marks is None:
                break
            inside = marks[(marks[:, 0] >= 0) & (marks[:, 0] < width) & (marks[:, 1] >= 0) & (marks[:, 1] < height)]
            if len(inside) < 3:
                break
            (left, top), (right, bottom) = inside[:, :2].min(0), inside[:, :2].max(0)
            grow = self.COVER_MARGIN * (bottom - top)
            box = (int(max(0, left - grow)), int(max(0, top - grow)), int(min(width, right + grow + 1)),
                   int(min(height, bottom + grow + 1)))
            if any(_overlap(box, other) > 0.5 for _, other in found):  # the same person again, through the cover
                break
            found.append((self._coco18(marks), box))
            picture[box[1] : box[3], box[0] : box[2]] = fill
        return found

    #: the square searched for a person's mask is the box of their keypoints grown by this share of its height
    MASK_MARGIN = 0.3

    def person_mask(self, image: Any, keypoints: Any) -> np.ndarray | None:
        """BlazePose's person segmentation of the person at ``keypoints [18, 3]``: searched in a square around
        them (their keypoint box grown by ``MASK_MARGIN``), so the person segmented is that one where the photo
        shows several; ``float32 [H, W]`` in [0, 1], 0 outside the square; None where BlazePose finds no one
        there."""
        picture = np.asarray(image[..., :3], dtype=np.uint8)
        height, width = picture.shape[:2]
        seen = keypoints[keypoints[:, 2] > 0.1, :2]
        if len(seen) < 2:
            return None
        (left, top), (right, bottom) = seen.min(0), seen.max(0)
        side = (1 + 2 * self.MASK_MARGIN) * max(right - left, bottom - top, 8)
        centre = ((left + right) / 2, (top + bottom) / 2)
        x0, y0 = int(max(0, centre[0] - side / 2)), int(max(0, centre[1] - side / 2))
        x1, y1 = int(min(width, centre[0] + side / 2 + 1)), int(min(height, centre[1] + side / 2 + 1))
        if self._segmenter is None:
            self._segmenter = self._mediapipe().solutions.pose.Pose(
                static_image_mode=True, model_complexity=1, enable_segmentation=True,
                min_detection_confidence=self.min_detection_confidence)
        result = self._segmenter.process(np.ascontiguousarray(picture[y0:y1, x0:x1]))
        if result.segmentation_mask is None:
            return None
        mask = np.zeros((height, width), np.float32)
        mask[y0:y1, x0:x1] = np.clip(result.segmentation_mask, 0, 1)
        return mask

    def settings(self) -> dict[str, Any]:
        return {"source": "mediapipe", "model": "pose_landmark_full", "version": _mediapipe_version(),
                "min_detection_confidence": self.min_detection_confidence,
                **({"max_people": self.max_people} if self.max_people != 4 else {})}


def _search_windows(height: int, width: int) -> list[tuple[int, int, int]]:
    """Where :meth:`MediaPipePoses.people` looks: (left, top, side) squares, side 0 for the whole picture, then
    squares of the shorter side and of half of it, overlapping by half."""
    windows = [(0, 0, 0)]
    shorter = min(height, width)
    for side in (shorter, shorter // 2):
        if side < 64 or (side == shorter and height == width):
            continue
        step = max(1, side // 2)
        for top in range(0, max(1, height - side + step), step):
            for left in range(0, max(1, width - side + step), step):
                windows.append((min(left, width - side), min(top, height - side), side))
    return list(dict.fromkeys(windows))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """The share of the smaller of two boxes (left, top, right, bottom) that the other covers."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / max(1, smaller)


def _mediapipe_version() -> str:
    try:
        from importlib.metadata import version

        return version("mediapipe")
    except Exception:
        return "absent"
