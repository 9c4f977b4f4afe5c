"""Limb-wise warping of the source image into the target pose, from keypoints alone (no learned flow).

Each limb (a bone between two keypoints seen in both poses) moves rigidly: a similarity transform (rotation,
uniform scale, translation) maps the target bone onto the source bone. A target pixel takes the transform of
the limbs near it, blended by a Gaussian of its distance to each target bone; pixels far from every bone keep
the identity, so the background is copied unchanged. This is the idea of deformable skip connections
(Siarohin et al., CVPR 2018) applied to the image itself: the generator starts from the person already moved
into place and only has to repair what a rigid warp gets wrong (occlusions, cloth, shading), instead of
learning to move pixels through a bottleneck, which a small network trained on a CPU budget barely does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pgvg_core.poses.keypoints import LIMBS, body_size, bone_distance, rescale_keypoints

# Limb transforms whose scale leaves this range are clamped: a bone is never stretched past 2x or shrunk
# below 1/2, so a wrong or abnormal keypoint cannot tear the image apart.
MAX_SCALE = 2.0


def limb_transforms(source: torch.Tensor, target: torch.Tensor, min_length: float = 1.0, *,
                    limbs: tuple[tuple[int, int], ...] = LIMBS):
    """Per-limb similarity transforms taking target-frame points to source-frame points.

    :param source: ``[B, K, 3]`` keypoints (x, y, confidence) in pixels.
    :param target: ``[B, K, 3]``.
    :param limbs: the skeleton's limbs (``Skeleton.limbs``; body-18's by default), ``L`` of them.
    :returns: ``ratio [B, L]`` (complex: rotation and scale), ``target_a, source_a [B, L]`` (complex anchors),
        ``target_b [B, L]`` (the target bones' other ends), ``valid [B, L]``: the transform of limb ``l`` is
        ``z -> source_a + (z - target_a) * ratio``.
    """
    a, b = (torch.tensor(index, device=source.device) for index in zip(*limbs))
    as_complex = lambda k: torch.complex(k[..., 0].float(), k[..., 1].float())  # noqa: E731
    source_a, source_b = as_complex(source[:, a]), as_complex(source[:, b])  # [B, L]
    target_a, target_b = as_complex(target[:, a]), as_complex(target[:, b])
    target_bone = target_b - target_a
    long_enough = target_bone.abs() >= min_length
    ratio = torch.where(long_enough, (source_b - source_a) / torch.where(long_enough, target_bone, 1), 1)
    scale = ratio.abs().clamp(min=1e-6)
    ratio = ratio / scale * scale.clamp(1 / MAX_SCALE, MAX_SCALE)
    # A bone too short to give a direction moves by the shift of its midpoint only.
    shift_only = (source_a + source_b - target_a - target_b) / 2
    source_anchor = torch.where(long_enough, source_a, target_a + shift_only)
    visible = lambda k: (k[:, a, 2] > 0) & (k[:, b, 2] > 0)  # noqa: E731
    return ratio, target_a, source_anchor, target_b, visible(source) & visible(target)


@torch.no_grad()
def limb_warp(source: torch.Tensor, target: torch.Tensor, size: tuple[int, int], *,
              width: float = 0.04, reach: float = 2.0,
              limbs: tuple[tuple[int, int], ...] = LIMBS) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling grid that warps a source-pose image into the target pose, and where the person is.

    :param source: ``[B, K, 3]`` source keypoints in pixels.
    :param target: ``[B, K, 3]`` target keypoints in pixels.
    :param size: ``(H, W)`` of the image to warp.
    :param width: the distance over which neighbouring limbs' transforms blend, as a fraction of the target
        body size (bounding-box diagonal).
    :param reach: how far from its bone a limb moves pixels, in ``width`` units; beyond, the identity.
    :param limbs: the skeleton's limbs, the bones that move (``Skeleton.limbs``; body-18's by default).
    :returns: ``grid [B, H, W, 2]`` for :func:`torch.nn.functional.grid_sample` (``align_corners=False``) and
        ``person [B, 1, H, W]`` in [0, 1]: where the limb transforms (not the identity) apply.
    """
    # The geometry runs in fp32 even inside autocast, on purpose: a bf16 pixel coordinate near 200 is off by up
    # to half a pixel (8 bits of mantissa), and complex tensors do not exist in bf16 or fp16.
    with torch.autocast(source.device.type, enabled=False):
        return _limb_warp(source.float(), target.float(), size, width=width, reach=reach, limbs=limbs)


def _limb_warp(source: torch.Tensor, target: torch.Tensor, size: tuple[int, int], *, width: float, reach: float,
               limbs: tuple[tuple[int, int], ...]) -> tuple[torch.Tensor, torch.Tensor]:
    height, width_px = size
    ratio, target_a, source_a, target_b, valid = limb_transforms(source, target, limbs=limbs)
    ys, xs = torch.meshgrid(torch.arange(height, device=source.device, dtype=torch.float32) + 0.5,
                            torch.arange(width_px, device=source.device, dtype=torch.float32) + 0.5, indexing="ij")
    pixels = torch.complex(xs, ys).flatten()  # [P], pixel centres
    # Keypoints are pixel coordinates where the centre of pixel (i, j) is (j, i): shift by half a pixel.
    half = complex(0.5, 0.5)
    distance = bone_distance(xs[0], ys[:, 0], target_a + half, target_b + half)  # [B, L, P]
    distance = distance.masked_fill(~valid[..., None], float("inf"))
    limb_width = (width * body_size(target).float()).clamp(min=0.03 * height)[:, None, None]  # [B, 1, 1]
    # Inside the body each pixel follows its nearest limbs, blended smoothly across joints ...
    logits = -(distance / limb_width).square() / 2  # [B, L, P]
    # A limb more than e^60 less likely than the nearest gets weight exactly 0, not a denormal float: those make
    # the sums below (and the whole warp) several times slower on x86.
    logits = logits.masked_fill(logits < logits.amax(1, keepdim=True) - 60, float("-inf"))
    weights = torch.softmax(logits, dim=1).nan_to_num(0.0)  # [B, L, P]
    # Limb l moves pixel z to source_a + half + (z - target_a - half) * ratio = offset_l + z * ratio_l, so the
    # blend sum_l w_l (offset_l + z ratio_l) is two weighted sums over limbs: no [B, L, P] complex tensor.
    offset = source_a + half - (target_a + half) * ratio  # [B, L]
    blend = lambda c: torch.complex(torch.einsum("blp,bl->bp", weights, c.real),  # noqa: E731
                                    torch.einsum("blp,bl->bp", weights, c.imag))
    on_body = blend(offset) + pixels * blend(ratio)  # [B, P]
    # ... and the body ends in a narrow band ``reach`` widths from the nearest bone, not in a wide fade that
    # would mix the background into the limbs.
    nearest = distance.amin(1)  # [B, P]
    logit = (reach * limb_width[:, 0] - nearest) / (0.25 * limb_width[:, 0])
    # Exactly 0 far from the body, not a denormal float that slows every convolution reading this map 2-3x.
    person = torch.sigmoid(logit).masked_fill(logit < -30, 0.0)
    sampled = person * on_body + (1 - person) * pixels
    grid = torch.stack([sampled.real / width_px * 2 - 1, sampled.imag / height * 2 - 1], dim=-1)
    return grid.view(-1, height, width_px, 2), person.view(-1, 1, height, width_px)


def warp_image(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``image [B, C, H, W]`` sampled at ``grid [B, H, W, 2]`` (border values outside) -> ``[B, C, H, W]``."""
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def grid_size_for(size: tuple[int, int], network_size: int) -> tuple[int, int]:
    """Where smooth maps (sampling grids, masks) of a ``size`` picture are computed: up to twice the network's
    size, then interpolated (16x less work at 512 px than at the picture's own size)."""
    return min(size[0], 2 * network_size), min(size[1], 2 * network_size)


def detail_grid(source: torch.Tensor, target: torch.Tensor, network_size: int,
                 size: tuple[int, int], limbs: tuple[tuple[int, int], ...] = LIMBS) -> torch.Tensor:
    """The limb warp's sampling grid at ``size`` (keypoints in its pixels), computed at up to twice the
    network's size and its displacement interpolated: far from the body it is 0, so the background is
    copied pixel for pixel."""
    grid_size = grid_size_for(size, network_size)
    factor = grid_size[-1] / size[-1]
    grid, _ = limb_warp(rescale_keypoints(source, factor), rescale_keypoints(target, factor), grid_size,
                        limbs=limbs)
    if grid_size == size:
        return grid
    displacement = (grid - identity_grid(grid_size, grid.device)).permute(0, 3, 1, 2)
    displacement = F.interpolate(displacement, size=size, mode="bilinear", align_corners=False)
    return identity_grid(size, grid.device) + displacement.permute(0, 2, 3, 1)


def identity_grid(size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """The ``grid_sample`` grid ``[1, H, W, 2]`` (align_corners=False) that samples every pixel at its centre."""
    ys = (torch.arange(size[0], device=device, dtype=torch.float32) + 0.5) / size[0] * 2 - 1
    xs = (torch.arange(size[1], device=device, dtype=torch.float32) + 0.5) / size[1] * 2 - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]
