"""PatchGAN: one logit per 70x70 patch (for ``n_layers = 3``), conditioned by channel concatenation."""

from __future__ import annotations

import torch
from torch import nn

from pgvg_core.blocks import InstanceNorm2d, in_weight_layout, init_weights, patch_layers
from pgvg_core.interfaces import Discriminator

CONDITIONS = ("none", "pose", "image")


class PatchGAN(Discriminator):
    """70x70 PatchGAN over a frame and its condition (a pose's heatmaps, or an image), concatenated."""

    batch_independent = True  # instance norm: each sample's statistics alone

    def __init__(
        self,
        *,
        condition: str = "none",   # what is concatenated to the frame: none, pose (K heatmaps) or image (RGB)
        keypoints: int = 18,       # K, set by pgvg
        image_channels: int = 3,
        ndf: int = 64,             # base channels
        n_layers: int = 3,         # stride-2 layers: 3 gives 70x70 patches
        pose_channels: int = 0,    # > 0: a pose condition's K heatmaps first mixed into this many (a 1x1 conv)
    ) -> None:
        """``pose_channels``: a face's 68 heatmaps make the first layer 68/18 times a body's; mixed into 16
        channels first, the layer costs a body's (measured: SCGAN's face step 5.3 s against 2.5 s for a body,
        the full-resolution layers that read the poses taking the difference)."""
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
        if pose_channels < 0:
            raise ValueError(f"pose_channels must be >= 0 (0: the heatmaps as they are), got {pose_channels}")
        self.condition = condition
        self.pose_mix = nn.Conv2d(keypoints, pose_channels, 1) if condition == "pose" and pose_channels else None
        extra = {"none": 0, "pose": pose_channels or keypoints, "image": image_channels}[condition]
        self.in_channels = image_channels + extra
        self.net = patch_layers(nn.Conv2d, InstanceNorm2d, self.in_channels, ndf, n_layers)
        init_weights(self)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, 3, H, W]``, ``condition [B, C', H, W]`` -> logits ``[B, 1, H', W']``."""
        if (condition is None) != (self.condition == "none"):
            raise ValueError(f"this PatchGAN is built with condition={self.condition!r}; pass "
                             + ("no condition" if self.condition == "none" else f"the {self.condition} as condition"))
        if condition is not None and self.pose_mix is not None:
            condition = self.pose_mix(condition.to(x.dtype))  # [B, pose_channels, H, W]
        inputs = x if condition is None else torch.cat([x, condition.to(x.dtype)], dim=1)
        return self.net(in_weight_layout(inputs, self.net))

    def extra_repr(self) -> str:
        return f"condition={self.condition!r}, in_channels={self.in_channels}"
