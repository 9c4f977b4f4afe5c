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
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton

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


def anchor_and_length(keypoints: np.ndarray, skeleton: Skeleton | str = BODY_18) -> tuple[float, np.ndarray] | None:
    """What framing measures in a pose ``[K, 3]`` of ``skeleton`` (:meth:`Skeleton.measure`): (length, anchor
    ``[2]``), or None where its keypoints are missing."""
    skeleton = as_skeleton(skeleton)
    if not skeleton.size_parts:
        raise DataError(f"skeleton '{skeleton.name}' does not say how to frame its poses (Skeleton.size_parts): "
                        "give it the keypoints whose distance sizes a person (a body's neck and hips)")
    return skeleton.measure(keypoints, found=SEEN)


def not_found(skeleton: Skeleton | str) -> str:
    """What a photo lacks when :func:`anchor_and_length` finds nothing, in words."""
    skeleton = as_skeleton(skeleton)
    return f"the keypoints that frame a {skeleton.name} pose were not found ({skeleton.size_text()})"


def framing_of(dataset: Any, clips: int = 64) -> Framing:
    """The mean framing over every frame of the first ``clips`` clips of a pose dataset."""
    skeleton = as_skeleton(getattr(dataset, "skeleton", BODY_18))
    lengths, anchors = [], []
    for index in range(min(clips, len(dataset))):
        for keypoints in clip_poses(dataset, index)["keypoints"].numpy():  # [T, K, 3]
            measured = anchor_and_length(keypoints, skeleton)
            if measured is not None:
                lengths.append(measured[0])
                anchors.append(measured[1])
    if not lengths:
        raise DataError(f"the model's training data has no frame with {skeleton.size_text()}: no framing to match")
    anchor = np.mean(anchors, axis=0)
    return Framing(resolution=int(dataset.resolution), anchor_x=float(anchor[0]), anchor_y=float(anchor[1]),
                   length=float(np.mean(lengths)), skeleton=skeleton.name)


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
        raise DataError(f"{not_found(framing.skeleton)}; pgvg animates people (or faces) in which they show")
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
