"""Stage-2 generators: SCGAN's encoder-residual-decoder, and the pix2pix U-Net baseline.

Both map (source image, source pose, target pose) to the frame of the person in the target pose:
``image [B, 3, H, W]``, poses as heatmaps ``[B, K, H, W]`` -> ``[B, 3, H, W]`` in [-1, 1].
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from pgvg_core.blocks import InstanceNorm2d, ResBlock2d, down2d, in_weight_layout, init_weights
from pgvg_core.interfaces import Generator
from pgvg_core.poses.keypoints import (
    body_size,
    heatmap_sigma,
    heatmaps_to_keypoints,
    render_heatmaps,
    rescale_keypoints,
)
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton
from pgvg_scgan.compositing import draws_layers, layered_frame, target_limbs
from pgvg_scgan.warp import detail_grid, grid_size_for, identity_grid, limb_warp, warp_image


def up2d(in_channels: int, out_channels: int, mode: str) -> nn.Sequential:
    """Interpolation (x2) followed by a 3x3 convolution, instance norm, ReLU: no checkerboard artefacts."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode=mode, **({"align_corners": False} if mode == "bilinear" else {})),
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        InstanceNorm2d(out_channels, affine=True),
        nn.ReLU(inplace=True),
    )


class PoseRefiner(nn.Module):
    """Reads a target pose as the pose the person is most likely in, given the same person's source pose.

    An MLP over both poses (centred on the source pose, in source body sizes) that moves each target joint
    and fills in dropped ones. The last layer starts at zero, so it starts as the identity. G2 uses it to
    undo what abnormal poses get wrong and the source pose gives away (a body that grew or shrank, left
    and right swapped, a joint missing, the whole body shifted when the feet did not move); the SCGAN
    objective's ``pose`` term trains it against the true target pose.
    """

    def __init__(self, keypoints: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(6 * keypoints, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, 2 * keypoints),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Keypoints ``[B, K, 3]`` in pixels (source, target) -> refined target ``[B, K, 3]``."""
        source_seen, target_seen = source[..., 2:] > 0, target[..., 2:] > 0  # [B, K, 1]
        centre = (source[..., :2] * source_seen).sum(1, keepdim=True) / source_seen.sum(1, keepdim=True).clamp(min=1)
        size = body_size(source).clamp(min=1.0)[:, None, None]  # [B, 1, 1]
        normalised = lambda k, seen: (k[..., :2] - centre) / size * seen  # noqa: E731
        features = torch.cat([normalised(source, source_seen), source_seen, normalised(target, target_seen),
                              target_seen], dim=-1)  # [B, K, 6]
        # A dropped joint starts where it was in the source.
        start = torch.where(target_seen, target[..., :2], source[..., :2])
        xy = start + self.net(features.flatten(1).to(self.net[0].weight.dtype)).view_as(start) * size
        confidence = (source_seen | target_seen).to(xy.dtype)
        return torch.cat([xy, confidence], dim=-1)


class SCGANGenerator(Generator):
    """SCGAN generator: encoder (4 convs, kernel 4, stride 2) -> residual blocks -> interpolation decoder.

    ``forward(image, source_pose, target_pose, return_features=False)``; with ``return_features`` it also
    returns the bottleneck ``[B, 8ngf, H/16, W/16]`` that the semantic-consistency loss compares between G1
    and G2. ``skips`` adds U-Net-style connections from each encoder level to the decoder: they carry the
    source's appearance at full detail, while the bottleneck stays the place where pose is understood.

    ``warp`` (on by default; off is the paper's network) adds the source image warped limb by limb into the
    target pose (:mod:`pgvg_scgan.warp`, from the heatmaps' peaks) and a map of where the moved person is to
    the encoder's input, and makes the output a learned blend ``m * warped + (1 - m) * generated``: the
    network repairs the warp (uncovered background, occlusions) instead of learning to move every pixel.
    Without it, the frames a small network learns on a CPU budget barely follow the pose (measured in
    README's stage-2 table: they score below copying the source frame). ``refine_pose`` (G2's) warps by
    the target pose as a :class:`PoseRefiner` reads it, not as given; with ``fill_missing`` (on by default),
    in eval mode a joint missing from the target pose is drawn into the pose the network reads, the source's
    bone carried from its parent: a network that sees a limb with no end renders it badly (measured on a
    400-step model: SSIM lost to missing joints 0.128 with the gaps, 0.055 filled with the pose refiner's
    guess, 0.034 with the carried bone, which also costs least with every corruption at once).

    ``skeleton`` (set by pgvg from the data) gives the warp its limbs and the missing-joint fill its parent
    tree (:attr:`pgvg_core.poses.skeleton.Skeleton.bones`); the warp works with any skeleton whose ``K`` is
    ``keypoints``. Drawing at a photo's resolution with a ``plate`` or in ``layers``
    (:meth:`render_detailed`) follows a body's trunk and arms and legs, and needs ``body-18``.
    """

    def __init__(
        self,
        *,
        keypoints: int = 18,        # K heatmap channels per pose
        ngf: int = 32,              # base channels
        n_res_blocks: int = 4,      # residual blocks at the bottleneck
        skips: bool = True,         # encoder -> decoder connections
        input_skip: bool = True,    # hand the raw inputs to the last layer too (sharper, but copying is easy)
        upsample: str = "bilinear",  # interpolation of the decoder: bilinear or nearest
        warp: bool = True,          # start from the source warped limb-wise into the target pose
        refine_pose: bool = False,  # warp by the target pose as a PoseRefiner reads it (G2)
        fill_missing: bool = True,  # with refine_pose, at inference: draw missing joints (the source's bone)
        skeleton: Skeleton | str = BODY_18,  # what the poses' keypoints are: the warp's limbs, set by pgvg
        pose_channels: int = 0,     # > 0: the two poses' 2K heatmaps mixed into this many channels (a 1x1 conv)
    ) -> None:
        super().__init__()
        if pose_channels < 0:
            raise ValueError(f"pose_channels must be >= 0 (0: the heatmaps as they are), got {pose_channels}")
        if upsample not in ("bilinear", "nearest"):
            raise ValueError(f"upsample must be 'bilinear' or 'nearest', got {upsample!r}")
        self.skeleton = as_skeleton(skeleton)
        if warp and keypoints != self.skeleton.num_keypoints:
            raise ValueError(f"scgan's warp follows the limbs of skeleton '{self.skeleton.name}' "
                             f"({self.skeleton.num_keypoints} keypoints), got keypoints={keypoints}; give the "
                             "data's skeleton, or set warp = false")
        if warp and not self.skeleton.limbs:
            raise ValueError(f"scgan's warp moves limbs, and skeleton '{self.skeleton.name}' has none; "
                             "set warp = false")
        if refine_pose and not warp:
            raise ValueError("refine_pose = true needs warp = true (the refined pose drives the warp); "
                             "set refine_pose = false as well")
        self.skips = skips
        self.pose_refiner = PoseRefiner(keypoints) if refine_pose else None
        self._refine_targets = True  # off within poses_as_given()
        self.fill_missing = fill_missing
        self.input_skip = input_skip
        self.warp = warp
        widths = [ngf, ngf * 2, ngf * 4, ngf * 8]
        # A face's 2 x 68 heatmaps read at full resolution (the first layer and, with input_skip, the last) cost
        # 3x a body's step: mixed into pose_channels first, a body's.
        self.pose_mix = nn.Conv2d(2 * keypoints, pose_channels, 1) if pose_channels else None
        in_channels = 3 + (pose_channels or 2 * keypoints) + (4 if warp else 0)  # + warped image and person map
        self.encoder = nn.ModuleList([
            down2d(in_channels, widths[0], norm=False), down2d(widths[0], widths[1]),
            down2d(widths[1], widths[2]), down2d(widths[2], widths[3]),
        ])
        self.res_blocks = nn.Sequential(*[ResBlock2d(widths[3]) for _ in range(n_res_blocks)])
        # Decoder level i upsamples to the size of encoder level 3 - i - 1 (and finally to the input).
        outs = [widths[2], widths[1], widths[0], ngf]
        ins = [widths[3], *outs[:-1]]
        skip_channels = [widths[2], widths[1], widths[0], 0] if skips else [0, 0, 0, 0]
        self.decoder = nn.ModuleList(
            [up2d(ins[i] + (skip_channels[i - 1] if i and skips else 0), outs[i], upsample) for i in range(4)]
        )
        # With the warp, a 4th output channel is the blend's logit; it starts at +2 (88 % warped image).
        self.to_rgb = nn.Conv2d(ngf + (in_channels if input_skip else 0), 4 if warp else 3, 3, padding=1)
        init_weights(self)
        if warp:
            with torch.no_grad():
                self.to_rgb.bias[3] = 2.0

    def warped_source(self, image: torch.Tensor, source_pose: torch.Tensor,
                      target_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The source warped into the target pose ``[B, 3, H, W]`` and where the person is ``[B, 1, H, W]``."""
        grid, person = limb_warp(*self.warp_keypoints(source_pose, target_pose), tuple(image.shape[-2:]),
                                 limbs=self.skeleton.limbs)
        return warp_image(image, grid), person.to(image.dtype)

    def warp_keypoints(self, source_pose: torch.Tensor,
                       target_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The source pose and the target pose the warp follows, ``[B, K, 3]`` each: the heatmaps' peaks, the
        target refined with ``refine_pose``."""
        source = heatmaps_to_keypoints(source_pose.detach().float())
        target = heatmaps_to_keypoints(target_pose.detach().float())
        if self.pose_refiner is not None and self._refine_targets:
            target = self.pose_refiner(source, target)
        return source, target

    @contextlib.contextmanager
    def poses_as_given(self) -> Iterator[None]:
        """Within it, the warp follows the target poses as given, not as the pose refiner reads them: for
        measured poses (a real video's), which the refiner, trained to pull abnormal poses back to its training
        people, moves by a third of a torso on average (Pose2Sim's walking man: AKD of the frames 0.15 body
        heights with it, 0.05 without; README, "Driving a photo with a video")."""
        self._refine_targets = False
        try:
            yield
        finally:
            self._refine_targets = True

    @torch.no_grad()
    def with_missing_filled(self, source_pose: torch.Tensor, target_pose: torch.Tensor) -> torch.Tensor:
        """``target_pose [B, K, H, W]`` with each missing joint drawn where the source's bone from its parent
        puts it (the parent's target position + the source's parent-to-joint offset, parents first), as wide
        as the pose's other joints; a joint without a found parent stays missing."""
        given = heatmaps_to_keypoints(target_pose.detach().float())  # [B, K, 3]
        missing = given[..., 2] <= 0  # [B, K]
        if not bool(missing.any()):
            return target_pose
        source = heatmaps_to_keypoints(source_pose.detach().float())
        filled = given.clone()
        for parent, joint in self.skeleton.bones:
            found = (filled[:, parent, 2] > 0) & (source[:, joint, 2] > 0) & (source[:, parent, 2] > 0)
            carry = missing[:, joint] & found
            guess = filled[:, parent, :2] + source[:, joint, :2] - source[:, parent, :2]  # [B, 2]
            filled[:, joint, :2] = torch.where(carry[:, None], guess, filled[:, joint, :2])
            filled[:, joint, 2] = torch.where(carry, torch.ones_like(filled[:, joint, 2]), filled[:, joint, 2])
        sigma = heatmap_sigma(target_pose).nan_to_num(1.5)  # [B]
        guess = torch.cat([filled[..., :2], filled[..., 2:3],
                           sigma[:, None, None].expand(-1, filled.shape[1], 1)], dim=-1)  # sigma as the scale
        drawn = render_heatmaps(guess, tuple(target_pose.shape[-2:]), sigma=1.0).to(target_pose.dtype)
        return torch.where((missing & (filled[..., 2] > 0))[..., None, None], drawn, target_pose)

    def forward(self, image: torch.Tensor, source_pose: torch.Tensor, target_pose: torch.Tensor,
                return_features: bool = False, return_blend: bool = False):
        """``image [B, 3, H, W]``, poses ``[B, K, H, W]`` -> frame ``[B, 3, H, W]``; with ``return_features``
        also the bottleneck; with ``return_blend`` (warp only) the frame, the blend weight of the warped source
        ``keep [B, 1, H, W]`` and the generated image ``[B, 3, H, W]``, so a caller can redo the blend with the
        source warped at a higher resolution (:meth:`render_detailed`)."""
        if return_blend and not self.warp:
            raise ValueError("return_blend needs warp = true: without it the frame is not a blend")
        if image.shape[-1] % 16 or image.shape[-2] % 16:
            raise ValueError(f"scgan needs frames whose size is a multiple of 16, got {list(image.shape[-2:])}")
        if self.pose_refiner is not None and self.fill_missing and not self.training:
            target_pose = self.with_missing_filled(source_pose, target_pose)
        poses = torch.cat([source_pose.to(image.dtype), target_pose.to(image.dtype)], dim=1)  # [B, 2K, H, W]
        if self.pose_mix is not None:
            poses = self.pose_mix(poses)  # [B, pose_channels, H, W]
        x = torch.cat([image, poses], dim=1)  # [B, 3 + 2K (or pose_channels), H, W]
        if self.warp:
            warped, person = self.warped_source(image, source_pose, target_pose)
            x = torch.cat([x, warped, person], dim=1)  # [B, 7 + 2K (or pose_channels), H, W]
        x = in_weight_layout(x, self.encoder)
        levels = []
        h = x
        for layer in self.encoder:
            h = layer(h)
            levels.append(h)
        bottleneck = self.res_blocks(h)  # [B, 8ngf, H/16, W/16]
        h = bottleneck
        for i, layer in enumerate(self.decoder):
            if i and self.skips:
                h = torch.cat([h, levels[3 - i]], dim=1)
            h = layer(h)
        if self.input_skip:
            h = torch.cat([h, x], dim=1)
        out = self.to_rgb(h)
        frame = torch.tanh(out[:, :3])
        if self.warp:
            keep = torch.sigmoid(out[:, 3:])  # [B, 1, H, W]
            generated = frame
            frame = keep * warped + (1 - keep) * generated
            if return_blend:
                return frame, keep, generated
        return (frame, bottleneck) if return_features else frame

    @torch.no_grad()
    def render_detailed(self, image: torch.Tensor, source_pose: torch.Tensor, target_pose: torch.Tensor,
                        detail: torch.Tensor, plate: torch.Tensor | None = None, *,
                        keep_still: bool = True) -> torch.Tensor:
        """The frame at the size of ``detail``, the same picture as ``image`` at a higher resolution.

        The network runs at ``image``'s size; the source is warped into the pose again at ``detail``'s size
        (the warp works from keypoints, at any resolution) and blended with the network's output upsampled,
        so the person keeps the photo's detail wherever the blend keeps the warped source.

        With ``plate`` (``detail`` without the person's arms and legs, :func:`pgvg_scgan.compositing.clean_plate`)
        the picture is drawn in two layers: the arms and legs of the target pose from ``detail``, everything
        else from ``plate``, both through the same warp. A limb that moves away then uncovers the torso or
        background instead of leaving a copy of itself behind.

        :param image: ``[B, 3, h, w]`` in [-1, 1]; ``source_pose``, ``target_pose``: heatmaps ``[B, K, h, w]``.
        :param detail: ``[B, 3, H, W]`` in [-1, 1], ``H / h == W / w``; ``plate`` the same shape.
        :param keep_still: where the target pose leaves the source where it was (the warp moves a pixel by less
            than one network pixel), show the source itself whatever the blend says. Measured on 5 real photos
            x 5 actions (``benchmarks/animate_real_photos.py``): LPIPS-ST of the person to the photo 0.042
            without, 0.033 with it.
        :returns: ``[B, 3, H, W]``.
        """
        if plate is not None and not draws_layers(self.skeleton):
            raise ValueError(f"drawing over a plate follows a body's trunk and limbs (body-18), not skeleton "
                             f"'{self.skeleton.name}'")
        if not self.warp:  # nothing carries the detail: the network's frame, upsampled (``plate`` unused)
            return upsampled(self(image, source_pose, target_pose), detail)
        _, keep, generated = self(image, source_pose, target_pose, return_blend=True)
        up = lambda t: F.interpolate(t, size=detail.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
        size = tuple(detail.shape[-2:])
        source, target = self.warp_keypoints(source_pose, target_pose)  # [B, K, 3] in pixels of ``image``
        to_detail = size[-1] / image.shape[-1]
        grid = detail_grid(rescale_keypoints(source, to_detail), rescale_keypoints(target, to_detail),
                            image.shape[-1], size, limbs=self.skeleton.limbs)  # [B, H, W, 2]
        identity = identity_grid(size, grid.device)  # [1, H, W, 2]
        warped = warp_image(detail, grid)  # [B, 3, H, W]
        if plate is not None:
            grid_size = grid_size_for(size, image.shape[-1])
            limbs = up(target_limbs(rescale_keypoints(target, grid_size[-1] / image.shape[-1]), grid_size)[:, None])
            warped = limbs * warped + (1 - limbs) * warp_image(plate, grid)
        keep = up(keep)
        if keep_still:
            # Where the warp moves nothing (under a network pixel, fading out by 1.5), the warped photo is the
            # photo itself: the network's upsampled output could only blur it.
            moved = (grid - identity).norm(dim=-1)[:, None]  # [B, 1, H, W]
            keep = torch.maximum(keep, (1.5 - moved * image.shape[-1] / 2).clamp(0, 1))
        return (keep * warped + (1 - keep) * up(generated)).clamp(-1, 1)

    @torch.no_grad()
    def render_layers(self, source_pose: torch.Tensor, target_pose: torch.Tensor, network_size: int,
                      detail: torch.Tensor, plate: torch.Tensor, behind: torch.Tensor | None = None,
                      person: torch.Tensor | None = None, far: torch.Tensor | None = None,
                      parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """:func:`~pgvg_scgan.compositing.layered_frame` along the network's refined target pose (where
        ``refine_pose`` is on)."""
        source, target = self.warp_keypoints(source_pose, target_pose)  # [B, K, 3] in network pixels
        return layered_frame(source, target, network_size, detail, plate, behind, person, far, parts)


def upsampled(frame: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
    """``frame [B, 3, h, w]`` resized (bicubic) to the size of ``detail [B, 3, H, W]``, kept in [-1, 1]."""
    return F.interpolate(frame, size=detail.shape[-2:], mode="bicubic", align_corners=False).clamp(-1, 1)


class UNetGenerator(Generator):
    """pix2pix U-Net baseline: (image, source pose, target pose) -> frame; skips at every level, no residuals."""

    def __init__(self, *, keypoints: int = 18, ngf: int = 32, num_downs: int = 5, dropout: float = 0.0) -> None:
        super().__init__()
        in_channels = 3 + 2 * keypoints
        widths = [min(ngf * 2**i, ngf * 8) for i in range(num_downs)]
        self.down = nn.ModuleList()
        previous = in_channels
        for i, width in enumerate(widths):
            self.down.append(nn.Sequential(
                nn.Conv2d(previous, width, 4, stride=2, padding=1, bias=i == 0),
                *([] if i == 0 or i == num_downs - 1 else [InstanceNorm2d(width, affine=True)]),
                nn.LeakyReLU(0.2, inplace=True),
            ))
            previous = width
        self.up = nn.ModuleList()
        for i in reversed(range(num_downs)):
            in_ch = widths[i] * (1 if i == num_downs - 1 else 2)
            out_ch = widths[i - 1] if i else ngf
            self.up.append(nn.Sequential(
                nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                InstanceNorm2d(out_ch, affine=True),
                *([nn.Dropout(dropout)] if dropout and i > num_downs - 4 else []),
                nn.ReLU(inplace=True),
            ))
        self.to_rgb = nn.Conv2d(ngf, 3, 3, padding=1)
        self.num_downs = num_downs
        init_weights(self)

    def forward(self, image: torch.Tensor, source_pose: torch.Tensor, target_pose: torch.Tensor,
                return_features: bool = False):
        size = 2**self.num_downs
        if image.shape[-1] % size or image.shape[-2] % size:
            raise ValueError(f"pose2image-unet with num_downs={self.num_downs} needs sizes divisible by {size}")
        h = torch.cat([image, source_pose.to(image.dtype), target_pose.to(image.dtype)], dim=1)
        skips = []
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        bottleneck = h
        for i, layer in enumerate(self.up):
            if i:
                h = torch.cat([h, skips[-1 - i]], dim=1)
            h = layer(h)
        frame = torch.tanh(self.to_rgb(h))
        return (frame, bottleneck) if return_features else frame

    @torch.no_grad()
    def render_detailed(self, image: torch.Tensor, source_pose: torch.Tensor, target_pose: torch.Tensor,
                        detail: torch.Tensor, plate: torch.Tensor | None = None, *,
                        keep_still: bool = True) -> torch.Tensor:
        """The frame upsampled to ``detail``'s size (the U-Net has no warp to carry the photo's detail; ``plate``
        and ``keep_still`` are not used)."""
        return upsampled(self(image, source_pose, target_pose), detail)

    @torch.no_grad()
    def render_layers(self, source_pose: torch.Tensor, target_pose: torch.Tensor, network_size: int,
                      detail: torch.Tensor, plate: torch.Tensor, behind: torch.Tensor | None = None,
                      person: torch.Tensor | None = None, far: torch.Tensor | None = None,
                      parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """:func:`~pgvg_scgan.compositing.layered_frame` along the poses' peaks."""
        source, target = heatmaps_to_keypoints(source_pose.float()), heatmaps_to_keypoints(target_pose.float())
        return layered_frame(source, target, network_size, detail, plate, behind, person, far, parts)
