"""PSGAN's networks: a pose + class -> pose-sequence generator, and a class-conditioned 3D PatchGAN.

Beside the paper's networks (``psgan``, ``psgan-patch3d``): ``psgan-keypoints``, a generator that moves the
first pose's joints and draws them as heatmaps, and two discriminators that judge the class by projection
(Miyato & Koyama 2018) instead of a concatenated one-hot: ``psgan-patch3d-projection`` over heatmap volumes
and ``psgan-motion`` over the joint trajectories read from them.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from pgvg_core.blocks import ConditionalResBlock2d, InstanceNorm3d, down2d, in_weight_layout, init_weights, patch_layers
from pgvg_core.interfaces import Discriminator, Generator, PoseSequenceGenerator
from pgvg_core.poses.keypoints import body_size, heatmap_sigma, heatmaps_to_keypoints, render_heatmaps, soft_keypoints
from pgvg_core.training import randomness

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
                InstanceNorm3d(channels[i + 1], affine=True),
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
        features = self.encoder(in_weight_layout(pose, self.encoder))  # [B, 8ngf, H/16, W/16]
        height, width = features.shape[-2:]
        condition = F.one_hot(label, self.num_classes).to(features.dtype)  # [B, classes]
        if self.noise_dim:
            if noise is None:
                noise = randomness.randn(batch, self.noise_dim, device=pose.device)
            condition = torch.cat([condition, noise.to(features.dtype)], dim=1)  # [B, classes + Z]
        broadcast = condition[:, :, None, None].expand(-1, -1, height, width)
        code = self.fuse(torch.cat([features, broadcast], dim=1))  # [B, C, H', W']
        for block in self.res_blocks:
            code = block(code, condition)
        with conv3d_precision(code):
            volume = self.decoder(conv3d_input(code)[:, :, None])  # [B, ngf, T, H, W]
            if self.first_pose_skip:
                repeated = pose[:, :, None].expand(-1, -1, self.frames, -1, -1)
                volume = torch.cat([volume, repeated.to(volume.dtype)], dim=1)
            return torch.sigmoid(self.head(volume))  # [B, K, T, H, W]

    def extra_repr(self) -> str:
        return f"K={self.keypoints}, classes={self.num_classes}, T={self.frames}, noise={self.noise_dim}"


def conv3d_precision(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Where PSGAN's 3-D convolutions run: in fp32 on a CPU even under bf16 autocast, on purpose. oneDNN's bf16
    Conv3d returned NaN from finite inputs, now in one layer, now in another, in about 1 of 3 short runs on a
    CPU without bf16 instructions (the paper's PSGAN stopped with `loss term 'g/adversarial' is nan`), and such
    a CPU runs bf16 slower anyway. On CUDA autocast applies as configured."""
    return torch.autocast("cpu", enabled=False) if x.device.type == "cpu" else contextlib.nullcontext()


