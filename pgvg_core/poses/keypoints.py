"""Poses: heatmaps, drawings and sizes of keypoints that follow a skeleton (:mod:`pgvg_core.poses.skeleton`).

Keypoints are ``[..., K, 3]`` (x, y in pixels, confidence in [0, 1]; 0 = missing). They may carry a fourth
column, a per-joint sigma scale (1 = nominal), which abnormal-pose augmentation uses to draw a joint larger
or smaller. Heatmaps are ``[..., K, H, W]``, one Gaussian per visible joint, peak 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pgvg_core.poses.skeleton import BODY_18, Skeleton

# Body-18's fields under their old names, for body-specific code (framing by neck and hips, the synthetic
# bodies, the body pose estimator's mapping). Generic code takes a ``Skeleton`` (default :data:`BODY_18`).
KEYPOINT_NAMES: tuple[str, ...] = BODY_18.keypoint_names
NUM_KEYPOINTS = BODY_18.num_keypoints
KEYPOINT_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
# OpenPose's COCO limbs (pairs of keypoint indices), in its drawing order.
LIMBS: tuple[tuple[int, int], ...] = BODY_18.limbs
# OpenPose's limb colours (RGB), one per limb above.
LIMB_COLOURS: tuple[tuple[int, int, int], ...] = BODY_18.limb_colours
# Keypoint index permutation that mirrors left and right (for horizontal flips and swap errors).
FLIP_PERMUTATION: tuple[int, ...] = BODY_18.flip_permutation


#: Confidence conventions: a keypoint above ``FOUND`` counts as found; ``pgvg animate`` keeps a photo's joints
#: from ``SURE`` on and gives a joint it inferred rather than saw (a side view's far arm) ``INFERRED``, between
#: the two, so a renderer can tell (and draw that limb behind the body).
FOUND, INFERRED, SURE = 0.1, 0.2, 0.3


def rescale_keypoints(keypoints: Any, factor: float) -> Any:
    """Keypoints ``[..., K, 3+]`` (tensor or array) in the pixels of an image resized by ``factor``: pixel
    centres stay centres (``x -> (x + 0.5) * factor - 0.5``); confidence and any other column unchanged."""
    out = keypoints.clone() if isinstance(keypoints, torch.Tensor) else keypoints.copy()
    out[..., :2] = (keypoints[..., :2] + 0.5) * factor - 0.5
    return out


def render_heatmaps(keypoints: torch.Tensor, size: int | tuple[int, int], sigma: float = 1.5) -> torch.Tensor:
    """Gaussian heatmaps of keypoints.

    :param keypoints: ``[..., K, 3]`` or ``[..., K, 4]`` (x, y, confidence[, sigma scale]) in pixels.
    :param size: output ``H`` (square) or ``(H, W)``.
    :param sigma: the Gaussian's standard deviation in pixels for a sigma scale of 1.
    :returns: ``[..., K, H, W]``, each joint's peak equal to its confidence (0 for a missing joint).
    """
    height, width = (size, size) if isinstance(size, int) else size
    x = keypoints[..., 0, None]  # [..., K, 1]
    y = keypoints[..., 1, None]
    confidence = keypoints[..., 2, None, None].clamp(0, 1)
    scale = keypoints[..., 3, None] if keypoints.shape[-1] > 3 else 1.0
    denominator = 2 * (sigma * scale) ** 2
    xs = torch.arange(width, dtype=keypoints.dtype, device=keypoints.device)
    ys = torch.arange(height, dtype=keypoints.dtype, device=keypoints.device)
    # A 2D Gaussian is the product of two 1D ones: H + W exponentials per joint instead of H x W.
    gauss_x = _gaussian((xs - x) ** 2 / denominator)  # [..., K, W]
    gauss_y = _gaussian((ys - y) ** 2 / denominator)  # [..., K, H]
    return confidence * gauss_y[..., :, None] * gauss_x[..., None, :]


#: Where a heatmap's 1-D Gaussian factor is cut to exactly 0: exp(-16) ~ 1e-7, beyond 5.7 sigma. Uncut, the
#: product of two far tails is a denormal float (below 1e-38), and a CPU computes with denormals some 100x
#: slower: the convolutions that read heatmaps took 2-3x their time (SCGAN's step 1.33x), measured.
GAUSSIAN_CUT = 16.0


def _gaussian(exponent: torch.Tensor) -> torch.Tensor:
    """``exp(-exponent)``, exactly 0 beyond :data:`GAUSSIAN_CUT`."""
    return torch.exp(-exponent).masked_fill(exponent > GAUSSIAN_CUT, 0.0)


def heatmaps_to_keypoints(heatmaps: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Keypoints from heatmaps: each map's peak, refined to sub-pixel accuracy.

    The refinement fits a parabola to the log of the peak and its neighbours along x and y, which is exact
    for a Gaussian.

    :param heatmaps: ``[..., K, H, W]``.
    :returns: ``[..., K, 3]``: x, y in pixels, confidence = peak value (0 where below ``threshold``).
    """
    *lead, height, width = heatmaps.shape
    flat = heatmaps.reshape(-1, height * width).float()
    peak, index = flat.max(dim=-1)
    py, px = index // width, index % width
    maps = flat.view(-1, height, width).clamp(min=1e-6).log()
    rows = torch.arange(maps.shape[0], device=heatmaps.device)

    def offset(before: torch.Tensor, centre: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        curvature = before - 2 * centre + after
        step = 0.5 * (before - after) / torch.where(curvature < -1e-6, curvature, torch.full_like(curvature, -1.0))
        return step.clamp(-0.5, 0.5)

    centre = maps[rows, py, px]
    dx = offset(maps[rows, py, (px - 1).clamp(min=0)], centre, maps[rows, py, (px + 1).clamp(max=width - 1)])
    dy = offset(maps[rows, (py - 1).clamp(min=0), px], centre, maps[rows, (py + 1).clamp(max=height - 1), px])
    x, y = px.float() + dx, py.float() + dy
    confidence = torch.where(peak >= threshold, peak.clamp(max=1), torch.zeros_like(peak))
    return torch.stack([x, y, confidence], dim=-1).view(*lead, 3)


def draw_skeleton(
    image: np.ndarray, keypoints: np.ndarray, *, thickness: int | None = None, min_confidence: float = 0.05,
    skeleton: Skeleton = BODY_18,
) -> np.ndarray:
    """Draw a skeleton's coloured limbs and joints onto a copy of an RGB uint8 image ``[H, W, 3]``.

    :param keypoints: ``[K, 3]`` in the image's pixel coordinates, ``K`` the skeleton's.
    """
    from PIL import Image, ImageDraw

    height, width = image.shape[:2]
    thickness = thickness or max(1, round(min(height, width) / 64))
    canvas = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    points = np.asarray(keypoints, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] != skeleton.num_keypoints:
        raise ValueError(f"keypoints of shape {list(points.shape)} do not follow skeleton '{skeleton.name}': "
                         f"expected [{skeleton.num_keypoints}, 3]")
    for (a, b), colour in zip(skeleton.limbs, skeleton.limb_colours):
        if points[a, 2] >= min_confidence and points[b, 2] >= min_confidence:
            draw.line([tuple(points[a, :2]), tuple(points[b, :2])], fill=colour, width=thickness)
    radius = thickness
    for k, colour in enumerate(skeleton.keypoint_colours):
        if points[k, 2] >= min_confidence:
            x, y = points[k, :2]
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    return np.asarray(canvas)


def skeleton_image(keypoints: np.ndarray, size: int | tuple[int, int], *, skeleton: Skeleton = BODY_18) -> np.ndarray:
    """A skeleton on black: ``[K, 3]`` keypoints -> RGB uint8 ``[H, W, 3]``."""
    height, width = (size, size) if isinstance(size, int) else size
    return draw_skeleton(np.zeros((height, width, 3), np.uint8), keypoints, skeleton=skeleton)


def bone_distance(xs: torch.Tensor, ys: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
                  longest: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Distance from every point of the grid ``xs [W]`` x ``ys [H]`` (real; point ``h * W + w`` is
    ``(xs[w], ys[h])``) to bones ``[B, L]`` (complex ends) -> ``[B, L, H * W]``. A bone runs from ``start`` on
    past ``end`` to ``longest`` times its length (a number, or one per bone ``[L]``: a hand beyond the wrist).
    In real arithmetic with the row and column terms apart: a third less time than complex tensors over all
    points (a face has ~60 bones, and the warp measures every pixel against each)."""
    bone_x, bone_y = (end - start).real, (end - start).imag  # [B, L]
    offset_x = xs - start.real[..., None]  # [B, L, W]
    offset_y = ys - start.imag[..., None]  # [B, L, H]
    length2 = (bone_x.square() + bone_y.square()).clamp(min=1e-9)[..., None, None]
    dot = (offset_x * bone_x[..., None])[..., None, :] + (offset_y * bone_y[..., None])[..., :, None]  # [B, L, H, W]
    longest = torch.as_tensor(longest, dtype=dot.dtype, device=dot.device)
    along = torch.minimum((dot / length2).clamp(min=0), longest.reshape(*longest.shape, 1, 1))
    distance = torch.hypot(offset_x[..., None, :] - along * bone_x[..., None, None],
                           offset_y[..., :, None] - along * bone_y[..., None, None])
    return distance.flatten(-2)


def limb_mask(keypoints: torch.Tensor, size: tuple[int, int], width: float | torch.Tensor,
              limbs: tuple[tuple[int, int], ...] = LIMBS, beyond: tuple[float, ...] | None = None,
              found: float = 0.1) -> torch.Tensor:
    """Where a body drawn as thick limbs covers the image: ``[N, K, 3]`` (pixels) -> ``[N, H, W]`` in [0, 1].

    A pixel is inside when it is within ``width`` pixels (a number, one per pose ``[N]``, or one per pose and
    limb ``[N, L]``) of one of ``limbs`` whose two joints are found (confidence above ``found``); the edge is
    soft over a quarter of ``width``. ``beyond`` (one per limb) lengthens each limb past its second joint by
    that share of its bone.
    """
    height, width_px = size
    a, b = (torch.tensor(index) for index in zip(*limbs))
    keypoints = keypoints.float()
    start = torch.complex(keypoints[:, a, 0], keypoints[:, a, 1])  # [N, L]
    end = torch.complex(keypoints[:, b, 0], keypoints[:, b, 1])
    longest = 1.0 if beyond is None else 1.0 + torch.tensor(beyond, dtype=torch.float32)  # [L]
    distance = bone_distance(torch.arange(width_px, dtype=torch.float32), torch.arange(height, dtype=torch.float32),
                             start, end, longest)  # [N, L, P]
    seen = (keypoints[:, a, 2] > found) & (keypoints[:, b, 2] > found)  # [N, L]
    distance = distance.masked_fill(~seen[..., None], float("inf"))
    width = torch.as_tensor(width, dtype=torch.float32)
    if width.dim() < 2:  # one width for every limb: the nearest limb decides
        width = width.reshape(-1, 1)  # [N or 1, 1]
        return torch.sigmoid((width - distance.amin(dim=1)) / (0.25 * width)).view(-1, height, width_px)
    width = width[..., None]  # [N or 1, L, 1]
    return torch.sigmoid((width - distance) / (0.25 * width)).amax(dim=1).view(-1, height, width_px)


def body_size(keypoints: torch.Tensor) -> torch.Tensor:
    """A per-pose body size in pixels, for thresholds such as PCK: the bounding-box diagonal of visible joints.

    :param keypoints: ``[..., K, 3]`` -> ``[...]``.
    """
    visible = keypoints[..., 2] > 0
    big = torch.finfo(keypoints.dtype).max
    x, y = keypoints[..., 0], keypoints[..., 1]
    x_min = torch.where(visible, x, torch.full_like(x, big)).amin(-1)
    x_max = torch.where(visible, x, torch.full_like(x, -big)).amax(-1)
    y_min = torch.where(visible, y, torch.full_like(y, big)).amin(-1)
    y_max = torch.where(visible, y, torch.full_like(y, -big)).amax(-1)
    diagonal = torch.sqrt((x_max - x_min) ** 2 + (y_max - y_min) ** 2)
    return torch.where(visible.sum(-1) >= 2, diagonal, torch.zeros_like(diagonal))


def soft_keypoints(heatmaps: torch.Tensor, floor: float = 0.1) -> torch.Tensor:
    """Differentiable keypoints from heatmaps (a soft-argmax), for losses and discriminators on positions.

    Each map is weighted by how far it rises above ``floor`` times its peak, so a faint background (a sigmoid
    output is never exactly 0) does not pull the centroid towards the middle; for a Gaussian the centroid of
    what is left is its centre (within 0.03 px for sigma >= 0.75 px at the default ``floor``).

    :param heatmaps: ``[..., K, H, W]``.
    :returns: ``[..., K, 3]``: x, y in pixels (the map's centre where it is empty), confidence = peak value.
    """
    height, width = heatmaps.shape[-2:]
    maps = heatmaps.float()
    peak = maps.flatten(-2).amax(-1)  # [..., K]
    weight = (maps - floor * peak[..., None, None]).clamp(min=0)
    mass = weight.sum((-2, -1))
    xs = torch.arange(width, dtype=maps.dtype, device=maps.device)
    ys = torch.arange(height, dtype=maps.dtype, device=maps.device)
    empty = mass <= 1e-8
    x = torch.where(empty, torch.full_like(mass, (width - 1) / 2), (weight.sum(-2) * xs).sum(-1) / mass.clamp(min=1e-8))
    y = torch.where(empty, torch.full_like(mass, (height - 1) / 2), (weight.sum(-1) * ys).sum(-1) / mass.clamp(min=1e-8))
    return torch.stack([x, y, peak.clamp(0, 1)], dim=-1)


def heatmap_sigma(heatmaps: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """The Gaussian width (pixels) that drew each pose's heatmaps, from the curvature of the log at each peak.

    For a Gaussian, ``log h(x - 1) - 2 log h(x) + log h(x + 1) = -1 / sigma^2`` exactly, wherever the peak sits
    between pixels. The median over every visible joint and both axes is taken.

    :param heatmaps: ``[B, K, H, W]``.
    :returns: ``[B]``; NaN for a pose without a usable joint.
    """
    batch, joints, height, width = heatmaps.shape
    maps = heatmaps.detach().float().clamp(min=1e-8).log().reshape(batch * joints, height, width)
    peak, index = heatmaps.detach().float().reshape(batch * joints, -1).max(dim=-1)
    py, px = index // width, index % width
    rows = torch.arange(batch * joints, device=heatmaps.device)
    centre = maps[rows, py, px]
    curvature_x = maps[rows, py, (px - 1).clamp(min=0)] - 2 * centre + maps[rows, py, (px + 1).clamp(max=width - 1)]
    curvature_y = maps[rows, (py - 1).clamp(min=0), px] - 2 * centre + maps[rows, (py + 1).clamp(max=height - 1), px]
    inside_x = (px > 0) & (px < width - 1) & (peak >= threshold)
    inside_y = (py > 0) & (py < height - 1) & (peak >= threshold)
    curvature = torch.stack([curvature_x, curvature_y], -1).view(batch, joints * 2)
    usable = torch.stack([inside_x, inside_y], -1).view(batch, joints * 2) & (curvature < -1e-6)
    sigma = (-1 / torch.where(usable, curvature, torch.full_like(curvature, -1.0))).sqrt()
    sigma = torch.where(usable, sigma, torch.full_like(sigma, float("nan")))
    return sigma.nanmedian(dim=1).values
