"""The photo to animate: reading it, finding its person (or face) and the pose source that does, checking that
they can be animated, their segmentation, and which shipped model a photo needs (body or face)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pgvg_core.errors import DataError, PgvgError
from pgvg_core.poses.keypoints import FOUND, INFERRED, KEYPOINT_INDEX, KEYPOINT_NAMES, SURE
from pgvg_core.poses.skeleton import FACE_68, Skeleton, skeleton_by_name, torso_and_hips

log = logging.getLogger("pgvg.animate")


# Joints without which there is no body to animate.
REQUIRED_JOINTS = ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip")
MIN_FACE = 8        # photo pixels from the eyes to the mouth: below, too small to animate


MIN_TORSO = 10      # photo pixels from neck to hips (a person about 30 px tall): below, too small to animate
UNSURE = SURE       # a photo's joint found with less confidence than this counts as missing


def default_pose_source(skeleton: str) -> str:
    """The pose source that finds keypoints of ``skeleton`` in photos and videos (``Skeleton.pose_source``)."""
    name = skeleton_by_name(skeleton).pose_source
    if name is None:
        raise PgvgError(f"skeleton '{skeleton}' names no pose source for real photos (Skeleton.pose_source): give "
                        "--pose-source NAME, or the keypoints with --keypoints / --poses")
    return name


@functools.lru_cache(maxsize=2)
def _segmenter(name: str) -> Any:
    from pgvg_core.config import ComponentSpec, build

    return build("pose_sources", ComponentSpec(name=name), path="--pose-source")


def person_segmentation(photo: np.ndarray, points: np.ndarray, skeleton: Skeleton,
                        pose_source: str | None = None) -> np.ndarray | None:
    """Where the person with ``points [K, 3]`` is in ``photo`` (``float32 [H, W]`` in [0, 1]: hair, hands and
    clothes included), from ``pose_source`` or the skeleton's own (``PoseSource.person_mask``); None where
    that source cannot segment or is not installed: the person is then cleared by their keypoints alone."""
    name = pose_source or skeleton.pose_source
    if name is None:
        return None
    try:
        mask = _segmenter(name).person_mask(photo, points)
    except (PgvgError, ImportError, RuntimeError) as error:
        log.info("no person segmentation from '%s' (%s): the person is cleared by their keypoints' outline",
                 name, str(error).splitlines()[0])
        return None
    return None if mask is None else np.asarray(mask, np.float32)


def read_photo(path: Path) -> np.ndarray:
    """An RGB photo as uint8 ``[H, W, 3]``; grayscale, RGBA and non-images are errors that say what to do."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"image not found: {path}")
    try:
        with Image.open(path) as picture:
            mode = picture.mode
            if mode in ("L", "LA", "1", "I", "I;16", "F"):
                raise DataError(f"{path}: a grayscale image ({mode}); pgvg animates colour photos: give an RGB image")
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in picture.info):
                raise DataError(f"{path}: an image with transparency ({mode}); flatten it onto a background "
                                "and save it as RGB (e.g. JPEG)")
            return np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path}: not a readable image ({error}); use a PNG or JPEG photo") from None


def _person_size(points: np.ndarray) -> float:
    measured = torso_and_hips(points)
    return measured[0] if measured else 0.0


