"""Differentiable augmentation of discriminator inputs (DiffAugment, Zhao et al. 2020), on Kornia.

Parameters are drawn once per batch and applied identically to the real and the fake batch and to their
conditions: a frame and its pose move together, and a horizontal flip also swaps the left and right keypoint
channels of a pose, so the pose still describes the flipped person.
"""

from __future__ import annotations

from typing import Any

import torch

from pgvg_core.interfaces import Augmentation
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton


class DiscriminatorAugment(Augmentation):
    """Translation, cutout, colour jitter and horizontal flip for D inputs ``[B, C, H, W]`` (Kornia).

    ``skeleton`` (set by pgvg from the data) says which pose channels a flip swaps.
    """

    def __init__(self, *, translation: float = 0.125, cutout: float = 0.25, color: bool = True,
                 flip: bool = True, probability: float = 1.0, skeleton: Skeleton | str = BODY_18) -> None:
        for name, value in (("translation", translation), ("cutout", cutout), ("probability", probability)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.translation, self.cutout, self.color, self.flip = translation, cutout, color, flip
        self.probability = probability
        self.skeleton = as_skeleton(skeleton)

    def sample(self, shape: torch.Size, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        batch, height, width = shape[0], shape[-2], shape[-1]

        def rand(*size: int) -> torch.Tensor:
            return torch.rand(size, generator=generator)

        return {
            "apply": rand(batch) < self.probability,
            "shift": ((rand(batch, 2) * 2 - 1) * self.translation * torch.tensor([width, height])).round(),
            "cut_centre": rand(batch, 2) * torch.tensor([width, height]),
            "cut_size": torch.tensor([width * self.cutout, height * self.cutout]),
            "brightness": rand(batch) - 0.5,       # added, in [0, 1] units
            "saturation": rand(batch) * 2,         # factor
            "contrast": rand(batch) + 0.5,         # factor
            "flip": rand(batch) < 0.5,
        }

    def apply(self, x: torch.Tensor, params: dict[str, Any], *, pose_channels: bool = False) -> torch.Tensor:
        """``x [B, C, H, W]`` (images in [-1, 1], or pose heatmaps with ``pose_channels=True``)."""
        import kornia  # noqa: PLC0415

        device, dtype = x.device, x.dtype
        p = {k: v.to(device) for k, v in params.items()}
        original = x
        if self.color and not pose_channels and x.shape[1] == 3:
            unit = (x + 1) / 2
            unit = kornia.enhance.adjust_brightness(unit, p["brightness"].to(dtype), clip_output=False)
            unit = kornia.enhance.adjust_saturation(unit, p["saturation"].to(dtype))
            unit = kornia.enhance.adjust_contrast(unit, p["contrast"].to(dtype), clip_output=False)
            x = unit * 2 - 1
        if self.translation:
            x = kornia.geometry.transform.translate(x, p["shift"].to(dtype), mode="nearest", padding_mode="zeros",
                                                    align_corners=True)
        if self.cutout:
            x = x * self._cutout_mask(x, p)
        if self.flip:
            flipped = kornia.geometry.transform.hflip(x)
            if pose_channels:
                if x.shape[1] != self.skeleton.num_keypoints:
                    raise ValueError(f"diffaugment: a pose of {x.shape[1]} channels, skeleton "
                                     f"'{self.skeleton.name}' has {self.skeleton.num_keypoints}")
                flipped = flipped[:, list(self.skeleton.flip_permutation)]
            x = torch.where(p["flip"][:, None, None, None], flipped, x)
        return torch.where(p["apply"][:, None, None, None], x, original)

    @staticmethod
    def _cutout_mask(x: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        height, width = x.shape[-2:]
        ys = torch.arange(height, device=x.device).view(1, height, 1)
        xs = torch.arange(width, device=x.device).view(1, 1, width)
        cx, cy = p["cut_centre"][:, 0, None, None], p["cut_centre"][:, 1, None, None]
        half_w, half_h = p["cut_size"][0] / 2, p["cut_size"][1] / 2
        inside = ((xs - cx).abs() < half_w) & ((ys - cy).abs() < half_h)
        return (~inside).to(x.dtype)[:, None]  # [B, 1, H, W]
