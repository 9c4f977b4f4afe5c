"""Face landmarks in the ``face-68`` layout from real sources: MediaPipe's face mesh and OpenFace CSV files.

MediaPipe's mesh has 468 points with no 68-point subset that sits exactly where iBUG's annotators put theirs,
so each part is read along the mesh's own contours (the face oval, the lids, the lips, the brows' two edges)
and resampled by arc length between its ends: a lid's two iBUG points sit at a third and two thirds of the
lid, the jaw's 17 points spread evenly from ear to chin to ear. The contours are lists of mesh indices from
the canonical face model (``mediapipe/modules/face_geometry/data/canonical_face_model_uv_visualization.png``);
"right" is the subject's, the image's left in a frontal face, as in iBUG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pgvg_core.errors import DataError
from pgvg_core.interfaces import PoseSource
from pgvg_core.poses.skeleton import FACE_68
from pgvg_poses.formats import load_openface_csv  # noqa: F401 (its home was here; a file format's reader)

# Mesh contours, each from its first iBUG point to its last.
JAW_RIGHT = (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152)  # right ear to chin
JAW_LEFT = (152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356)  # chin to left ear
BROW_RIGHT = ((70, 63, 105, 66, 107), (46, 53, 52, 65, 55))  # upper and lower edge, outer to inner
BROW_LEFT = ((336, 296, 334, 293, 300), (285, 295, 282, 283, 276))  # inner to outer
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1)  # between the eyes down to the tip
NOSTRILS = (98, 97, 2, 326, 327)  # right wing, under the tip, left wing
EYE_RIGHT = ((33, 246, 161, 160, 159, 158, 157, 173, 133), (133, 155, 154, 153, 145, 144, 163, 7, 33))
EYE_LEFT = ((362, 398, 384, 385, 386, 387, 388, 466, 263), (263, 249, 390, 373, 374, 380, 381, 382, 362))
LIPS_OUTER = ((61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291), (291, 375, 321, 405, 314, 17, 84, 181, 91, 146, 61))
LIPS_INNER = ((78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308), (308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78))


def resample(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` points spread evenly by arc length along the polyline ``points [N, 2]``, both ends kept."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, along[-1], count)
    return np.stack([np.interp(targets, along, points[:, axis]) for axis in range(points.shape[1])], axis=1)


def mesh_to_face68(mesh: np.ndarray) -> np.ndarray:
    """MediaPipe face-mesh points ``[468+, 2]`` -> the 68 iBUG points ``[68, 2]``."""
    take = lambda indices, count: resample(mesh[list(indices)], count)  # noqa: E731
    jaw = np.concatenate([take(JAW_RIGHT, 9), take(JAW_LEFT, 9)[1:]])
    brows = [(take(upper, 5) + take(lower, 5)) / 2 for upper, lower in (BROW_RIGHT, BROW_LEFT)]
    nose = [take(NOSE_BRIDGE, 4), take(NOSTRILS, 5)]
    eyes = []
    for upper, lower in (EYE_RIGHT, EYE_LEFT):  # corner, two upper-lid points, corner, two lower-lid points
        eyes.append(np.concatenate([take(upper, 4), take(lower, 4)[1:3]]))
    outer = np.concatenate([take(LIPS_OUTER[0], 7), take(LIPS_OUTER[1], 7)[1:6]])  # 48..54, then 55..59
    inner = np.concatenate([take(LIPS_INNER[0], 5), take(LIPS_INNER[1], 5)[1:4]])  # 60..64, then 65..67
    return np.concatenate([jaw, *brows, *nose, *eyes, outer, inner]).astype(np.float32)


FACE_MESH_INSTALL = (
    "pose source 'mediapipe-face' needs mediapipe 0.10.21 (its face mesh model ships inside the wheel):\n"
    '  pip install --no-deps mediapipe==0.10.21 && pip install absl-py flatbuffers opencv-contrib-python '
    'matplotlib "protobuf>=6.31.1,<7"\n'
    "(or give landmarks in files with --pose-source keypoints-file: .npz [T, 68, 3] or OpenFace .csv)"
)


class MediaPipeFacePoses(PoseSource):
    """68 face landmarks (iBUG order) from MediaPipe's face mesh (runs offline); confidence 1 where a face was
    found and the point is inside the frame, else 0. ``people()`` returns every face in an image."""

    skeleton = FACE_68.name

    def __init__(self, *, min_detection_confidence: float = 0.5, static_image_mode: bool = True,
                 max_faces: int = 4) -> None:
        self.min_detection_confidence = min_detection_confidence
        self.static_image_mode = static_image_mode
        self.max_faces = max_faces
        self._mesh = None

    def _model(self) -> Any:
        if self._mesh is None:
            try:
                import mediapipe as mp  # noqa: PLC0415
            except ImportError as error:
                raise DataError(f"{FACE_MESH_INSTALL}\n(import failed: {error})") from None
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=self.static_image_mode, max_num_faces=self.max_faces, refine_landmarks=False,
                min_detection_confidence=self.min_detection_confidence)
        return self._mesh

    def _faces(self, frame: np.ndarray) -> list[np.ndarray]:
        """Each face found in one frame ``uint8 [H, W, 3]``: ``[68, 3]`` in its pixels, the largest first."""
        height, width = frame.shape[:2]
        result = self._model().process(np.ascontiguousarray(frame[..., :3]))
        faces = []
        for landmarks in result.multi_face_landmarks or ():
            # MediaPipe's normalised coordinates run over the image's edges: pixel centres at integer positions
            mesh = np.array([[m.x * width - 0.5, m.y * height - 0.5] for m in landmarks.landmark], np.float32)
            points = mesh_to_face68(mesh)
            inside = (points >= 0).all(axis=1) & (points[:, 0] <= width - 1) & (points[:, 1] <= height - 1)
            faces.append(np.concatenate([points, inside[:, None].astype(np.float32)], axis=1))
        return sorted(faces, key=lambda f: -np.ptp(f[:, 0]) * np.ptp(f[:, 1]))

    def __call__(self, frames: Any, *, clip_path: Path | None = None) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        out = np.zeros((len(frames), FACE_68.num_keypoints, 3), np.float32)
        for t, frame in enumerate(frames):
            faces = self._faces(frame)
            if faces:
                out[t] = faces[0]
        return out

    def people(self, image: Any, *, path: Any = None) -> np.ndarray:
        faces = self._faces(np.asarray(image))
        return np.stack(faces) if faces else np.zeros((0, FACE_68.num_keypoints, 3), np.float32)

    def settings(self) -> dict[str, Any]:
        from pgvg_poses.sources import _mediapipe_version

        return {"source": "mediapipe-face", "model": "face_landmark (face mesh, 468 points -> face-68)",
                "version": _mediapipe_version(), "min_detection_confidence": self.min_detection_confidence}


