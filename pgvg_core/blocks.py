"""Network building blocks shared by the built-in models (instance norm and ReLU, as in the paper)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _PerChannelGroupNorm:
    """Instance norm computed as a group norm with one group per channel: the same statistics (per sample and
    channel, biased variance, the same ``eps``) and parameters, to float rounding. Torch's instance norm
    returns a channels-last input in the default layout, so every layer after it converted back: SCGAN's
    training step at 64 px spent ~85 of ~450 ms in layout copies (2 CPU threads), ~20 with this norm and its
    input converted once (``in_weight_layout``). In the default layout the group norm is faster as well (2.4
    against 5.6 ms forward and backward for ``[8, 64, 64, 64]``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self._get_no_batch_dim() + 1 or self.track_running_stats:  # torch's own
            return super().forward(x)
        return F.group_norm(x, x.shape[1], self.weight, self.bias, self.eps)


class InstanceNorm2d(_PerChannelGroupNorm, nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` that keeps a channels-last input channels last (see ``_PerChannelGroupNorm``)."""


class InstanceNorm3d(_PerChannelGroupNorm, nn.InstanceNorm3d):
    """``nn.InstanceNorm3d`` that keeps a ``channels_last_3d`` input so (see ``_PerChannelGroupNorm``)."""


#: The channels-last memory format of a tensor of each rank: 2-D convolutions' 4-D weights and activations,
#: 3-D convolutions' 5-D ones.
CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def in_weight_layout(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """``x`` (``[B, C, H, W]`` or ``[B, C, T, H, W]``) in the memory format of ``module``'s first convolution
    weight of as many dimensions: channels last where the network was put in it (``trainer.channels_last``).
    A convolution converts an input in the other layout at every call, and again in the backward pass;
    converted once, what is built from ``x`` (a skip connection's concatenation) stays channels last too."""
    channels_last = CHANNELS_LAST.get(x.dim())
    weight = next((p for p in module.parameters() if p.dim() == x.dim()), None)
    if channels_last is None or weight is None or weight.is_contiguous():
        return x
    return x.contiguous(memory_format=channels_last) if weight.is_contiguous(memory_format=channels_last) else x


def down2d(in_channels: int, out_channels: int, *, norm: bool = True) -> nn.Sequential:
    """Conv kernel 4, stride 2 (halves H, W) -> instance norm -> ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=not norm)]
    if norm:
        layers.append(InstanceNorm2d(out_channels, affine=True))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResBlock2d(nn.Module):
    """Two 3x3 convolutions with instance norm and a skip connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class ConditionalResBlock2d(nn.Module):
    """A residual block whose instance norms are modulated by a condition vector (class, noise).

    Instance norm removes what is constant over space, and a class one-hot or a noise vector broadcast over
    space is exactly that: concatenated alone, it would be erased by the next norm. Here it also sets each
    norm's scale and shift, so it reaches every block.
    """

    def __init__(self, channels: int, condition_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = InstanceNorm2d(channels, affine=False)
        self.modulation = nn.Linear(condition_dim, 4 * channels)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``x [B, C, H, W]``, ``condition [B, D]`` -> ``[B, C, H, W]``."""
        scale1, shift1, scale2, shift2 = self.modulation(condition)[:, :, None, None].chunk(4, dim=1)
        h = torch.relu(self.norm(self.conv1(x)) * (1 + scale1) + shift1)
        h = self.norm(self.conv2(h)) * (1 + scale2) + shift2
        return torch.relu(x + h)


def patch_layers(
    conv: type[nn.Module], norm: type[nn.Module], in_channels: int, ndf: int, n_layers: int,
    *, stride1_kernel: int = 4,
) -> nn.Sequential:
    """A PatchGAN trunk (pix2pix's NLayerDiscriminator) for 2D or 3D convolutions.

    ``n_layers`` stride-2 convolutions of kernel 4 (the first without norm), one stride-1 convolution, and a
    final 1-channel convolution: one logit per receptive-field patch. LeakyReLU(0.2), as in pix2pix. The
    stride-1 layers use ``stride1_kernel``: 4 is pix2pix's (70x70 patches for n_layers=3); 3 keeps the size,
    which a short time axis needs.
    """
    layers: list[nn.Module] = [conv(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
    channels = ndf
    for i in range(1, n_layers + 1):
        out = ndf * min(2**i, 8)
        stride = 2 if i < n_layers else 1
        kernel = 4 if stride == 2 else stride1_kernel
        layers += [conv(channels, out, kernel, stride=stride, padding=1, bias=False), norm(out, affine=True),
                   nn.LeakyReLU(0.2, inplace=True)]
        channels = out
    layers.append(conv(channels, 1, stride1_kernel, stride=1, padding=1))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix's normal(0, 0.02) initialisation for convolutions, (1, 0.02) for norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.InstanceNorm2d, nn.InstanceNorm3d, nn.BatchNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