def conv3d_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` as :func:`conv3d_precision`'s convolutions take it (fp32 on a CPU)."""
    return x.float() if x.device.type == "cpu" else x


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
        self.net = patch_layers(nn.Conv3d, InstanceNorm3d, keypoints + num_classes, ndf, n_layers,
                                stride1_kernel=3)
        init_weights(self)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, K, T, H, W]``, ``condition``: labels ``[B]`` -> logits ``[B, 1, T', H', W']``."""
        if condition is None:
            raise ValueError("psgan-patch3d is class-conditioned: pass the labels as condition")
        one_hot = F.one_hot(condition, self.num_classes).to(x.dtype)
        labels = one_hot[:, :, None, None, None].expand(-1, -1, *x.shape[2:])
        with conv3d_precision(x):
            return self.net(in_weight_layout(conv3d_input(torch.cat([x, labels], dim=1)), self.net))


class TemporalBlock(nn.Module):
    """A residual pair of dilated 1-D convolutions over time: ``[B, C, T] -> [B, C, T]``."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation), nn.LeakyReLU(0.2),
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.body(x), 0.2)


class PSGANKeypointGenerator(PoseSequenceGenerator):
    """Keypoint-space PSGAN generator: first pose [B, K, H, W] + class + noise -> [B, K, T, H, W] in [0, 1].

    The first pose's joints are read from its heatmaps (peak + sub-pixel refinement) and described relative to
    the body (centre and size of the visible joints) and to the frame. An MLP encodes them with a class
    embedding and the noise; a learned per-frame code is added, and dilated 1-D convolutions over time decode
    every joint's displacement in body sizes. Frame 0 is the given pose exactly (its displacement is
    subtracted from all frames), and each joint keeps its first-frame confidence: a missing joint stays
    missing and a visible one visible (a joint that would leave the frame stays on its border). The
    joints are drawn as Gaussians of the input's own width (measured from its peaks, or ``sigma``), so the
    output is a heatmap volume like the paper network's, differentiable in the joint positions.
    """

    def __init__(
        self,
        *,
        keypoints: int = 18,         # K
        num_classes: int = 10,       # actions; set by pgvg from the dataset
        frames: int = 16,            # T: any length >= 2
        hidden: int = 256,           # width of the pose encoder and of the temporal decoder
        class_dim: int = 32,         # class embedding size
        noise_dim: int = 16,         # Z (0 = deterministic)
        temporal_blocks: int = 3,    # residual blocks of dilation 1, 2, 4, ...
        sigma: float | None = None,  # Gaussian width in heatmap pixels; None = measured from the input pose
        reach: float = 0.0,          # > 0: a joint moves at most this many body sizes from its start (tanh)
    ) -> None:
        super().__init__()
        if frames < 2:
            raise ValueError(f"frames must be at least 2, got {frames}")
        if sigma is not None and sigma <= 0:
            raise ValueError(f"sigma must be > 0 (or None: measured from the input), got {sigma}")
        self.keypoints, self.num_classes, self.frames = keypoints, num_classes, frames
        self.noise_dim, self.sigma, self.reach = noise_dim, sigma, reach
        self.embed = nn.Embedding(num_classes, class_dim)
        self.encoder = nn.Sequential(
            nn.Linear(5 * keypoints + class_dim + noise_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
        )
        self.time = nn.Parameter(torch.randn(hidden, frames) * 0.1)  # a learned code per frame
        self.temporal = nn.Sequential(*[TemporalBlock(hidden, 2**i) for i in range(temporal_blocks)])
        self.head = nn.Conv1d(hidden, 2 * keypoints, 3, padding=1)
        nn.init.normal_(self.head.weight, 0.0, 1e-3)  # start close to a still pose
        nn.init.zeros_(self.head.bias)

    def sequence(self, pose: torch.Tensor, label: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``pose [B, K, H, W]``, ``label [B]``, ``noise [B, Z]`` or None -> keypoints ``[B, T, K, 3]`` in
        heatmap pixels (x, y, confidence); frame 0 is the input pose."""
        first = heatmaps_to_keypoints(pose.detach())  # [B, K, 3]
        confidence = self._amplitude(first, self._sigma(pose))
        first = torch.cat([first[..., :2], confidence], dim=-1)
        return self.keypoint_sequence(first, label, noise, size=tuple(pose.shape[-2:]))

    def keypoint_sequence(self, first: torch.Tensor, label: torch.Tensor, noise: torch.Tensor | None = None, *,
                          size: tuple[int, int]) -> torch.Tensor:
        """``first [B, K, 3]`` in pixels of a ``size = (H, W)`` frame, ``label [B]``, ``noise [B, Z]`` or None ->
        ``[B, T, K, 3]`` in the same pixels; frame 0 is ``first``, every joint keeps its confidence."""
        batch, joints = first.shape[:2]
        height, width = size
        xy, confidence = first[..., :2], first[..., 2:3].clamp(0, 1)
        visible = (confidence > 0).to(xy.dtype)  # [B, K, 1]
        count = visible.sum(1, keepdim=True).clamp(min=1)
        centre = (xy * visible).sum(1, keepdim=True) / count  # [B, 1, 2]
        scale = body_size(first).clamp(min=1.0)[:, None, None]  # [B, 1, 1]
        frame = xy.new_tensor([width - 1, height - 1])
        relative = (xy - centre) / scale * visible
        absolute = (xy / frame * 2 - 1) * visible
        code = [torch.cat([relative, absolute, visible], -1).flatten(1), self.embed(label)]  # [B, 5K], [B, E]
        if self.noise_dim:
            code.append(randomness.randn(batch, self.noise_dim, device=first.device) if noise is None
                        else noise.to(xy.dtype))
        hidden = self.encoder(torch.cat(code, dim=1))  # [B, hidden]
        hidden = self.temporal(hidden[:, :, None] + self.time)  # [B, hidden, T]
        displacement = self.head(hidden).view(batch, joints, 2, self.frames).permute(0, 3, 1, 2)  # [B, T, K, 2]
        displacement = displacement - displacement[:, :1]  # frame 0 does not move
        if self.reach > 0:  # bounded: a discriminator that wins cannot fling the joints away
            displacement = self.reach * torch.tanh(displacement / self.reach)
        moved = xy[:, None] + displacement * scale[:, None]  # [B, T, K, 2]
        # A joint drawn off the frame would vanish, and nothing read from heatmaps could pull it back: keep it
        # on the border pixel (still visible), with the gradient of the unclamped position (straight through).
        low, high = -0.5, moved.new_tensor([width - 0.5, height - 0.5])
        moved = moved + (torch.maximum(torch.minimum(moved, high), moved.new_tensor(low)) - moved).detach()
        return torch.cat([moved, confidence[:, None].expand(-1, self.frames, -1, -1)], dim=-1)

    def _sigma(self, pose: torch.Tensor) -> torch.Tensor:
        """The Gaussian width of each pose's heatmaps ``[B]`` in pixels."""
        if self.sigma is not None:
            return torch.full((pose.shape[0],), self.sigma, device=pose.device)
        return heatmap_sigma(pose).nan_to_num(1.0)  # a pose with no readable peak gets 1 px

    @staticmethod
    def _amplitude(keypoints: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """A joint's confidence, the height of its Gaussian ``[B, K, 1]``: the peak pixel lies up to half a pixel
        off the centre, so it reads lower than the Gaussian's height; the sub-pixel offset gives it back."""
        offset = keypoints[..., :2] - keypoints[..., :2].round()  # [B, K, 2]
        lift = torch.exp(offset.square().sum(-1) / (2 * sigma[:, None] ** 2))
        return (keypoints[..., 2] * lift).clamp(0, 1)[..., None]

    def forward(self, pose: torch.Tensor, label: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``pose [B, K, H, W]``, ``label [B]`` (int), ``noise [B, Z]`` or None (drawn) -> ``[B, K, T, H, W]``."""
        keypoints = self.sequence(pose, label, noise)  # [B, T, K, 3]
        sigma = self._sigma(pose)  # [B]
        # render_heatmaps takes one sigma; a per-pose width goes in as the fourth column, its scale.
        scale = sigma[:, None, None, None].expand(-1, self.frames, self.keypoints, 1).to(keypoints.dtype)
        heatmaps = render_heatmaps(torch.cat([keypoints, scale], dim=-1), pose.shape[-2:], sigma=1.0)
        return heatmaps.permute(0, 2, 1, 3, 4)  # [B, K, T, H, W]

    def extra_repr(self) -> str:
        return (f"K={self.keypoints}, classes={self.num_classes}, T={self.frames}, noise={self.noise_dim}, "
                f"sigma={'from input' if self.sigma is None else self.sigma}")


class PSGANProjectionDiscriminator(Discriminator):
    """3D PatchGAN over a pose sequence whose class enters by projection: ``logit = f(h) + <embed(y), h>``.

    Concatenating a one-hot to the input (``psgan-patch3d``) lets D learn the class only as a weak extra
    input channel; projection (Miyato & Koyama 2018) makes every patch's logit a match score with the class.
    """

    def __init__(self, *, keypoints: int = 18, num_classes: int = 10, ndf: int = 32, n_layers: int = 3) -> None:
        super().__init__()
        layers = patch_layers(nn.Conv3d, InstanceNorm3d, keypoints, ndf, n_layers, stride1_kernel=3)
        self.trunk, self.out = layers[:-1], layers[-1]
        self.embed = nn.Embedding(num_classes, self.out.in_channels)
        init_weights(self)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, K, T, H, W]``, ``condition``: labels ``[B]`` -> logits ``[B, 1, T', H', W']``."""
        if condition is None:
            raise ValueError("psgan-patch3d-projection is class-conditioned: pass the labels as condition")
        features = self.trunk(in_weight_layout(x, self.trunk))  # [B, C, T'', H'', W'']
        logits = self.out(features)
        projection = (features * self.embed(condition)[:, :, None, None, None]).sum(1, keepdim=True)
        # The output conv (kernel 3, padding 1) keeps the size: both terms are per patch.
        return logits + projection


class PSGANMotionDiscriminator(Discriminator):
    """Judges a pose sequence by its joint trajectories, with class projection: heatmaps -> logits ``[B, 1]``.

    Joints are read from the heatmaps by a soft-argmax (so a generator gets position gradients wherever its
    Gaussians are, not only where they overlap the real ones), centred on the clip's mean visible joint and
    given in frame units; positions, velocities and confidences go through dilated 1-D convolutions over time,
    pooled over time, and ``logit = f(h) + <embed(y), h>`` (Miyato & Koyama 2018).
    """

    def __init__(
        self,
        *,
        keypoints: int = 18,          # K
        num_classes: int = 10,        # actions; set by pgvg from the dataset
        width: int = 128,             # channels of the temporal convolutions
        blocks: int = 3,              # residual blocks of dilation 1, 2, 4, ...
        spectral_norm: bool = True,   # on every layer (Miyato et al. 2018): keeps D's position gradients tame
    ) -> None:
        super().__init__()
        self.input = nn.Conv1d(5 * keypoints, width, 3, padding=1)
        self.temporal = nn.Sequential(*[TemporalBlock(width, 2**i) for i in range(blocks)])
        self.out = nn.Linear(2 * width, 1)
        self.embed = nn.Embedding(num_classes, 2 * width)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if spectral_norm:
            for module in list(self.modules()):
                if isinstance(module, (nn.Conv1d, nn.Linear, nn.Embedding)):
                    nn.utils.parametrizations.spectral_norm(module)

    @staticmethod
    def trajectories(x: torch.Tensor) -> torch.Tensor:
        """``[B, K, T, H, W]`` heatmaps -> ``[B, 5K, T]``: centred positions, velocities, confidences."""
        size = max(x.shape[-2:])
        keypoints = soft_keypoints(x.transpose(1, 2))  # [B, T, K, 3]
        xy, confidence = keypoints[..., :2] / size, keypoints[..., 2:]
        weight = confidence.detach()
        centre = (xy * weight).sum((1, 2), keepdim=True) / weight.sum((1, 2), keepdim=True).clamp(min=1e-6)
        relative = (xy - centre) * confidence  # [B, T, K, 2]
        velocity = F.pad(relative[:, 1:] - relative[:, :-1], (0, 0, 0, 0, 1, 0))
        features = torch.cat([relative, velocity, confidence], dim=-1)  # [B, T, K, 5]
        return features.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, K, T, H, W]``, ``condition``: labels ``[B]`` -> logits ``[B, 1]``."""
        if condition is None:
            raise ValueError("psgan-motion is class-conditioned: pass the labels as condition")
        hidden = self.temporal(F.leaky_relu(self.input(self.trajectories(x) * 10), 0.2))  # [B, width, T]
        pooled = torch.cat([hidden.mean(-1), hidden.amax(-1)], dim=1)  # [B, 2 width]
        return self.out(pooled) + (pooled * self.embed(condition)).sum(1, keepdim=True)
