"""Temporal consistency of generated videos against real ones.

For a clip x_1..x_T (pixels in [-1, 1]) the consecutive-frame differences are d_t = x_{t+1} - x_t, taken
over every pixel, channel and t. Let P_real and P_fake be their distributions over all real and all generated
clips. The metric is

    temporal = W1(P_real, P_fake) = integral over u in (0, 1) of |Q_real(u) - Q_fake(u)| du,

the 1-Wasserstein (earth mover's) distance between the two, computed from their quantile functions Q on a
grid of 1,000 levels. 0 means generated videos change from frame to frame exactly as much, and in the same
way, as real ones; flickering and frozen videos both score high. ``energy`` (mean |d_t|) of each side is
reported too, so one can see which way it errs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pgvg_core.interfaces import Metric

QUANTILES = 1000
MAX_SAMPLES = 2_000_000  # differences kept per side (a uniform subsample beyond that)


def frame_differences(clips: torch.Tensor) -> torch.Tensor:
    """``[B, T, C, H, W]`` (or one clip ``[T, C, H, W]``) -> all consecutive differences, flattened."""
    if clips.dim() == 4:
        clips = clips[None]
    if clips.dim() != 5 or clips.shape[1] < 2:
        raise ValueError(f"temporal needs clips [B, T, C, H, W] with T >= 2, got {list(clips.shape)}")
    return (clips[:, 1:] - clips[:, :-1]).flatten().double()


class TemporalConsistency(Metric):
    """W1 distance between real and generated consecutive-frame difference distributions (lower is better)."""

    directions = {"temporal": False, "real_energy": None, "fake_energy": None}

    higher_is_better = False

    def __init__(self, *, seed: int = 0, **_: Any) -> None:
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self.real: list[torch.Tensor] = []
        self.fake: list[torch.Tensor] = []

    def update(self, real: torch.Tensor, fake: torch.Tensor, **_: Any) -> None:
        self.real.append(frame_differences(real.cpu()))
        self.fake.append(frame_differences(fake.cpu()))

    def _samples(self, parts: list[torch.Tensor]) -> np.ndarray:
        values = torch.cat(parts)
        if len(values) > MAX_SAMPLES:
            generator = torch.Generator().manual_seed(self.seed)
            values = values[torch.randperm(len(values), generator=generator)[:MAX_SAMPLES]]
        return values.numpy()

    def compute(self) -> dict[str, float]:
        if not self.real or not self.fake:
            raise ValueError("temporal needs at least one real and one generated clip")
        real, fake = self._samples(self.real), self._samples(self.fake)
        levels = (np.arange(QUANTILES) + 0.5) / QUANTILES
        distance = np.abs(np.quantile(real, levels) - np.quantile(fake, levels)).mean()
        return {"temporal": float(distance), "real_energy": float(np.abs(real).mean()),
                "fake_energy": float(np.abs(fake).mean())}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "temporal", "version": 1, "formula": "W1 between consecutive-frame difference "
                "distributions (quantile grid of 1000)", "max_samples": MAX_SAMPLES, "dtype": "float64",
                "real_differences": int(sum(len(r) for r in self.real)),
                "fake_differences": int(sum(len(f) for f in self.fake))}
