"""Person-centred framing: where a model's training data places people, and the crop of a photo that places
its person the same way.

A model trained on one framing (synthetic-actions: a person about 60 % of the frame tall, hips just below the
centre; synthetic-faces: a face filling most of the frame) fails on people of another size or place: its poses drift back to where training people stand, and
the warp smears the person. So ``pgvg animate`` measures the training framing (:func:`framing_of`), crops the
photo around its person to match (:func:`person_crop`: same torso length and hip position, or for a face the
same eyes-to-mouth length and eye midpoint), runs both stages
in that crop, and maps the poses back to the photo.

Coordinates are pixel coordinates where the centre of pixel ``(row i, column j)`` is ``(x=j, y=i)``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch

from pgvg_core.errors import DataError
from pgvg_core.interfaces import clip_poses
from pgvg_core.poses.keypoints import KEYPOINT_INDEX, LIMBS

NECK = KEYPOINT_INDEX["neck"]
HIPS = (KEYPOINT_INDEX["right_hip"], KEYPOINT_INDEX["left_hip"])
SEEN = 0.1  # confidence above which a joint counts as found


@attrs.frozen
class Framing:
    """How a dataset frames people: the mean anchor point and length (a body's hip centre and torso, neck to
    hip centre; a face's eye midpoint and the eyes-to-mouth distance), in pixels of its ``resolution``-sized
    frames, for keypoints of ``skeleton``."""

    resolution: int
    anchor_x: float
    anchor_y: float
    length: float
    skeleton: str = "body-18"

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Framing":
        """Also a framing saved before faces (a bundle's ``hip_x``, ``hip_y``, ``torso``)."""
        legacy = {"hip_x": "anchor_x", "hip_y": "anchor_y", "torso": "length"}
        return cls(**{legacy.get(key, key): value for key, value in data.items()})


def torso_and_hips(keypoints: np.ndarray) -> tuple[float, np.ndarray] | None:
    """``[K, 3]`` (body-18) -> (torso length, hip centre ``[2]``), or None without a neck and at least one hip."""
    hips = [keypoints[i, :2] for i in HIPS if keypoints[i, 2] > SEEN]
    if keypoints[NECK, 2] <= SEEN or not hips:
        return None
    hip = np.mean(hips, axis=0)
    return float(np.linalg.norm(keypoints[NECK, :2] - hip)), hip


def eyes_and_mouth(keypoints: np.ndarray) -> tuple[float, np.ndarray] | None:
    """``[68, 3]`` (face-68) -> (eye midpoint to mouth centre, eye midpoint ``[2]``), or None without both eyes
    and the mouth. That length changes little when the head turns or the mouth opens."""
    eyes = [keypoints[part] for part in (slice(36, 42), slice(42, 48))]
    mouth = keypoints[48:60]
    if any((part[:, 2] > SEEN).sum() < 3 for part in (*eyes, mouth)):
        return None
    centre = lambda part: part[part[:, 2] > SEEN, :2].mean(axis=0)  # noqa: E731
    midpoint = (centre(eyes[0]) + centre(eyes[1])) / 2
    return float(np.linalg.norm(centre(mouth) - midpoint)), midpoint


def anchor_and_length(keypoints: np.ndarray, skeleton: str = "body-18") -> tuple[float, np.ndarray] | None:
    """What framing measures in a pose of ``skeleton``: (length, anchor ``[2]``), or None where it is missing."""
    if skeleton == "face-68":
        return eyes_and_mouth(keypoints)
    if skeleton == "body-18":
        return torso_and_hips(keypoints)
    raise DataError(f"pgvg frames bodies (body-18) and faces (face-68), not skeleton '{skeleton}'")


def framing_of(dataset: Any, clips: int = 64) -> Framing:
    """The mean framing over every frame of the first ``clips`` clips of a pose dataset."""
    skeleton = getattr(dataset, "skeleton", "body-18")
    skeleton = skeleton if isinstance(skeleton, str) else skeleton.name
    lengths, anchors = [], []
    for index in range(min(clips, len(dataset))):
        for keypoints in clip_poses(dataset, index)["keypoints"].numpy():  # [T, K, 3]
            measured = anchor_and_length(keypoints, skeleton)
            if measured is not None:
                lengths.append(measured[0])
                anchors.append(measured[1])
    if not lengths:
        what = "both eyes and the mouth" if skeleton == "face-68" else "a neck and a hip"
        raise DataError(f"the model's training data has no frame with {what}: no framing to match")
    anchor = np.mean(anchors, axis=0)
    return Framing(resolution=int(dataset.resolution), anchor_x=float(anchor[0]), anchor_y=float(anchor[1]),
                   length=float(np.mean(lengths)), skeleton=skeleton)


@attrs.frozen
class PersonCrop:
    """A square of a photo, ``size`` pixels wide from ``(left, top)`` (integers: the crop is exact), that a
    model sees at ``resolution``; maps keypoints between the photo and the model's frame."""

    left: int
    top: int
    size: int
    resolution: int

    @property
    def scale(self) -> float:
        return self.resolution / self.size  # photo pixels -> model pixels

    def to_model(self, keypoints: torch.Tensor | np.ndarray) -> Any:
        """Photo keypoints ``[..., K, 3+]`` -> the model frame's (confidence unchanged)."""
        out = keypoints.clone() if isinstance(keypoints, torch.Tensor) else keypoints.copy()
        out[..., 0] = (keypoints[..., 0] - self.left + 0.5) * self.scale - 0.5
        out[..., 1] = (keypoints[..., 1] - self.top + 0.5) * self.scale - 0.5
        return out

    def to_photo(self, keypoints: torch.Tensor | np.ndarray) -> Any:
        out = keypoints.clone() if isinstance(keypoints, torch.Tensor) else keypoints.copy()
        out[..., 0] = (keypoints[..., 0] + 0.5) / self.scale - 0.5 + self.left
        out[..., 1] = (keypoints[..., 1] + 0.5) / self.scale - 0.5 + self.top
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "scale": self.scale}


def person_crop(keypoints: np.ndarray, framing: Framing) -> PersonCrop:
    """The square crop of a photo in which the person at ``keypoints [K, 3]`` (photo pixels) has the training
    data's length (torso, or eyes to mouth) and anchor position (hip centre, or eye midpoint)."""
    measured = anchor_and_length(keypoints, framing.skeleton)
    if measured is None:
        raise DataError("the face's eyes or mouth were not found; pgvg animates faces whose eyes and mouth show"
                        if framing.skeleton == "face-68" else
                        "the person's neck or hips were not found; pgvg animates people whose shoulders and hips "
                        "are in the photo")
    return crop_around(*measured, framing)


def crop_around(length: float, anchor: np.ndarray, framing: Framing) -> PersonCrop:
    """The square crop in which a person of framing length ``length`` at ``anchor [2]`` (photo pixels) is framed
    as ``framing`` frames people."""
    size = max(1, round(length * framing.resolution / framing.length))  # photo pixels seen as the whole frame
    scale = framing.resolution / size
    # Place the anchor where training frames have it (pixel-centre convention, see the module docstring).
    left = round(anchor[0] + 0.5 - (framing.anchor_x + 0.5) / scale)
    top = round(anchor[1] + 0.5 - (framing.anchor_y + 0.5) / scale)
    return PersonCrop(left=left, top=top, size=size, resolution=framing.resolution)


def following_crops(poses: np.ndarray, framing: Framing, smoothing: float = 1.5) -> list[PersonCrop]:
    """Square crops that follow a person over a clip ``[T, K, 3]`` (every frame's framing length and anchor
    measurable), framed as ``framing`` frames people: one size for the clip (from the median length, so the
    person does not zoom in and out), each frame's anchor smoothed over time (a Gaussian of ``smoothing``
    frames, so pose-estimator jitter does not shake the crop)."""
    measured = [anchor_and_length(pose, framing.skeleton) for pose in poses]
    if any(m is None for m in measured):
        missing = [t for t, m in enumerate(measured) if m is None]
        raise DataError(f"the person's framing points are missing in frame(s) {missing[:8]}")
    length = float(np.median([m[0] for m in measured]))
    anchors = np.stack([m[1] for m in measured])  # [T, 2]
    if smoothing > 0 and len(anchors) > 1:
        offsets = np.arange(len(anchors))
        weights = np.exp(-0.5 * ((offsets[:, None] - offsets[None]) / smoothing) ** 2)  # [T, T]
        anchors = weights @ anchors / weights.sum(1, keepdims=True)
    return [crop_around(length, anchor, framing) for anchor in anchors]


def crop_photo(photo: np.ndarray, crop: PersonCrop, size: int) -> np.ndarray:
    """uint8 ``[H, W, 3]`` -> the crop resampled to ``size`` x ``size`` (Lanczos, antialiased); where the crop
    leaves the photo, the photo's edge pixels are repeated."""
    from PIL import Image

    height, width = photo.shape[:2]
    pad = (max(0, -crop.top), max(0, crop.top + crop.size - height), max(0, -crop.left),
           max(0, crop.left + crop.size - width))
    top, left = crop.top + pad[0], crop.left + pad[2]
    padded = np.pad(photo, ((pad[0], pad[1]), (pad[2], pad[3]), (0, 0)), mode="edge") if any(pad) else photo
    square = padded[top : top + crop.size, left : left + crop.size]
    if crop.size == size:
        return np.array(square)  # a writable copy
    return np.array(Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS))


