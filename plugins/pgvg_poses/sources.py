"""Pose sources: frames ``uint8 [T, H, W, 3]`` -> keypoints ``float32 [T, K, 3]`` in the frames' pixels (``K`` that
of the source's skeleton; MediaPipe's are body-18)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from pgvg_core.errors import DataError
from pgvg_core.interfaces import PoseSource
from pgvg_core.pose import NUM_KEYPOINTS
from pgvg_core.skeleton import BODY_18, FACE_68, skeleton_by_name
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
    """Real pose estimation with MediaPipe BlazePose (full model, runs offline), mapped to 18 keypoints."""

    def __init__(self, *, min_detection_confidence: float = 0.5, static_image_mode: bool = True) -> None:
        self.min_detection_confidence = min_detection_confidence
        self.static_image_mode = static_image_mode
        self._pose = None

    def _model(self):
        if self._pose is None:
            try:
                import mediapipe as mp  # noqa: PLC0415
            except ImportError as error:
                raise DataError(f"{MEDIAPIPE_INSTALL}\n(import failed: {error})") from None
            # model_complexity=1 is the model that ships inside the wheel; 0 and 2 are downloaded on first use.
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=self.static_image_mode,
                model_complexity=1,
                min_detection_confidence=self.min_detection_confidence,
            )
        return self._pose

    def __call__(self, frames: Any, *, clip_path: Path | None = None) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        model = self._model()
        out = np.zeros((len(frames), NUM_KEYPOINTS, 3), np.float32)
        height, width = frames.shape[1:3]
        from tqdm.auto import tqdm

        # A long clip takes a while (about 20 frames/s on 2 cores): a progress bar from 8 frames on.
        for t, frame in enumerate(tqdm(frames, desc="MediaPipe poses", unit="frame", leave=False,
                                       disable=len(frames) < 8)):
            result = model.process(np.ascontiguousarray(frame[..., :3]))
            if result.pose_landmarks is None:
                continue
            marks = np.array([[m.x * width, m.y * height, m.visibility] for m in result.pose_landmarks.landmark],
                             np.float32)
            for k, source in enumerate(MEDIAPIPE_TO_COCO18):
                if source is not None:
                    out[t, k] = marks[source]
            out[t, 1, :2] = (marks[11, :2] + marks[12, :2]) / 2
            out[t, 1, 2] = min(marks[11, 2], marks[12, 2])
        return out

    def settings(self) -> dict[str, Any]:
        return {"source": "mediapipe", "model": "pose_landmark_full", "version": _mediapipe_version(),
                "min_detection_confidence": self.min_detection_confidence}


def _mediapipe_version() -> str:
    try:
        from importlib.metadata import version

        return version("mediapipe")
    except Exception:
        return "absent"
