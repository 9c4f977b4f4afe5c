"""Abnormal poses: what a pose estimator, or PSGAN itself, gets wrong.

Joints drawn larger or smaller (heatmap sigma), the whole pose too big, too small or shifted, joints
displaced, dropped or swapped left/right, and frames jittered in time. ``severity`` in [0, 1] scales every
error; 0 leaves poses unchanged. ``p`` is the probability that a sample is corrupted at all (Kornia's
``p``): a generator trained only on corrupted poses learns to distrust every pose, so its frames blur even when
the pose is right. As in Kornia, parameters are sampled apart from being applied, so one draw
can be applied to several tensors.
"""

from __future__ import annotations

import torch

from pgvg_core.interfaces import Augmentation
from pgvg_core.poses.keypoints import body_size
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton


class AbnormalPose(Augmentation):
    """Corrupts keypoints ``[B, T, K, 3]`` -> ``[B, T, K, 4]`` (a 4th column: per-joint heatmap sigma scale).

    ``skeleton`` (set by pgvg from the data) says which joints a left/right swap exchanges.
    """

    def __init__(
        self,
        *,
        severity: float = 0.5,
        sigma: bool = True,
        scale: bool = True,
        shift: bool = True,
        displace: bool = True,
        drop: bool = True,
        swap: bool = True,
        jitter: bool = True,
        p: float = 1.0,
        drop_rate: float = 0.2,
        swap_rate: float = 0.3,
        skeleton: Skeleton | str = BODY_18,
    ) -> None:
        if not 0.0 <= severity <= 1.0:
            raise ValueError(f"severity must be in [0, 1], got {severity}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p (the probability of corrupting a sample) must be in [0, 1], got {p}")
        for name, rate in (("drop_rate", drop_rate), ("swap_rate", swap_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        self.severity = severity
        self.p = p
        # At severity 1: the chance that a joint is dropped, and that a sample's left and right are swapped (a
        # benchmark measuring one kind of error sets them to 1 so that every sample has it).
        self.drop_rate, self.swap_rate = drop_rate, swap_rate
        self.skeleton = as_skeleton(skeleton)
        self.enabled = dict(sigma=sigma, scale=scale, shift=shift, displace=displace, drop=drop, swap=swap,
                            jitter=jitter)

    def sample(self, shape: torch.Size, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Random draws for keypoints of ``shape`` ``[B, T, K, C]``, all unitless."""
        batch, frames, joints = shape[0], shape[1], shape[2]
        s = self.severity

        def uniform(*size: int) -> torch.Tensor:
            return torch.rand(size, generator=generator) * 2 - 1  # [-1, 1]

        max_offset = round(2 * s)
        return {
            # log2 of the sigma scale per sample and joint: up to x(1 + 2s) larger or smaller.
            "sigma": uniform(batch, 1, joints) * torch.log2(torch.tensor(1 + 2 * s)),
            "scale": 1 + 0.35 * s * uniform(batch, 1, 1, 1),
            "shift": 0.2 * s * uniform(batch, 1, 1, 2),  # in body sizes
            "displace": 0.06 * s * uniform(batch, frames, joints, 2),
            "drop": torch.rand(batch, 1, joints, generator=generator) < self.drop_rate * s,
            "swap": torch.rand(batch, generator=generator) < self.swap_rate * s,
            "time": torch.randint(-max_offset, max_offset + 1, (batch, frames), generator=generator)
            if max_offset
            else torch.zeros(batch, frames, dtype=torch.long),
            "corrupt": torch.rand(batch, generator=generator) < self.p,
        }

    def apply(self, keypoints: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[B, T, K, 3|4]`` -> ``[B, T, K, 4]``: corrupted x, y, confidence, sigma scale."""
        batch, frames, joints = keypoints.shape[:3]
        if joints != self.skeleton.num_keypoints:
            raise ValueError(f"abnormal-pose: keypoints {list(keypoints.shape)} have {joints} joints, skeleton "
                             f"'{self.skeleton.name}' {self.skeleton.num_keypoints}")
        device, dtype = keypoints.device, keypoints.dtype
        p = {k: v.to(device) for k, v in params.items()}
        on = self.enabled
        xy, confidence = keypoints[..., :2], keypoints[..., 2:3]
        sigma_scale = keypoints[..., 3:4] if keypoints.shape[-1] > 3 else torch.ones_like(confidence)

        if on["jitter"]:
            index = (torch.arange(frames, device=device) + p["time"]).clamp(0, frames - 1)  # [B, T]
            gather = index[:, :, None, None].expand(-1, -1, joints, 1)
            xy = torch.gather(xy, 1, gather.expand(-1, -1, -1, 2))
            confidence = torch.gather(confidence, 1, gather)
            sigma_scale = torch.gather(sigma_scale, 1, gather)
        size = body_size(torch.cat([xy, confidence], -1)).mean(dim=1).clamp(min=1.0)[:, None, None, None]  # [B,1,1,1]
        visible = confidence > 0
        centre = (xy * visible).sum(dim=(1, 2), keepdim=True) / visible.sum(dim=(1, 2), keepdim=True).clamp(min=1)
        if on["scale"]:
            xy = centre + (xy - centre) * p["scale"].to(dtype)
        if on["shift"]:
            xy = xy + p["shift"].to(dtype) * size
        if on["displace"]:
            xy = xy + p["displace"].to(dtype) * size
        if on["swap"]:
            flip = list(self.skeleton.flip_permutation)
            flipped = xy[:, :, flip]
            flipped_conf = confidence[:, :, flip]
            swap = p["swap"][:, None, None, None]
            xy = torch.where(swap, flipped, xy)
            confidence = torch.where(swap, flipped_conf, confidence)
        if on["drop"]:
            confidence = confidence.masked_fill(p["drop"][..., None].expand_as(confidence), 0.0)
        if on["sigma"]:
            sigma_scale = sigma_scale * torch.exp2(p["sigma"]).to(dtype)[..., None].expand_as(sigma_scale)
        corrupted = torch.cat([xy, confidence, sigma_scale], dim=-1)
        original = keypoints if keypoints.shape[-1] > 3 else torch.cat([keypoints, torch.ones_like(confidence)], -1)
        return torch.where(p["corrupt"][:, None, None, None], corrupted, original)

    def __repr__(self) -> str:
        off = [name for name, enabled in self.enabled.items() if not enabled]
        probability = f", p={self.p}" if self.p < 1 else ""
        skeleton = f", skeleton={self.skeleton.name}" if self.skeleton.name != BODY_18.name else ""
        return f"AbnormalPose(severity={self.severity}{probability}{skeleton}" + (f", off={off})" if off else ")")


class AbnormalFace(AbnormalPose):
    """Abnormal face landmarks (skeleton ``face-68``): :class:`AbnormalPose`'s errors plus the ones face
    landmarkers make — jaw points drifting off the face's outline (a run of neighbouring contour points pulled
    sideways together), an eye collapsed to a line or a point (its six points pulled to their centre), and a
    mouth corner lost (its outer and inner points missing). ``severity`` scales these too; each is drawn per
    sample (``drift_rate``, ``collapse_rate``, ``corner_rate`` at severity 1)."""

    JAW = tuple(range(17))
    EYES = (tuple(range(36, 42)), tuple(range(42, 48)))
    CORNERS = ((48, 60), (54, 64))  # (outer, inner) of the subject's right and left mouth corner

    def __init__(self, *, drift: bool = True, collapse: bool = True, corner: bool = True, drift_rate: float = 0.5,
                 collapse_rate: float = 0.3, corner_rate: float = 0.3, swap: bool = False,
                 skeleton: Skeleton | str = "face-68", **kwargs) -> None:
        """Left/right swaps are off by default: a mirrored face is a plausible face, not a landmark error."""
        super().__init__(swap=swap, skeleton=skeleton, **kwargs)
        if self.skeleton.num_keypoints != 68:
            raise ValueError(f"abnormal-face corrupts face-68 landmarks; skeleton '{self.skeleton.name}' has "
                             f"{self.skeleton.num_keypoints} keypoints (use abnormal-pose for other skeletons)")
        for name, rate in (("drift_rate", drift_rate), ("collapse_rate", collapse_rate), ("corner_rate", corner_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        self.enabled.update(drift=drift, collapse=collapse, corner=corner)
        self.rates = {"drift": drift_rate, "collapse": collapse_rate, "corner": corner_rate}

    def sample(self, shape: torch.Size, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        params = super().sample(shape, generator)
        batch, s = shape[0], self.severity

        def chance(kind: str) -> torch.Tensor:
            return torch.rand(batch, generator=generator) < self.rates[kind] * s

        angle = torch.rand(batch, generator=generator) * 2 * torch.pi
        params.update({
            "drift": chance("drift"),
            "drift_centre": torch.randint(0, len(self.JAW), (batch,), generator=generator),
            "drift_width": 1.0 + torch.rand(batch, generator=generator) * 2.5,  # jaw points, Gaussian sd
            "drift_offset": 0.15 * s * torch.stack([angle.cos(), angle.sin()], dim=1),  # in face sizes
            "collapse": chance("collapse"),
            "collapse_eye": torch.randint(0, 2, (batch,), generator=generator),
            "collapse_amount": 0.6 + 0.4 * torch.rand(batch, generator=generator),  # of the way to the centre
            "corner": chance("corner"),
            "corner_side": torch.randint(0, 2, (batch,), generator=generator),
        })
        return params

    def apply(self, keypoints: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        out = super().apply(keypoints, params)  # [B, T, K, 4]
        device, dtype = out.device, out.dtype
        p = {k: v.to(device) for k, v in params.items()}
        corrupt = p["corrupt"]
        xy, confidence, sigma_scale = out[..., :2], out[..., 2:3], out[..., 3:4]
        if self.enabled["drift"]:
            size = body_size(out[..., :3]).mean(dim=1).clamp(min=1.0)  # [B]
            jaw = torch.arange(len(self.JAW), device=device, dtype=dtype)
            weight = torch.exp(-0.5 * ((jaw[None] - p["drift_centre"][:, None]) / p["drift_width"][:, None]) ** 2)
            weight = weight * (p["drift"] & corrupt)[:, None]  # [B, 17]
            offset = weight[..., None] * p["drift_offset"].to(dtype)[:, None] * size[:, None, None]  # [B, 17, 2]
            xy = torch.cat([xy[:, :, :17] + offset[:, None], xy[:, :, 17:]], dim=2)
        if self.enabled["collapse"]:
            xy = xy.clone()  # written eye by eye below
            for side, eye in enumerate(self.EYES):
                chosen = (p["collapse"] & corrupt & (p["collapse_eye"] == side))[:, None, None, None]
                points = xy[:, :, list(eye)]
                centre = points.mean(dim=2, keepdim=True)
                pulled = points + (centre - points) * p["collapse_amount"].to(dtype)[:, None, None, None]
                xy[:, :, list(eye)] = torch.where(chosen, pulled, points)
        if self.enabled["corner"]:
            confidence = confidence.clone()
            for side, corner in enumerate(self.CORNERS):
                lost = (p["corner"] & corrupt & (p["corner_side"] == side))[:, None, None, None]  # [B, 1, 1, 1]
                confidence[:, :, list(corner)] = confidence[:, :, list(corner)].masked_fill(lost, 0.0)
        return torch.cat([xy, confidence, sigma_scale], dim=-1)

    def __repr__(self) -> str:
        return super().__repr__().replace("AbnormalPose(", "AbnormalFace(", 1)