#: The limbs that move on their own (upper arms, forearms, thighs, shins): drawn as separate layers.
MOVING_LIMBS: tuple[tuple[int, int], ...] = ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13))
#: How far each of ``MOVING_LIMBS`` reaches from its bone, in torso lengths (neck to hips): a clothed adult's
#: upper arm, forearm, thigh and shin, with a little margin (sleeves, trousers).
LIMB_REACH: tuple[float, ...] = (0.15, 0.12, 0.15, 0.12, 0.2, 0.15, 0.2, 0.15)
#: How far each of ``MOVING_LIMBS`` goes on past its second joint, in lengths of its bone: the hand beyond
#: the wrist, the foot below the ankle (keypoints stop at the wrist and ankle; the limb does not).
LIMB_BEYOND: tuple[float, ...] = (0.0, 0.5, 0.0, 0.5, 0.0, 0.25, 0.0, 0.25)


def body_mask(keypoints: torch.Tensor, size: tuple[int, int], width: float | torch.Tensor,
              limbs: tuple[tuple[int, int], ...] = LIMBS, beyond: tuple[float, ...] | None = None) -> torch.Tensor:
    """Where a body drawn as thick limbs covers the image: ``[N, K, 3]`` (pixels) -> ``[N, H, W]`` in [0, 1].

    A pixel is inside when it is within ``width`` pixels (a number, one per pose ``[N]``, or one per pose and
    limb ``[N, L]``) of one of ``limbs`` whose two joints are found; the edge is soft over a quarter of
    ``width``. ``beyond`` (one per limb) lengthens each limb past its second joint by that share of its bone.
    """
    height, width_px = size
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width_px, dtype=torch.float32),
                            indexing="ij")
    points = torch.stack([xs, ys], dim=-1).view(1, 1, -1, 2)  # [1, 1, P, 2]
    a, b = (torch.tensor(index) for index in zip(*limbs))
    start, end = keypoints[:, a, None, :2].float(), keypoints[:, b, None, :2].float()  # [N, L, 1, 2]
    seen = (keypoints[:, a, 2] > SEEN) & (keypoints[:, b, 2] > SEEN)  # [N, L]
    bone = end - start
    longest = 1.0 if beyond is None else 1.0 + torch.tensor(beyond, dtype=torch.float32)[None, :, None]  # [1, L, 1]
    along = (((points - start) * bone).sum(-1) / bone.square().sum(-1).clamp(min=1e-6))
    along = torch.minimum(along.clamp(min=0), torch.as_tensor(longest))
    distance = (points - start - along[..., None] * bone).norm(dim=-1)  # [N, L, P]
    distance = distance.masked_fill(~seen[..., None], float("inf"))
    width = torch.as_tensor(width, dtype=torch.float32)
    if width.dim() < 2:  # one width for every limb: the nearest limb decides
        width = width.reshape(-1, 1)  # [N or 1, 1]
        return torch.sigmoid((width - distance.amin(dim=1)) / (0.25 * width)).view(-1, height, width_px)
    width = width[..., None]  # [N or 1, L, 1]
    return torch.sigmoid((width - distance) / (0.25 * width)).amax(dim=1).view(-1, height, width_px)


