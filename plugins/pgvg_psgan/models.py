"""PSGAN's networks: a pose + class -> pose-sequence generator, and a class-conditioned 3D PatchGAN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pgvg_core.blocks import ConditionalResBlock2d, down2d, init_weights, patch_layers
from pgvg_core.interfaces import Discriminator, Generator

ENCODER_DOWNSAMPLING = 16  # four stride-2 convolutions


def _check_frames(frames: int) -> None:
    if frames < 2 or frames > 16 or frames & (frames - 1):
        raise ValueError(f"frames must be 2, 4, 8 or 16 (the decoder doubles time per layer), got {frames}")


class PSGANGenerator(Generator):
    """PSGAN generator: first pose [B, K, H, W] + class + noise -> pose sequence [B, K, T, H, W] in [0, 1].

    Encoder of 4 convolutions (kernel 4, stride 2); the class one-hot (broadcast over space) and the noise
    concatenated with the encoded features; residual blocks (whose instance norms the class and noise also
    modulate: a spatially constant input is otherwise erased by instance norm); the bottleneck given a time axis
    (C x H' x W' -> C x 1 x H' x W') and decoded by 3D transposed convolutions of stride 2 to T x H x W.

    Fully convolutional: the output has the input's H x W (any multiple of 16). The objective chooses the
    heatmap resolution (PSGAN's default is half the frame size: heatmaps are smooth, and a 64x64x16 volume
    costs four times the compute of a 32x32x16 one).
    """

    def __init__(
        self,
        *,
        keypoints: int = 18,         # K: heatmap channels
        num_classes: int = 10,       # actions; set by pgvg from the dataset
        frames: int = 16,            # T: 2, 4, 8 or 16
        ngf: int = 32,               # base channels
        n_res_blocks: int = 3,       # residual blocks at the bottleneck
        noise_dim: int = 16,         # Z: noise channels (0 = deterministic)
        first_pose_skip: bool = True,  # give the decoder's last layer the first pose (keeps the body in place)
    ) -> None:
        super().__init__()
        _check_frames(frames)
        self.keypoints, self.num_classes, self.frames = keypoints, num_classes, frames
        self.noise_dim, self.first_pose_skip = noise_dim, first_pose_skip
        widths = [ngf, ngf * 2, ngf * 4, ngf * 8]
        self.encoder = nn.Sequential(
            down2d(keypoints, widths[0], norm=False), down2d(widths[0], widths[1]),
            down2d(widths[1], widths[2]), down2d(widths[2], widths[3]),
        )
        bottleneck = widths[3]
        condition_dim = num_classes + noise_dim
        # No norm here: it would remove the (spatially constant) class and noise channels again.
        self.fuse = nn.Sequential(nn.Conv2d(bottleneck + condition_dim, bottleneck, 1), nn.ReLU(inplace=True))
        self.res_blocks = nn.ModuleList([ConditionalResBlock2d(bottleneck, condition_dim) for _ in range(n_res_blocks)])
        # Four transposed 3D convolutions double H and W; the first log2(T) of them also double time.
        time_doublings = int(math.log2(frames))
        decoder: list[nn.Module] = []
        channels = [bottleneck, widths[2], widths[1], widths[0], widths[0]]
        for i in range(4):
            doubles_time = i < time_doublings
            decoder += [
                nn.ConvTranspose3d(channels[i], channels[i + 1], kernel_size=(4 if doubles_time else 3, 4, 4),
                                   stride=(2 if doubles_time else 1, 2, 2), padding=1, bias=False),
                nn.InstanceNorm3d(channels[i + 1], affine=True),
                nn.ReLU(inplace=True),
            ]
        self.decoder = nn.Sequential(*decoder)
        head_in = widths[0] + (keypoints if first_pose_skip else 0)
        self.head = nn.Conv3d(head_in, keypoints, kernel_size=3, padding=1)
        init_weights(self)

    def forward(self, pose: torch.Tensor, label: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``pose [B, K, H, W]``, ``label [B]`` (int), ``noise [B, Z]`` or None (drawn) -> ``[B, K, T, H, W]``."""
        batch = pose.shape[0]
        height, width = pose.shape[-2:]
        if height % ENCODER_DOWNSAMPLING or width % ENCODER_DOWNSAMPLING or min(height, width) < 32:
            # Instance norm needs at least 2 x 2 positions after the four stride-2 convolutions.
            raise ValueError(f"psgan needs heatmaps whose size is a multiple of 16 and at least 32, got "
                             f"{[height, width]} (objective.params.heatmap_resolution)")
        features = self.encoder(pose)  # [B, 8ngf, H/16, W/16]
        height, width = features.shape[-2:]
        condition = F.one_hot(label, self.num_classes).to(features.dtype)  # [B, classes]
        if self.noise_dim:
            if noise is None:
                noise = torch.randn(batch, self.noise_dim, device=pose.device)
            condition = torch.cat([condition, noise.to(features.dtype)], dim=1)  # [B, classes + Z]
        broadcast = condition[:, :, None, None].expand(-1, -1, height, width)
        code = self.fuse(torch.cat([features, broadcast], dim=1))  # [B, C, H', W']
        for block in self.res_blocks:
            code = block(code, condition)
        volume = self.decoder(code[:, :, None])  # [B, ngf, T, H, W]
        if self.first_pose_skip:
            repeated = pose[:, :, None].expand(-1, -1, self.frames, -1, -1)
            volume = torch.cat([volume, repeated.to(volume.dtype)], dim=1)
        return torch.sigmoid(self.head(volume))  # [B, K, T, H, W]

    def extra_repr(self) -> str:
        return f"K={self.keypoints}, classes={self.num_classes}, T={self.frames}, noise={self.noise_dim}"


class PSGANDiscriminator(Discriminator):
    """3D PatchGAN over (pose sequence, class): one logit per space-time patch."""

    def __init__(
        self,
        *,
        keypoints: int = 18,       # K
        num_classes: int = 10,     # the class one-hot is broadcast over the volume and concatenated
        ndf: int = 32,             # base channels
        n_layers: int = 3,         # stride-2 layers
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.net = patch_layers(nn.Conv3d, nn.InstanceNorm3d, keypoints + num_classes, ndf, n_layers,
                                stride1_kernel=3)
        init_weights(self)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, K, T, H, W]``, ``condition``: labels ``[B]`` -> logits ``[B, 1, T', H', W']``."""
        if condition is None:
            raise ValueError("psgan-patch3d is class-conditioned: pass the labels as condition")
        one_hot = F.one_hot(condition, self.num_classes).to(x.dtype)
        labels = one_hot[:, :, None, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, labels], dim=1))
