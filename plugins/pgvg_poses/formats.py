"""Reading keypoints from the files that pose estimators write: ``[T, K, 3]`` of a skeleton (body-18 by default).

OpenPose and COCO JSON hold bodies and are read as body-18 (18-keypoint COCO/OpenPose order) only; ``.npz``
holds any skeleton's keypoints.

* OpenPose JSON: one ``*_keypoints.json`` per frame (``people[0].pose_keypoints_2d``, COCO-18 or BODY_25).
* COCO keypoint JSON: ``annotations[*].keypoints`` (17 joints, visibility 0/1/2), one annotation per image,
  in ``image_id`` order; the neck is the midpoint of the shoulders.
* ``.npz``: an array ``keypoints`` of shape ``[T, K, 3]`` (or ``[T, K, 2]``, all visible), ``K`` the skeleton's.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np

from pgvg_core.errors import DataError
from pgvg_core.poses.keypoints import NUM_KEYPOINTS
from pgvg_core.poses.skeleton import BODY_18, FACE_68, Skeleton

# COCO-18 index -> BODY_25 index (BODY_25 adds a mid-hip at 8 and feet after 18).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
# COCO-18 index -> COCO-17 index; the neck (COCO-18 index 1) is made from the shoulders.
COCO17_TO_COCO18 = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)


def from_coco17(points: np.ndarray) -> np.ndarray:
    """``[..., 17, 3]`` COCO keypoints (x, y, confidence) -> ``[..., 18, 3]``."""
    out = np.zeros((*points.shape[:-2], NUM_KEYPOINTS, 3), np.float32)
    for k, source in enumerate(COCO17_TO_COCO18):
        if source is not None:
            out[..., k, :] = points[..., source, :]
    left, right = points[..., 5, :], points[..., 6, :]
    both = (left[..., 2] > 0) & (right[..., 2] > 0)
    out[..., 1, :2] = (left[..., :2] + right[..., :2]) / 2
    out[..., 1, 2] = np.where(both, np.minimum(left[..., 2], right[..., 2]), 0.0)
    return out


def _openpose_frame(path: Path) -> np.ndarray:
    """The first person of an OpenPose frame ``[18, 3]`` (zeros when nobody was found)."""
    people = _openpose_people(path)
    return people[0] if len(people) else np.zeros((NUM_KEYPOINTS, 3), np.float32)


def _openpose_people(path: Path) -> np.ndarray:
    """Every person of an OpenPose frame ``[P, 18, 3]``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable OpenPose JSON file ({error})") from None
    people = data.get("people") if isinstance(data, dict) else None
    if people is None:
        raise DataError(f"{path}: no 'people' key; expected OpenPose output (*_keypoints.json)")
    if not isinstance(people, list) or not all(isinstance(person, dict) for person in people):
        raise DataError(f"{path}: 'people' is not a list of people (objects with 'pose_keypoints_2d')")
    return np.stack([_openpose_person(path, person) for person in people]) if people else \
        np.zeros((0, NUM_KEYPOINTS, 3), np.float32)


def _numbers(path: Path, value: object, what: str) -> np.ndarray:
    """A flat list of numbers from a JSON value, or a DataError naming the file and the field."""
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in value):
        raise DataError(f"{path}: {what} is not a list of numbers")
    return np.asarray(value, np.float32)


def _openpose_person(path: Path, person: dict) -> np.ndarray:
    flat = _numbers(path, person.get("pose_keypoints_2d", []), "pose_keypoints_2d")
    if flat.size == 18 * 3:
        return flat.reshape(18, 3)
    if flat.size == 25 * 3:
        return flat.reshape(25, 3)[list(BODY25_TO_COCO18)]
    raise DataError(
        f"{path}: pose_keypoints_2d has {flat.size} numbers; expected 54 (COCO-18) or 75 (BODY_25)"
    )


def _coco_annotations(path: Path, data: dict) -> list[dict]:
    annotations = data.get("annotations")
    if not isinstance(annotations, list) or not all(
            isinstance(a, dict) and all(isinstance(a.get(key, 0), int) for key in ("image_id", "id"))
            for a in annotations):
        raise DataError(f"{path}: 'annotations' is not a list of COCO annotations (objects with integer "
                        "'image_id' and 'keypoints')")
    return annotations


