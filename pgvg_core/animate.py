"""``pgvg animate``: a photo of a person + an action -> a video of that person doing it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pgvg_core.errors import DataError, PgvgError
from pgvg_core.pose import KEYPOINT_INDEX

log = logging.getLogger("pgvg.animate")

# Joints without which there is no body to animate.
REQUIRED_JOINTS = ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip")


def read_photo(path: Path) -> np.ndarray:
    """An RGB photo as uint8 ``[H, W, 3]``; grayscale, RGBA and non-images are errors that say what to do."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"image not found: {path}")
    try:
        with Image.open(path) as picture:
            mode = picture.mode
            if mode in ("L", "LA", "1", "I", "I;16", "F"):
                raise DataError(f"{path}: a grayscale image ({mode}); pgvg animates colour photos: give an RGB image")
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in picture.info):
                raise DataError(f"{path}: an image with transparency ({mode}); flatten it onto a background "
                                "and save it as RGB (e.g. JPEG)")
            return np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path}: not a readable image ({error}); use a PNG or JPEG photo") from None


def photo_pose(photo: np.ndarray, path: Path, *, pose_source: str | None, keypoints_file: str | None) -> np.ndarray:
    """The person's keypoints ``[K, 3]`` in the photo's pixels."""
    if keypoints_file:
        from pgvg_poses.formats import load_keypoints

        points = load_keypoints(keypoints_file)[0]
        source = f"keypoints file {keypoints_file}"
    else:
        from pgvg_core.config import ComponentSpec, build

        name = pose_source or "mediapipe"
        estimator = build("pose_sources", ComponentSpec(name=name), path="--pose-source")
        if getattr(estimator, "provides_ground_truth", False):
            raise PgvgError("--pose-source ground-truth has no poses for a photo; use mediapipe or --keypoints")
        points = np.asarray(estimator(photo[None], clip_path=path))[0]
        source = f"pose source '{name}'"
    missing = [name for name in REQUIRED_JOINTS if points[KEYPOINT_INDEX[name], 2] <= 0.1]
    if len(missing) >= 3:
        raise DataError(f"{path}: no person found by {source} (missing {', '.join(missing)}); use a photo where "
                        "the person's shoulders and hips are visible, or give --keypoints")
    return points.astype(np.float32)


def animate_photo(image: str, *, action: str, run_dir: str, out: str, frames: int | None = None,
                  pose_source: str | None = None, keypoints_file: str | None = None, seed: int = 0) -> dict[str, Any]:
    from pgvg_core.demo import _enlarge, _skeletons
    from pgvg_core.pipeline import Animator, panels
    from pgvg_core.video import letterbox, to_uint8, write_video

    out_path = Path(out)
    if out_path.suffix.lower() not in (".mp4", ".gif"):
        raise PgvgError(f"--out {out}: write a .mp4 or .gif file")
    animator = Animator(run_dir)  # checks the run folder first: the cheapest error to find
    animator.action_index(action)
    path = Path(image)
    photo = read_photo(path)
    points = photo_pose(photo, path, pose_source=pose_source, keypoints_file=keypoints_file)
    boxed, (scale, left, top) = letterbox(photo[None], animator.resolution)
    first = points.copy()
    first[:, 0] = points[:, 0] * scale + left
    first[:, 1] = points[:, 1] * scale + top
    image_tensor = torch.from_numpy(boxed[0]).permute(2, 0, 1).float() / 127.5 - 1.0  # [3, H, W]
    first_tensor = torch.from_numpy(first)
    poses = animator.poses(first_tensor, action, seed=seed)
    length = len(poses)
    if frames and frames > length:
        # PSGAN makes T frames; longer videos continue from the last pose.
        chunks = [poses]
        while sum(len(c) for c in chunks) < frames:
            chunks.append(animator.poses(chunks[-1][-1], action, seed=seed + len(chunks))[1:])
        poses = torch.cat(chunks)[:frames]
    elif frames:
        poses = poses[:frames]
    clip = animator.frames(image_tensor, first_tensor, poses)
    video = panels(boxed[0], _skeletons(poses, animator.resolution), to_uint8(clip))
    write_video(out_path, _enlarge(video), fps=8)
    crop = {"image": str(path), "image_size": list(photo.shape[:2]), "resolution": animator.resolution,
            "scale": float(scale), "offset_x": float(left), "offset_y": float(top),
            "pose": "keypoints file" if keypoints_file else (pose_source or "mediapipe"), "action": action,
            "seed": seed, "frames": len(poses)}
    crop_file = out_path.with_suffix(".json")
    crop_file.write_text(json.dumps(crop, indent=2))
    log.info("photo %s resized by %.3f and padded at (%.0f, %.0f) to %d px", path, scale, left, top,
             animator.resolution)
    return {"video": out_path, "frames": len(poses), "crop_file": crop_file}
