"""Posture: the same motion performed from another posture (limbs held at other angles, another build).

Real photos show people walking, striding, standing on a box or seen from the side; the synthetic training
data starts its clips from a handful of standing postures. A model that only ever saw those reads a stride
as part of the action (the pose-action classifier recognised a real clip's motion moved onto real photos'
postures in 17 % of cases). This augmentation changes a clip's posture for its whole length and keeps its
motion: every limb bone is turned by a constant angle about its parent joint and its length scaled, the
shoulders and hips made narrower or wider (a person seen from the side), and the changes are passed down
the limbs (forward kinematics), so a wave stays a wave and a squat a squat.

Parameters are sampled apart from being applied (as in Kornia, see :class:`pgvg_core.interfaces.Augmentation`).
"""

from __future__ import annotations

import math

import torch

from pgvg_core.interfaces import Augmentation
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton

# A posture is a body's: its arms and legs turn about shoulders, elbows, hips and knees. The joints are named,
# so any skeleton with these keypoint names works (body-18 and its supersets); others are refused.
# Limb bones (parent, child), parents before children: each is turned and stretched about its parent.
LIMB_BONE_NAMES: tuple[tuple[str, str], ...] = (
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
)  # fmt: skip
# Joint pairs whose width is scaled about their midpoint: shoulders, hips.
WIDTH_NAMES: tuple[tuple[str, str], ...] = (("right_shoulder", "left_shoulder"), ("right_hip", "left_hip"))


def _indices(skeleton: Skeleton, pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[int, int], ...]:
    missing = sorted({name for pair in pairs for name in pair} - set(skeleton.keypoint_names))
    if missing:
        raise ValueError(f"posture turns a body's arms and legs; skeleton '{skeleton.name}' has no "
                         f"{', '.join(missing)}")
    return tuple((skeleton.index(a), skeleton.index(b)) for a, b in pairs)


# Body-18's indices.
LIMB_BONES: tuple[tuple[int, int], ...] = _indices(BODY_18, LIMB_BONE_NAMES)
WIDTHS: tuple[tuple[int, int], ...] = _indices(BODY_18, WIDTH_NAMES)


class Posture(Augmentation):
    """Keypoints ``[B, T, K, 3+]`` -> the same shape: each clip in another posture, its motion kept."""

    def __init__(self, *, angle: float = 35.0, length: float = 0.15, narrowest: float = 0.2, widest: float = 1.2,
                 p: float = 1.0, skeleton: Skeleton | str = BODY_18) -> None:
        """
        :param angle: largest turn of a limb bone about its parent joint, in degrees (uniform in +-angle).
        :param length: largest relative change of a limb bone's length (uniform in 1 +- length).
        :param narrowest: smallest factor on shoulder and hip width (0.2: a person seen nearly from the side).
        :param widest: largest factor on shoulder and hip width (uniform between the two).
        :param p: probability that a clip is changed at all.
        :param skeleton: the data's (set by pgvg); it needs a body's shoulders, elbows, wrists, hips, knees and
            ankles, by name.
        """
        for name, value, high in (("angle", angle, 180.0), ("length", length, 0.9), ("p", p, 1.0)):
            if not 0.0 <= value <= high:
                raise ValueError(f"{name} must be in [0, {high:g}], got {value}")
        if not 0.0 <= narrowest <= widest:
            raise ValueError(f"the width factors must satisfy 0 <= narrowest <= widest, got narrowest={narrowest}, "
                             f"widest={widest}")
        self.angle, self.length, self.narrowest, self.widest, self.p = angle, length, narrowest, widest, p
        self.skeleton = as_skeleton(skeleton)
        self.bones = _indices(self.skeleton, LIMB_BONE_NAMES)
        self.widths = _indices(self.skeleton, WIDTH_NAMES)

    def sample(self, shape: torch.Size, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Draws for keypoints of ``shape`` ``[B, T, K, C]``: one posture per clip."""
        batch = shape[0]

        def uniform(*size: int) -> torch.Tensor:
            return torch.rand(size, generator=generator) * 2 - 1  # [-1, 1]

        return {
            "angle": uniform(batch, len(self.bones)) * math.radians(self.angle),
            "length": 1 + self.length * uniform(batch, len(self.bones)),
            # One width factor for shoulders and hips: a view from the side narrows both.
            "width": self.narrowest + (self.widest - self.narrowest) * torch.rand(batch, generator=generator),
            "change": torch.rand(batch, generator=generator) < self.p,
        }

    def apply(self, keypoints: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        p = {k: v.to(keypoints.device) for k, v in params.items()}
        old = keypoints[..., :2]  # [B, T, K, 2]
        visible = keypoints[..., 2] > 0  # [B, T, K]
        new = old.clone()
        scale = p["width"][:, None, None].to(old.dtype)  # [B, 1, 1]
        for a, b in self.widths:
            both = (visible[..., a] & visible[..., b])[..., None]  # [B, T, 1]
            middle = (old[..., a, :] + old[..., b, :]) / 2
            new[..., a, :] = torch.where(both, middle + (old[..., a, :] - middle) * scale, old[..., a, :])
            new[..., b, :] = torch.where(both, middle + (old[..., b, :] - middle) * scale, old[..., b, :])
        for index, (parent, child) in enumerate(self.bones):
            angle = p["angle"][:, index, None].to(old.dtype)  # [B, 1]
            cos, sin = torch.cos(angle), torch.sin(angle)
            bone = (old[..., child, :] - old[..., parent, :]) * p["length"][:, index, None, None].to(old.dtype)
            turned = torch.stack([cos * bone[..., 0] - sin * bone[..., 1],
                                  sin * bone[..., 0] + cos * bone[..., 1]], dim=-1)  # [B, T, 2]
            both = (visible[..., parent] & visible[..., child])[..., None]
            # Without both ends there is no bone to turn: the child only follows its parent's move.
            followed = old[..., child, :] + new[..., parent, :] - old[..., parent, :]
            new[..., child, :] = torch.where(both, new[..., parent, :] + turned, followed)
        changed = torch.where(p["change"][:, None, None, None], new, old)
        return torch.cat([changed, keypoints[..., 2:]], dim=-1)

    def __repr__(self) -> str:
        return (f"Posture(angle={self.angle}, length={self.length}, width={self.narrowest}..{self.widest}, "
                f"p={self.p})")