def fill_holes(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Push-pull inpainting: ``image [B, C, H, W]`` with ``hole [B, 1, H, W]`` (1 = unknown) filled smoothly
    from the known pixels around it (averages over a pyramid, coarse levels filling what fine ones cannot)."""
    known = (hole < 0.5).to(image.dtype)
    if bool(known.all()) or min(image.shape[-2:]) <= 2:
        mean = (image * known).sum((-2, -1), keepdim=True) / known.sum((-2, -1), keepdim=True).clamp(min=1)
        return known * image + (1 - known) * mean
    weight = torch.nn.functional.avg_pool2d(known, 2, ceil_mode=True)
    coarse = torch.nn.functional.avg_pool2d(image * known, 2, ceil_mode=True) / weight.clamp(min=1e-6)
    filled = fill_holes(coarse, (weight <= 0).to(image.dtype))
    up = torch.nn.functional.interpolate(filled, size=image.shape[-2:], mode="bilinear", align_corners=False)
    return known * image + (1 - known) * up


def clean_plate(image: torch.Tensor, keypoints: torch.Tensor, torso: float,
                limbs: tuple[tuple[int, int], ...] = MOVING_LIMBS) -> torch.Tensor:
    """The picture without the person's arms and legs (``image [B, 3, H, W]``, keypoints ``[B, K, 3]`` in its
    pixels), or only without ``limbs``: what shows where a limb was once it has moved away, filled from the
    torso and background (a blur: remove only the limbs that move, see :func:`limbs_that_move`)."""
    if not limbs:
        return image.clone()
    size = tuple(image.shape[-2:])
    index = [MOVING_LIMBS.index(limb) for limb in limbs]
    reach = torch.tensor([[PLATE_MARGIN * LIMB_REACH[i] * torso for i in index]])
    holes = body_mask(keypoints, size, width=reach, limbs=limbs,
                      beyond=tuple(LIMB_BEYOND[i] for i in index))[:, None]  # [B, 1, H, W]
    # A hole on the trunk is filled from the trunk, one beside it from the background: an arm that hung at
    # the side leaves background there, not a smear of skin and wall.
    trunk = torso_mask(keypoints, size)[:, None]  # [B, 1, H, W]
    from_trunk = fill_holes(image, ((holes > 0.5) | ~trunk).to(image.dtype))
    from_background = fill_holes(image, ((holes > 0.5) | trunk).to(image.dtype))
    empty = ~(trunk & (holes <= 0.5)).flatten(1).any(1)[:, None, None, None]  # no trunk left to fill from
    filled = torch.where(trunk & ~empty, from_trunk, from_background)
    fill = (2 * holes).clamp(max=1)  # the whole hole filled, its soft outer edge fading into the picture
    return fill * filled + (1 - fill) * image


# How far the person reaches from each bone of ``LIMBS``, in torso lengths, and past its second joint: the
# trunk and clothes about the shoulders-hips line, the arms and legs as in ``LIMB_REACH`` / ``LIMB_BEYOND``,
# the head with its hair about the nose, eyes and ears.
_SILHOUETTE = {(1, 2): 0.15, (1, 5): 0.15, (2, 3): 0.15, (3, 4): 0.12, (5, 6): 0.15, (6, 7): 0.12,
               (1, 8): 0.3, (8, 9): 0.2, (9, 10): 0.15, (1, 11): 0.3, (11, 12): 0.2, (12, 13): 0.15,
               (1, 0): 0.3, (0, 14): 0.35, (14, 16): 0.35, (0, 15): 0.35, (15, 17): 0.35}
_SILHOUETTE_BEYOND = {(3, 4): 0.5, (6, 7): 0.5, (9, 10): 0.25, (12, 13): 0.25}


def person_silhouette(keypoints: torch.Tensor, size: tuple[int, int], torsos: torch.Tensor) -> torch.Tensor:
    """Roughly where a person is, hair and clothes included: ``[N, K, 3]`` (pixels), torso lengths ``[N]`` ->
    ``[N, H, W]`` in [0, 1] (the torso's quadrilateral and thick bones)."""
    reach = torsos[:, None].float() * torch.tensor([_SILHOUETTE[limb] for limb in LIMBS])[None]  # [N, L]
    beyond = tuple(_SILHOUETTE_BEYOND.get(limb, 0.0) for limb in LIMBS)
    bones = body_mask(keypoints, size, reach, limbs=LIMBS, beyond=beyond)
    return torch.maximum(bones, torso_mask(keypoints, size).float())


def torso_mask(keypoints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Inside the quadrilateral of the shoulders and hips of poses ``[N, K, 3]`` (pixels): ``[N, H, W]`` bool
    (all False where one of the four is missing)."""
    corners = [KEYPOINT_INDEX[name] for name in ("right_shoulder", "left_shoulder", "left_hip", "right_hip")]
    quad = keypoints[:, corners].float()  # [N, 4, 3]
    height, width = size
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    sides = []
    for i in range(4):
        a, b = quad[:, i, None, None, :2], quad[:, (i + 1) % 4, None, None, :2]  # [N, 1, 1, 2]
        sides.append((b[..., 0] - a[..., 0]) * (ys - a[..., 1]) - (b[..., 1] - a[..., 1]) * (xs - a[..., 0]))
    sides = torch.stack(sides)  # [4, N, H, W]: the same sign on every side = inside (either winding)
    inside = (sides >= 0).all(0) | (sides <= 0).all(0)
    return inside & (quad[:, :, 2] > SEEN).all(1)[:, None, None]


PLATE_MARGIN = 1.25  # a limb's hole in the clean plate is this much wider than the limb (pose errors)


def limb_reach(torsos: torch.Tensor) -> torch.Tensor:
    """How far each of ``MOVING_LIMBS`` reaches from its bone, in pixels, for torsos ``[N]``: ``[N, L]``."""
    return torsos[:, None].float() * torch.tensor(LIMB_REACH)[None]


def limbs_that_move(poses: torch.Tensor, torso: float, threshold: float = 0.1) -> tuple[tuple[int, int], ...]:
    """The limbs of ``MOVING_LIMBS`` that move against the neck over a clip ``[T, K, 3]`` (more than
    ``threshold`` torso lengths, at either end, in some frame): a limb that only travels with the body (a
    jump) or stays still keeps its place in the clean plate."""
    relative = poses[:, :, :2] - poses[:, 1:2, :2]  # [T, K, 2] against the neck
    travel = (relative - relative[:1]).norm(dim=-1).amax(0)  # [K]
    seen = (poses[:, :, 2] > SEEN).all(0)
    moves = (travel > threshold * torso) & seen
    return tuple((a, b) for a, b in MOVING_LIMBS if bool(moves[a]) or bool(moves[b]))


def limb_width(torso: float) -> float:
    """How far from its bone an arm or leg reaches, for a torso (neck to hips) of ``torso`` pixels."""
    return 0.2 * torso