def _coco(path: Path, data: dict) -> np.ndarray:
    annotations = sorted(_coco_annotations(path, data), key=lambda a: (a.get("image_id", 0), a.get("id", 0)))
    if not annotations:
        raise DataError(f"{path}: COCO file with no annotations")
    frames = []
    for annotation in annotations:
        points = _numbers(path, annotation.get("keypoints", []), f"annotation {annotation.get('id', '?')}'s keypoints")
        if points.size != 17 * 3:
            raise DataError(
                f"{path}: annotation {annotation.get('id', '?')} has {points.size} keypoint numbers; expected 51"
            )
        points = points.reshape(17, 3)
        points[:, 2] = (points[:, 2] > 0).astype(np.float32)  # COCO visibility 0/1/2 -> confidence
        frames.append(from_coco17(points))
    return np.stack(frames)


def _npz(path: Path, skeleton: Skeleton, *, people: bool = False) -> np.ndarray:
    """``[T, K, 3]``, or with ``people`` ``[T, P, K, 3]``, from an ``.npz`` file."""
    try:
        with np.load(path) as archive:
            if "keypoints" in archive:
                points = archive["keypoints"]
            elif len(archive.files) == 1:
                points = archive[archive.files[0]]
            else:
                raise DataError(f"{path}: no array named 'keypoints' (found {', '.join(archive.files)})")
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:  # any bytes but an archive's
        raise DataError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
    if not (np.issubdtype(points.dtype, np.floating) or np.issubdtype(points.dtype, np.integer)):
        raise DataError(f"{path}: keypoints are {points.dtype}, not numbers")
    points = np.asarray(points, np.float32)
    if points.ndim == 2:
        points = points[None]
    lead = 2 if people else 1
    if points.ndim != lead + 2 or points.shape[-2] != skeleton.num_keypoints or points.shape[-1] not in (2, 3):
        expected = f"[T, P, {skeleton.num_keypoints}, 3]" if people else f"[T, {skeleton.num_keypoints}, 3]"
        raise DataError(
            f"{path}: keypoints have shape {list(points.shape)}; expected {expected} "
            f"(x, y, confidence of skeleton '{skeleton.name}')"
        )
    if points.shape[-1] == 2:
        points = np.concatenate([points, np.ones_like(points[..., :1])], axis=-1)
    return points


def _body_only(path: Path, skeleton: Skeleton) -> None:
    if skeleton.name != BODY_18.name:
        raise DataError(f"{path}: OpenPose and COCO JSON files hold body keypoints (skeleton 'body-18'), not "
                        f"skeleton '{skeleton.name}'; give its keypoints as .npz [T, {skeleton.num_keypoints}, 3]")


def load_people(path: str | Path, *, skeleton: Skeleton = BODY_18) -> np.ndarray:
    """Every person of one image ``[P, K, 3]``: an OpenPose frame's people, or a COCO file's annotations of
    its first image (both body-18). Other files hold frames of one person: their first frame."""
    path = Path(path)
    if path.suffix == ".json" and path.is_file():
        _body_only(path, skeleton)
        data = _read_json(path)
        if isinstance(data, dict) and "people" in data:
            return _openpose_people(path)
        if isinstance(data, dict) and data.get("annotations"):
            annotations = _coco_annotations(path, data)
            first_image = min(a.get("image_id", 0) for a in annotations)
            same = [a for a in annotations if a.get("image_id", 0) == first_image]
            return _coco(path, {**data, "annotations": same})
    return load_keypoints(path, skeleton=skeleton)[:1]


def _openpose_files(folder: Path) -> list[Path]:
    """The per-frame files of an OpenPose ``--write_json`` folder, in order."""
    files = sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json"))
    if not files:
        raise DataError(f"{folder}: folder has no *_keypoints.json files (OpenPose --write_json output)")
    return files


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not readable JSON ({error})") from None


