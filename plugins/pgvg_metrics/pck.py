"""PCK: the percentage of correct keypoints of generated frames.

A pose source finds the pose in each generated frame; a joint is correct when it lies within
``alpha`` x body size of the target joint (body size: the diagonal of the target pose's bounding box), counted
over joints visible in the target, whatever the skeleton (``K`` comes from the keypoints). Targets are the poses the frames were generated from (``keypoints=``),
or, without them (``pgvg score``), the poses the same source finds in the real frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pgvg_core.config import ComponentSpec, build
from pgvg_core.interfaces import Metric
from pgvg_core.poses.keypoints import body_size


class PCK(Metric):
    """Percentage of correct keypoints of generated frames' poses (higher is better)."""

    directions = {"pck": True}

    @classmethod
    def helper_params(cls, helpers: Mapping[str, Any]) -> dict[str, Any]:
        found = helpers.get("pose-estimator")  # none: the pose source's own default (and its error, if missing)
        return {"pose_params": {"run": str(found)}} if found else {}

    def __init__(self, *, alpha: float = 0.1, pose_source: str = "synthetic-estimator",
                 pose_params: dict[str, Any] | None = None, device: Any = "cpu", **_: Any) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.params = dict(pose_params or {})
        if pose_source == "synthetic-estimator":
            self.params.setdefault("device", str(device))
        self.source_name = pose_source
        self._source = None  # built on first use: scoring keypoints directly needs none
        self.reset()

    @property
    def source(self) -> Any:
        if self._source is None:
            self._source = build("pose_sources", ComponentSpec(name=self.source_name, params=self.params),
                                 path="metrics.pck.params.pose_source")
        return self._source

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def _estimate(self, frames: torch.Tensor) -> torch.Tensor:
        if hasattr(self.source, "estimate"):
            return self.source.estimate(frames)
        from pgvg_core.media.video import to_uint8

        return torch.from_numpy(self.source(to_uint8(frames)))

    def update(self, real: torch.Tensor, fake: torch.Tensor, *, keypoints: torch.Tensor | None = None,
               is_keypoints: bool = False, **_: Any) -> None:
        """``fake``: generated frames ``[B, (T,) 3, H, W]`` (or keypoints ``[..., K, 3]`` with
        ``is_keypoints``); targets: ``keypoints`` ``[B, (T,) K, 3]``, else ``real`` (keypoints with
        ``is_keypoints``, or frames whose poses the source finds)."""
        if is_keypoints:
            targets, found = real.flatten(0, -3).cpu(), fake.flatten(0, -3).cpu()
        else:
            fake = fake.flatten(0, 1) if fake.dim() == 5 else fake
            targets = keypoints.flatten(0, -3).cpu() if keypoints is not None else self._estimate(
                real.flatten(0, 1) if real.dim() == 5 else real)
            found = self._estimate(fake)
        if found.shape[-2] != targets.shape[-2]:
            raise ValueError(f"pck: the poses found have {found.shape[-2]} keypoints, the targets {targets.shape[-2]}; "
                             "the pose source must follow the data's skeleton")
        visible = targets[..., 2] > 0
        distance = (found[..., :2] - targets[..., :2].to(found.dtype)).norm(dim=-1)
        threshold = self.alpha * body_size(targets.float())[..., None]
        hit = (distance <= threshold) & (found[..., 2] > 0) & visible
        self.correct += int(hit.sum())
        self.total += int(visible.sum())

    def compute(self) -> dict[str, float]:
        return {"pck": self.correct / max(self.total, 1)}

    def provenance(self) -> dict[str, Any]:
        settings = dict(self._source.settings()) if self._source is not None else {}
        return {"metric": "pck", "version": 1, "alpha": self.alpha, "body_size": "target bounding-box diagonal",
                "pose_source": self.source_name if self._source is not None else "none (keypoints given)",
                **settings, "joints": self.total}
