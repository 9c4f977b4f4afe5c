import numpy as np
import pytest
import torch
from pgvg_psgan.evaluation import PoseActionMetric, diversity, mean_acceleration
from pgvg_psgan.objective import sequence_heatmaps
from tiny import TINY_CLASSIFIER, write_config

from pgvg_core.config import load_config
from pgvg_core.errors import DataError
from pgvg_core.measure.stats import frechet_distance
from pgvg_core.training.experiment import evaluation_dataset
from pgvg_core.training.trainer import Trainer


def test_frechet_distance_of_shifted_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, means 2 apart in one axis: distance = 4.
    assert frechet_distance(a, a + np.array([2.0, 0, 0])) == pytest.approx(4.0, rel=1e-6)


def test_diversity_and_acceleration():
    assert diversity(np.zeros((10, 4))) == 0.0
    still = torch.zeros(2, 6, 18, 3)
    still[..., 2] = 1
    still[..., 0] = torch.linspace(0, 30, 18)  # a body 30 px wide
    assert mean_acceleration(still).abs().max() == 0
    jerky = still.clone()
    jerky[:, 1::2, :, 1] += 3.0
    assert (mean_acceleration(jerky) > 0.1).all()


def test_metric_without_classifier_says_how_to_make_one(tmp_path):
    with pytest.raises(DataError, match="train one with `pgvg run experiments/action-classifier.toml"):
        PoseActionMetric(classifier=str(tmp_path / "missing"))


def test_classifier_learns_and_the_metric_tells_real_from_noise(tmp_path):
    torch.manual_seed(0)
    config = load_config(write_config(tmp_path, TINY_CLASSIFIER))
    result = Trainer(config, tmp_path / "classifier", progress=False).fit()
    assert result.metrics["accuracy"]["accuracy"] > 0.8  # 3 classes: chance is 0.33

    metric = PoseActionMetric(classifier=str(tmp_path / "classifier"))
    dataset = evaluation_dataset(config)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(24)])
    real = sequence_heatmaps(batch["keypoints"], 32, 1.0)
    noise = torch.rand_like(real) * 0.3
    metric.update(real, real, labels=batch["label"])
    same = metric.compute()
    assert same["accuracy"] == same["real_accuracy"] > 0.8
    assert same["fid"] == pytest.approx(0.0, abs=1e-3) and same["smoothness"] == pytest.approx(1.0, rel=1e-4)
    assert same["presence"] == 1.0 and same["presence.right_wrist"] == 1.0
    metric.reset()
    faded = real.clone()
    faded[:, 4, 4:] = 0  # the right wrist fades out after frame 4 of 8
    metric.update(real, faded, labels=batch["label"])
    assert metric.compute()["presence.right_wrist"] == pytest.approx(0.5, abs=0.05)
    assert metric.compute()["presence"] == metric.compute()["presence.right_wrist"]
    metric.reset()
    metric.update(real, noise, labels=batch["label"])
    scores = metric.compute()
    assert scores["fid"] > 1.0 and scores["smoothness"] > 2.0
    assert metric.provenance()["weights_sha256"] and metric.provenance()["count"] == 24


def test_the_classifier_can_read_each_joints_path_about_its_mean():
    """``motion``: the paths about the clip mean, amplified, beside the positions (what faces need)."""
    from pgvg_psgan.evaluation import PoseActionClassifier

    from pgvg_core.poses.skeleton import FACE_68

    torch.manual_seed(0)
    still = torch.rand(2, 8, 68, 3) * 60
    still[..., 2] = 1
    still[:] = still[:, :1]  # no motion at all
    moving = still.clone()
    moving[:, :, 48:68, 1] += torch.linspace(0, 1, 8)[None, :, None]  # the mouth opens by a pixel
    plain = PoseActionClassifier(keypoints=68, num_classes=8, skeleton=FACE_68)
    amplified = PoseActionClassifier(keypoints=68, num_classes=8, skeleton=FACE_68, motion=20.0)
    assert amplified.net[0].in_channels == 5 * 68 and plain.net[0].in_channels == 3 * 68
    gap = lambda net: (net.features(moving) - net.features(still)).abs().mean() / net.features(still).abs().mean()  # noqa: E731
    assert gap(amplified) > 3 * gap(plain)
    with pytest.raises(ValueError, match="motion .* must be >= 0"):
        PoseActionClassifier(motion=-1.0)
