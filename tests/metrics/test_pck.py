import numpy as np
import pytest
import torch
from pgvg_metrics.pck import PCK
from pgvg_poses.estimator import SyntheticEstimatorPoses
from tiny import TINY_ESTIMATOR, write_config

from pgvg_core.config import load_config
from pgvg_core.errors import DataError
from pgvg_core.training.trainer import Trainer


def poses(batch=4):
    torch.manual_seed(0)
    keypoints = torch.rand(batch, 18, 3) * 40 + 10
    keypoints[..., 2] = 1
    return keypoints


def test_pck_on_keypoints_counts_joints_within_alpha_body_size():
    target = poses()
    metric = PCK(alpha=0.1)
    metric.update(target, target.clone(), is_keypoints=True)
    assert metric.compute()["pck"] == 1.0
    metric.reset()
    moved = target.clone()
    moved[:, :9, 0] += 1000  # half the joints far away
    metric.update(target, moved, is_keypoints=True)
    assert metric.compute()["pck"] == pytest.approx(9 / 18)
    metric.reset()
    hidden = target.clone()
    hidden[:, :, 2] = 0
    hidden[:, 0, 2] = 1  # only the nose is a target
    metric.update(hidden, target, is_keypoints=True)
    assert metric.total == 4 and metric.compute()["pck"] == 1.0


def test_estimator_trains_and_serves_as_pose_source(tmp_path):
    result = Trainer(load_config(write_config(tmp_path, TINY_ESTIMATOR)), tmp_path / "est", progress=False).fit()
    assert 0 <= result.metrics["pck"]["pck"] <= 1
    source = SyntheticEstimatorPoses(run=str(tmp_path / "est"))
    frames = np.zeros((3, 32, 32, 3), np.uint8)
    assert source(frames).shape == (3, 18, 3)
    assert source.settings()["weights"].endswith(".pt")
    # PCK on frames uses it: generated frames against target keypoints.
    metric = PCK(pose_params={"run": str(tmp_path / "est")})
    metric.update(None, torch.zeros(2, 3, 3, 32, 32), keypoints=torch.cat([poses(2)[:, None]] * 3, dim=1) / 2)
    assert metric.total == 2 * 3 * 18
    assert metric.provenance()["pose_source"] == "synthetic-estimator"


def test_missing_estimator_says_how_to_train_it(tmp_path):
    with pytest.raises(DataError, match="train one on the frames it will read, with `pgvg run experiments/pose-estimator.toml"):
        SyntheticEstimatorPoses(run=str(tmp_path / "none"))
