import pytest
import torch
from pgvg_augment.abnormal import AbnormalPose
from pgvg_data.synthetic import SyntheticActions


def poses(batch: int = 4) -> torch.Tensor:
    dataset = SyntheticActions(split="test", clips=batch, frames=8)
    return torch.stack([dataset[i]["keypoints"] for i in range(batch)])  # [B, T, K, 3]


def test_severity_zero_changes_nothing():
    keypoints = poses()
    augment = AbnormalPose(severity=0.0)
    out = augment(keypoints, torch.Generator().manual_seed(0))
    assert out.shape == (4, 8, 18, 4)
    torch.testing.assert_close(out[..., :3], keypoints)
    assert (out[..., 3] == 1).all()


def test_same_params_give_same_result_and_seed_reproduces():
    keypoints = poses()
    augment = AbnormalPose(severity=0.8)
    params = augment.sample(keypoints.shape, torch.Generator().manual_seed(3))
    torch.testing.assert_close(augment.apply(keypoints, params), augment.apply(keypoints, params))
    again = augment.sample(keypoints.shape, torch.Generator().manual_seed(3))
    torch.testing.assert_close(augment.apply(keypoints, again), augment.apply(keypoints, params))


def test_error_grows_with_severity():
    keypoints = poses(8)
    errors = []
    for severity in (0.2, 0.5, 1.0):
        augment = AbnormalPose(severity=severity, drop=False, swap=False, sigma=False)
        out = augment(keypoints, torch.Generator().manual_seed(0))
        errors.append((out[..., :2] - keypoints[..., :2]).norm(dim=-1).mean().item())
    assert 0 < errors[0] < errors[1] < errors[2]


def test_each_error_kind_alone():
    keypoints = poses(16)
    generator = torch.Generator().manual_seed(1)
    only = {name: False for name in ("sigma", "scale", "shift", "displace", "drop", "swap", "jitter")}
    dropped = AbnormalPose(severity=1.0, **{**only, "drop": True})(keypoints, generator)
    assert (dropped[..., 2] == 0).any() and torch.equal(dropped[..., :2], keypoints[..., :2])
    sized = AbnormalPose(severity=1.0, **{**only, "sigma": True})(keypoints, generator)
    assert sized[..., 3].max() > 1.5 and sized[..., 3].min() < 0.67
    swapped = AbnormalPose(severity=1.0, **{**only, "swap": True})(keypoints, generator)
    changed = (swapped[..., :2] != keypoints[..., :2]).flatten(1).any(1)
    assert changed.any() and not changed.all()
    # A swapped pose has the right shoulder where the left one was.
    b = int(changed.nonzero()[0])
    torch.testing.assert_close(swapped[b, :, 2, :2], keypoints[b, :, 5, :2])


def test_severity_out_of_range():
    with pytest.raises(ValueError, match="severity must be in"):
        AbnormalPose(severity=1.5)


def test_probability_corrupts_only_some_samples():
    keypoints = poses(16)
    out = AbnormalPose(severity=1.0, p=0.5, jitter=False)(keypoints, torch.Generator().manual_seed(0))
    untouched = ((out[..., :3] == keypoints).flatten(1).all(1)) & (out[..., 3] == 1).flatten(1).all(1)
    assert 0 < int(untouched.sum()) < 16
    assert torch.equal(AbnormalPose(severity=1.0, p=0.0)(keypoints)[..., :3], keypoints)
    with pytest.raises(ValueError, match="probability"):
        AbnormalPose(p=1.5)
