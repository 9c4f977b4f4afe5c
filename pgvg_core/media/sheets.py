"""Pictures people would rather look at than read: contact sheets and animated grids of clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pgvg_core.poses.keypoints import draw_skeleton
from pgvg_core.poses.skeleton import BODY_18, Skeleton


def overlay_poses(frames: np.ndarray, keypoints: np.ndarray, *, skeleton: Skeleton = BODY_18) -> np.ndarray:
    """Skeletons drawn over frames: uint8 ``[T, H, W, 3]`` and ``[T, K, 3]`` -> ``[T, H, W, 3]``."""
    return np.stack([draw_skeleton(f, k, skeleton=skeleton) for f, k in zip(frames, keypoints)])


def _label_strip(text: str, height: int, width: int) -> np.ndarray:
    from PIL import Image, ImageDraw  # noqa: PLC0415

    strip = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(strip).text((3, max(0, height // 2 - 6)), text, fill=(0, 0, 0))
    return np.asarray(strip)


def grid(rows: Sequence[np.ndarray], labels: Sequence[str] | None = None, *, gap: int = 2,
         label_width: int = 96) -> np.ndarray:
    """Rows of images ``[N, H, W, 3]`` (same H, W) into one uint8 picture, with an optional label per row."""
    height, width = rows[0].shape[1:3]
    lines = []
    for i, row in enumerate(rows):
        cells = [np.pad(img, ((0, 0), (0, gap), (0, 0)), constant_values=255) for img in row]
        line = np.concatenate(cells, axis=1)
        if labels is not None:
            line = np.concatenate([_label_strip(labels[i], height, label_width), line], axis=1)
        lines.append(np.pad(line, ((0, gap), (0, 0), (0, 0)), constant_values=255))
    widest = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, widest - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    return np.concatenate(lines, axis=0)


def animated_grid(clips: Sequence[np.ndarray], columns: int, *, gap: int = 2) -> np.ndarray:
    """Clips ``[T, H, W, 3]`` laid out ``columns`` wide, frame by frame: ``[T, H', W', 3]``."""
    frames = min(len(c) for c in clips)
    height, width = clips[0].shape[1:3]
    blank = np.full((frames, height, width, 3), 255, np.uint8)
    padded = list(clips) + [blank] * (-len(clips) % columns)
    out = []
    for t in range(frames):
        rows = [np.stack([c[t] for c in padded[r : r + columns]]) for r in range(0, len(padded), columns)]
        out.append(grid(rows, gap=gap))
    return np.stack(out)


def save_png(path, image: np.ndarray, *, scale: int = 1) -> None:
    from PIL import Image  # noqa: PLC0415

    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    picture.save(path)