def photo_pose(photo: np.ndarray, path: Path, *, pose_source: str | None, keypoints_file: str | None,
               person: int | None = None, skeleton: str = "body-18") -> np.ndarray:
    """The keypoints ``[K, 3]`` of the person (or face, for a ``face-68`` model) to animate, in the photo's
    pixels."""
    from pgvg_core.config import ComponentSpec, build

    if keypoints_file:
        params = {"file": keypoints_file, **({"skeleton": skeleton} if skeleton != "body-18" else {})}
        spec, option = ComponentSpec(name="keypoints-file", params=params), "--keypoints"
        source = f"keypoints file {keypoints_file}"
    else:
        name = pose_source or default_pose_source(skeleton)
        spec, option, source = ComponentSpec(name=name), "--pose-source", f"pose source '{name}'"
    estimator = build("pose_sources", spec, path=option)
    if getattr(estimator, "provides_ground_truth", False):
        raise PgvgError("--pose-source ground-truth has no poses for a photo; use mediapipe or --keypoints")
    people = estimator.people(photo, path=path)
    people = np.array(people, dtype=np.float32)  # [P, K, 3]
    # Pose estimators guess joints beyond the frame or hidden (MediaPipe gives the hips of a bust, below the
    # picture or at its edge, with low visibility): a joint outside the photo, or one the estimator is unsure
    # of, is missing.
    height, width = photo.shape[:2]
    outside = (people[..., 0] < 0) | (people[..., 0] > width - 1) | (people[..., 1] < 0) | (people[..., 1] > height - 1)
    people[..., 2] = np.where(outside | (people[..., 2] < UNSURE), 0.0, people[..., 2])
    if people.shape[1:] != (skeleton_by_name(skeleton).num_keypoints, 3):
        raise PgvgError(f"{source} gives keypoints of shape {list(people.shape[1:])}; the model's skeleton "
                        f"'{skeleton}' has {skeleton_by_name(skeleton).num_keypoints} (use a pose source for it: "
                        f"{skeleton_by_name(skeleton).pose_source or 'keypoints-file'})")
    if skeleton == FACE_68.name:
        return _the_face(people, path, source, person)
    found = [p for p in people if sum(p[KEYPOINT_INDEX[j], 2] > 0.1 for j in REQUIRED_JOINTS) >= 3]
    if not found:
        raise DataError(f"{path}: no person found by {source} (a person needs at least 3 of "
                        f"{', '.join(REQUIRED_JOINTS)}); use a photo where the person's shoulders and hips are "
                        "visible, or give --keypoints")
    # The largest person first: the one a viewer takes for the subject.
    found.sort(key=_person_size, reverse=True)
    if person is not None and not 0 <= person < len(found):
        raise PgvgError(f"--person {person}: {source} has {len(found)} people in {path} (0 to {len(found) - 1}, "
                        "largest first)")
    if len(found) > 1:
        log.warning("%d people in %s (%s); animating person %d (%s, largest first); --person N picks another",
                    len(found), path.name, source, person or 0, "torso %.0f px" % _person_size(found[person or 0]))
    return found[person or 0].astype(np.float32)


def _the_face(faces: np.ndarray, path: Path, source: str, person: int | None) -> np.ndarray:
    """The face to animate among ``faces [P, 68, 3]`` (largest first): one whose eyes and mouth were found."""
    measured = [(FACE_68.measure(face), face) for face in faces]
    found = [face for size, face in sorted((m for m in measured if m[0] is not None), key=lambda m: -m[0][0])]
    if not found:
        raise DataError(f"{path}: no face found by {source}; use a photo where a face looks towards the camera, "
                        "eyes and mouth visible, or give its 68 landmarks with --keypoints (.npz [1, 68, 3] or "
                        "OpenFace .csv)")
    if person is not None and not 0 <= person < len(found):
        raise PgvgError(f"--person {person}: {source} has {len(found)} faces in {path} (0 to {len(found) - 1}, "
                        "largest first)")
    if len(found) > 1:
        log.warning("%d faces in %s; animating face %d (largest first); --person N picks another", len(found),
                    path.name, person or 0)
    return found[person or 0].astype(np.float32)


def check_face(points: np.ndarray, path: Path) -> list[str]:
    """Refuse a face too small to animate."""
    length = FACE_68.measure(points)[0]
    if length < MIN_FACE:
        raise DataError(f"{path}: the face is too small to animate (eyes to mouth {length:.0f} px; at least "
                        f"{MIN_FACE} px is needed): use a photo where the face is larger, or crop it around it")
    return []


def check_body(points: np.ndarray, path: Path, action: str, moved: set[int]) -> list[str]:
    """Refuse what cannot be animated, with the reason; return warnings for what can, with a loss."""
    torso = _person_size(points)
    if torso == 0.0:
        raise DataError(f"{path}: the person's neck or both hips are missing (a bust or a crop above the waist?); "
                        "pgvg animates people whose shoulders and hips are in the photo")
    if torso < MIN_TORSO:
        raise DataError(f"{path}: the person is too small to animate (neck to hips {torso:.0f} px, about "
                        f"{torso * 3:.0f} px tall; at least {MIN_TORSO} px from neck to hips is needed): use a "
                        "photo where the person is larger, or crop it around them")
    missing = [KEYPOINT_NAMES[k] for k in sorted(moved) if points[k, 2] <= 0.1]
    if missing:
        raise DataError(f"{path}: '{action}' moves {', '.join(missing)}, which the photo does not show (cut by "
                        "the frame edge or hidden); use a photo that shows them, or an action that moves only "
                        "what is visible")
    absent = [name for name in ("right_knee", "left_knee", "right_ankle", "left_ankle")
              if points[KEYPOINT_INDEX[name], 2] <= 0.1]
    warnings = []
    if absent:
        warnings.append(f"the person's {', '.join(absent)} are not in the photo; '{action}' does not move them, "
                        "so they stay out of the video")
    return warnings



