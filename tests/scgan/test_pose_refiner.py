import pytest
import torch
from pgvg_augment.abnormal import AbnormalPose
from pgvg_data.synthetic import SyntheticActions
from pgvg_scgan.models import PoseRefiner, SCGANGenerator

from pgvg_core.poses.keypoints import body_size


def pose_pairs(split, clips):
    """(source, target) keypoint pairs ``[N, K, 3]`` from the clips of a split: first frame, every other."""
    dataset = SyntheticActions(split=split, clips=clips, frames=8, resolution=64, render=False)
    keypoints = torch.stack([dataset[i]["keypoints"] for i in range(clips)])  # [B, T, K, 3]
    source = keypoints[:, :1].expand(-1, 7, -1, -1).flatten(0, 1)
    return source, keypoints[:, 1:].flatten(0, 1)


def error(refined, truth):
    seen = truth[..., 2] > 0
    return ((refined[..., :2] - truth[..., :2]).norm(dim=-1)[seen] / body_size(truth)[:, None].expand_as(seen)[seen]).mean()


def test_refiner_starts_as_the_identity_and_fills_dropped_joints():
    source, target = pose_pairs("test", 2)
    refiner = PoseRefiner(18)
    torch.testing.assert_close(refiner(source, target), target)
    dropped = target.clone()
    dropped[:, 4, 2] = 0  # right wrist missing: taken from the source
    refined = refiner(source, dropped)
    torch.testing.assert_close(refined[:, 4], source[:, 4])


def test_refiner_learns_to_undo_abnormal_poses():
    torch.manual_seed(0)
    source, target = pose_pairs("train", 48)
    test_source, test_target = pose_pairs("test", 16)
    augment = AbnormalPose(severity=0.5, jitter=False)
    abnormal = lambda k, seed: augment(k[:, None], torch.Generator().manual_seed(seed))[:, 0, :, :3]  # noqa: E731
    test_abnormal = abnormal(test_target, 99)
    refiner = PoseRefiner(18, hidden=128)
    optimizer = torch.optim.Adam(refiner.parameters(), lr=2e-3)
    for step in range(300):
        loss = error(refiner(source, abnormal(target, step)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        before = error(test_abnormal, test_target).item()
        after = error(refiner(test_source, test_abnormal), test_target).item()
    assert after < 0.6 * before, (before, after)


def test_refine_pose_needs_the_warp():
    with pytest.raises(ValueError, match="needs warp = true"):
        SCGANGenerator(refine_pose=True, warp=False)
