import pytest
import torch
from pgvg_metrics.temporal import TemporalConsistency


def moving_clips(speed: float, batch: int = 3, frames: int = 6) -> torch.Tensor:
    """A horizontal sine pattern moving by ``speed`` pixels per frame: [B, T, 3, 16, 16]."""
    xs = torch.arange(16.0)
    t = torch.arange(frames, dtype=torch.float32)[:, None]
    row = torch.sin((xs[None] - speed * t) * 0.5)  # [T, 16]
    clip = row[:, None, None, :].expand(frames, 3, 16, 16)
    return clip[None].expand(batch, -1, -1, -1, -1).clone()


def score(real, fake):
    metric = TemporalConsistency()
    metric.update(real, fake)
    return metric.compute()


def test_identical_motion_scores_zero():
    clips = moving_clips(1.0)
    assert score(clips, clips)["temporal"] == pytest.approx(0.0, abs=1e-12)


def test_frozen_and_flickering_videos_both_score_high_and_energy_tells_which():
    real = moving_clips(1.0)
    frozen = moving_clips(0.0)
    torch.manual_seed(0)
    flicker = real + 0.5 * torch.randn_like(real)
    frozen_scores, flicker_scores = score(real, frozen), score(real, flicker)
    slower = score(real, moving_clips(0.8))["temporal"]
    assert 0 < slower < frozen_scores["temporal"]
    assert flicker_scores["temporal"] > slower
    assert frozen_scores["fake_energy"] == 0 < frozen_scores["real_energy"] < flicker_scores["fake_energy"]


def test_needs_clips():
    with pytest.raises(ValueError, match="T >= 2"):
        TemporalConsistency().update(torch.zeros(2, 1, 3, 8, 8), torch.zeros(2, 1, 3, 8, 8))