def facing_away(points: np.ndarray) -> bool:
    """Whether a body (``points [18, 3]``, body-18, photo pixels) is seen from behind: its right shoulder and
    right hip on the right of the picture (a person facing the camera has them on the left), each pair apart by
    at least a sixth of the torso (a side view's overlapping shoulders decide nothing)."""
    torso = _person_size(points)
    if torso == 0.0:
        return False
    votes = []
    for joint in ("shoulder", "hip"):
        right, left = points[KEYPOINT_INDEX[f"right_{joint}"]], points[KEYPOINT_INDEX[f"left_{joint}"]]
        if right[2] > FOUND and left[2] > FOUND:
            votes.append(float(right[0] - left[0]) / torso)
    return bool(votes) and all(vote > 1 / 6 for vote in votes)


def mirrored(poses: torch.Tensor, centre: float) -> torch.Tensor:
    """Poses ``[..., K, 3]`` mirrored left to right about the vertical line ``x = centre`` (labels kept: a back
    view mirrored has a front view's geometry, its right arm on the picture's left)."""
    out = poses.clone()
    out[..., 0] = 2 * centre - poses[..., 0]
    return out


# A body's limb chains, from the trunk out; left and right are twins.
LIMB_CHAINS = {"arm": ("shoulder", "elbow", "wrist"), "leg": ("hip", "knee", "ankle")}


def infer_hidden_limbs(points: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A body seen from the side hides its far arm (or leg) behind the near one, and one seen from behind can
    hide a hand in front of its belly: each hidden joint of a limb (elbow, wrist; knee, ankle) whose twin limb
    shows whole is inferred from the twin, placed from its parent joint as the twin's is from its own (a
    whole limb hangs as the twin does, from the hidden side's shoulder or hip where that is found, else from
    the twin's), with confidence ``INFERRED`` (the renderer draws such a limb behind the body, with the twin's
    look, as it is in the photo). ``points [18, 3]`` (body-18) -> (the points with the inferred joints, a note
    per inferred limb)."""
    out, notes = points.copy(), []
    for limb, chain in LIMB_CHAINS.items():
        for side, twin in (("left", "right"), ("right", "left")):
            hidden = [KEYPOINT_INDEX[f"{side}_{joint}"] for joint in chain]
            shown = [KEYPOINT_INDEX[f"{twin}_{joint}"] for joint in chain]
            missing = [i for i in range(1, len(chain)) if points[hidden[i], 2] <= FOUND]
            if not missing or (points[shown, 2] <= FOUND).any():
                continue  # the limb shows, or its twin does not: nothing to infer from
            if out[hidden[0], 2] <= FOUND:  # the root itself hidden: where the twin's is
                out[hidden[0], :2], out[hidden[0], 2] = points[shown[0], :2], INFERRED
            for i in missing:  # from the trunk out: each parent is found or already inferred
                out[hidden[i], :2] = out[hidden[i - 1], :2] + points[shown[i], :2] - points[shown[i - 1], :2]
                out[hidden[i], 2] = INFERRED
            if len(missing) == len(chain) - 1:
                notes.append(f"the person's {side} {limb} is hidden in the photo (seen from the side?): inferred "
                             f"from the {twin} one and drawn behind the body")
            else:
                names = " and ".join(chain[i] for i in missing)
                notes.append(f"the person's {side} {names} is hidden in the photo: inferred from the {twin} {limb} "
                             "and drawn behind the body")
    return out, notes


def _model_for(photo: np.ndarray, path: Path, *, pose_source: str | None, keypoints_file: str | None,
               person: int | None) -> tuple[str, np.ndarray | None]:
    """The shipped model for what the photo shows: the body model where a body is found (or a keypoints file
    holds a body's), else the face model where a face is found (or the file holds 68 landmarks); and the pose
    that decided it (in the chosen model's skeleton), so it is not looked for again, or None."""
    from pgvg_core.training.weights import SHIPPED_FACE

    if keypoints_file:
        try:
            photo_pose(np.zeros((2, 2, 3), np.uint8), path, pose_source=None, keypoints_file=keypoints_file,
                       skeleton="face-68")
            return "face", None
        except PgvgError:
            return "body", None
    if pose_source is not None or not SHIPPED_FACE.is_file():
        return "body", None  # a pose source names what it finds; without the face model there is no choice
    try:
        body = photo_pose(photo, path, pose_source=None, keypoints_file=None, person=person, skeleton="body-18")
        if _person_size(body) > 0:  # a body down to the hips; a head and shoulders is a portrait
            return "body", body
        no_body = DataError(f"{path}: the person's neck or both hips are missing (a bust?), and no face was found")
    except DataError as error:
        no_body = error
    try:
        face = photo_pose(photo, path, pose_source=None, keypoints_file=None, person=person, skeleton="face-68")
    except DataError:
        raise no_body from None
    log.info("no whole body in %s, a face: the shipped face model animates it (--model body or face picks one)",
             path.name)
    return "face", face
