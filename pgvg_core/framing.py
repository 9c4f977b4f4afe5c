"""Person-centred framing: where a model's training data places people, and the crop of a photo that places
its person the same way.

A model trained on one framing (synthetic-actions: a person about 60 % of the frame tall, hips just below the
centre) fails on people of another size or place: its poses drift back to where training people stand, and
the warp smears the person. So ``pgvg animate`` measures the training framing (:func:`framing_of`), crops the
photo around its person to match (:func:`person_crop`: same torso length, same hip position), runs both stages
in that crop, and maps the poses back to the photo.

Coordinates are pixel coordinates where the centre of pixel ``(row i, column j)`` is ``(x=j, y=i)``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch

from pgvg_core.errors import DataError
from pgvg_core.pose import KEYPOINT_INDEX, LIMBS

NECK = KEYPOINT_INDEX["neck"]
HIPS = (KEYPOINT_INDEX["right_hip"], KEYPOINT_INDEX["left_hip"])
SEEN = 0.1  # confidence above which a joint counts as found


@attrs.frozen
class Framing:
    """How a dataset frames people: the mean hip centre and torso length (neck to hip centre), in pixels of
    its ``resolution``-sized frames."""

    resolution: int
    hip_x: float
    hip_y: float
    torso: float

    def as_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


def torso_and_hips(keypoints: np.ndarray) -> tuple[float, np.ndarray] | None:
    """``[K, 3]`` -> (torso length, hip centre ``[2]``), or None without a neck and at least one hip."""
    hips = [keypoints[i, :2] for i in HIPS if keypoints[i, 2] > SEEN]
    if keypoints[NECK, 2] <= SEEN or not hips:
        return None
    hip = np.mean(hips, axis=0)
    return float(np.linalg.norm(keypoints[NECK, :2] - hip)), hip


def framing_of(dataset: Any, clips: int = 64) -> Framing:
    """The mean framing over every frame of the first ``clips`` clips of a pose dataset."""
    torsos, hips = [], []
    for index in range(min(clips, len(dataset))):
        for keypoints in dataset[index]["keypoints"].numpy():  # [T, K, 3]
            measured = torso_and_hips(keypoints)
            if measured is not None:
                torsos.append(measured[0])
                hips.append(measured[1])
    if not torsos:
        raise DataError("the model's training data has no frame with a neck and a hip: no framing to match")
    hip = np.mean(hips, axis=0)
    return Framing(resolution=int(dataset.resolution), hip_x=float(hip[0]), hip_y=float(hip[1]),
                   torso=float(np.mean(torsos)))


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
    data's torso length and hip position."""
    measured = torso_and_hips(keypoints)
    if measured is None:
        raise DataError("the person's neck or hips were not found; pgvg animates people whose shoulders and hips "
                        "are in the photo")
    torso, hip = measured
    size = max(1, round(torso * framing.resolution / framing.torso))  # photo pixels seen as the whole frame
    scale = framing.resolution / size
    # Place the hip centre where training frames have it (pixel-centre convention, see the module docstring).
    left = round(hip[0] + 0.5 - (framing.hip_x + 0.5) / scale)
    top = round(hip[1] + 0.5 - (framing.hip_y + 0.5) / scale)
    return PersonCrop(left=left, top=top, size=size, resolution=framing.resolution)


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


def body_mask(keypoints: torch.Tensor, size: tuple[int, int], width: float | torch.Tensor,
              limbs: tuple[tuple[int, int], ...] = LIMBS) -> torch.Tensor:
    """Where a body drawn as thick limbs covers the image: ``[N, K, 3]`` (pixels) -> ``[N, H, W]`` in [0, 1].

    A pixel is inside when it is within ``width`` pixels (a number, or one per pose ``[N]``) of one of
    ``limbs`` whose two joints are found; the edge is soft over a quarter of ``width``.
    """
    height, width_px = size
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width_px, dtype=torch.float32),
                            indexing="ij")
    points = torch.stack([xs, ys], dim=-1).view(1, 1, -1, 2)  # [1, 1, P, 2]
    a, b = (torch.tensor(index) for index in zip(*limbs))
    start, end = keypoints[:, a, None, :2].float(), keypoints[:, b, None, :2].float()  # [N, L, 1, 2]
    seen = (keypoints[:, a, 2] > SEEN) & (keypoints[:, b, 2] > SEEN)  # [N, L]
    bone = end - start
    along = (((points - start) * bone).sum(-1) / bone.square().sum(-1).clamp(min=1e-6)).clamp(0, 1)
    distance = (points - start - along[..., None] * bone).norm(dim=-1)  # [N, L, P]
    nearest = distance.masked_fill(~seen[..., None], float("inf")).amin(dim=1)  # [N, P]
    width = torch.as_tensor(width, dtype=torch.float32).reshape(-1, 1)  # [N or 1, 1]
    return torch.sigmoid((width - nearest) / (0.25 * width)).view(-1, height, width_px)


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


def clean_plate(image: torch.Tensor, keypoints: torch.Tensor, torso: float) -> torch.Tensor:
    """The picture without the person's arms and legs (``image [B, 3, H, W]``, keypoints ``[B, K, 3]`` in its
    pixels): what shows where a limb was once it has moved away, filled from the torso and background."""
    size = tuple(image.shape[-2:])
    limbs = body_mask(keypoints, size, width=limb_width(torso), limbs=MOVING_LIMBS)[:, None]  # [B, 1, H, W]
    return fill_holes(image, limbs)


def limb_width(torso: float) -> float:
    """How far from its bone an arm or leg reaches, for a torso (neck to hips) of ``torso`` pixels."""
    return 0.2 * torso