def load_people_over_time(path: str | Path, *, skeleton: Skeleton = BODY_18) -> list[np.ndarray]:
    """Every person of every frame, ``[P_t, K, 3]`` per frame: a folder of OpenPose JSON (each frame's people),
    COCO JSON (each image's annotations, in ``image_id`` order), ``.npz`` ``[T, K, 3]`` (one person) or
    ``[T, P, K, 3]``, OpenFace CSV (one face)."""
    path = Path(path)
    if path.is_dir():
        _body_only(path, skeleton)
        return [_openpose_people(f) for f in _openpose_files(path)]
    if path.suffix == ".json" and path.is_file():
        _body_only(path, skeleton)
        data = _read_json(path)
        if isinstance(data, dict) and data.get("annotations"):
            annotations = _coco_annotations(path, data)
            images = sorted({a.get("image_id", 0) for a in annotations})
            return [_coco(path, {**data, "annotations": [a for a in annotations if a.get("image_id", 0) == image]})
                    for image in images]
    if path.suffix == ".npz" and path.is_file():
        try:
            with np.load(path) as archive:
                shape = archive["keypoints"].shape if "keypoints" in archive.files else None
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            shape = None  # load_keypoints says what is wrong with the file
        if shape is not None and len(shape) == 4:  # [T, P, K, 3]
            people = _npz(path, skeleton, people=True)
            return [frame[frame[..., 2].max(-1) > 0] for frame in people]
    return [frame[None] for frame in load_keypoints(path, skeleton=skeleton)]


def load_keypoints(path: str | Path, *, skeleton: Skeleton = BODY_18) -> np.ndarray:
    """Keypoints ``[T, K, 3]`` of ``skeleton`` from a ``.npz`` file, body-18 ``[T, 18, 3]`` from OpenPose or
    COCO JSON or a folder of OpenPose per-frame JSON files, or face-68 ``[T, 68, 3]`` from OpenFace's CSV."""
    path = Path(path)
    if path.is_dir():
        _body_only(path, skeleton)
        return np.stack([_openpose_frame(f) for f in _openpose_files(path)])
    if not path.exists():
        raise DataError(f"keypoints file not found: {path}")
    if path.suffix == ".npz":
        return _npz(path, skeleton)
    if path.suffix == ".csv":
        if skeleton.name != FACE_68.name:
            raise DataError(f"{path}: a CSV file is read as OpenFace's 68 face landmarks (skeleton 'face-68'), not "
                            f"skeleton '{skeleton.name}'")
        return load_openface_csv(path)
    if path.suffix == ".json":
        _body_only(path, skeleton)
        data = _read_json(path)
        if isinstance(data, dict) and "annotations" in data:
            return _coco(path, data)
        if isinstance(data, dict) and "people" in data:
            return _openpose_frame(path)[None]
        raise DataError(f"{path}: neither OpenPose ('people') nor COCO ('annotations') keypoint JSON")
    raise DataError(f"{path}: unsupported keypoints file; use .npz, OpenPose or COCO .json, a folder, or "
                    "OpenFace .csv (faces)")


def load_openface_csv(path: Path) -> np.ndarray:
    """OpenFace's FeatureExtraction CSV (``x_0..x_67``, ``y_0..y_67``, ``confidence``, ``success``; spaces after
    the commas) -> ``[T, 68, 3]``: confidence per frame, 0 where OpenFace did not track the face."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file, skipinitialspace=True))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None
    columns = [f"{axis}_{k}" for axis in "xy" for k in range(FACE_68.num_keypoints)]
    missing = [c for c in columns if not rows or c not in rows[0]]
    if missing:
        raise DataError(f"{path}: not OpenFace landmark output: no column {missing[0]} (expected x_0..x_67, "
                        "y_0..y_67 and confidence, as FeatureExtraction -2Dfp writes them)" if rows else
                        f"{path}: no rows")
    points = np.zeros((len(rows), FACE_68.num_keypoints, 3), np.float32)
    for t, row in enumerate(rows):
        try:
            points[t, :, 0] = [float(row[f"x_{k}"]) for k in range(FACE_68.num_keypoints)]
            points[t, :, 1] = [float(row[f"y_{k}"]) for k in range(FACE_68.num_keypoints)]
            tracked = float(row.get("success", 1) or 0) > 0
            points[t, :, 2] = float(row.get("confidence", 1) or 0) if tracked else 0.0
        except ValueError as error:
            raise DataError(f"{path}, row {t + 2}: a landmark is not a number ({error})") from None
    return points
