import math

import pytest
import torch
from pgvg_augment.posture import LIMB_BONES, Posture
from pgvg_data.synthetic import SyntheticActions

from pgvg_core.poses.keypoints import KEYPOINT_INDEX


def clips(batch: int = 4) -> torch.Tensor:
    dataset = SyntheticActions(split="test", clips=batch, frames=8, render=False)
    return torch.stack([dataset[i]["keypoints"] for i in range(batch)])  # [B, T, K, 3]


def bone(keypoints: torch.Tensor, parent: int, child: int) -> torch.Tensor:
    return keypoints[..., child, :2] - keypoints[..., parent, :2]  # [B, T, 2]


def test_nothing_changes_without_a_change():
    keypoints = clips()
    posture = Posture(angle=0.0, length=0.0, narrowest=1.0, widest=1.0)
    torch.testing.assert_close(posture(keypoints, torch.Generator().manual_seed(0)), keypoints)
    never = Posture(p=0.0)
    torch.testing.assert_close(never(keypoints, torch.Generator().manual_seed(0)), keypoints)


def test_each_bone_is_turned_by_one_angle_for_the_whole_clip():
    keypoints = clips()
    posture = Posture(angle=40.0, length=0.0, narrowest=1.0, widest=1.0)
    params = posture.sample(keypoints.shape, torch.Generator().manual_seed(1))
    out = posture.apply(keypoints, params)
    assert out.shape == keypoints.shape
    torch.testing.assert_close(out[..., 2], keypoints[..., 2])  # confidence untouched
    for index, (parent, child) in enumerate(LIMB_BONES):
        before, after = bone(keypoints, parent, child), bone(out, parent, child)
        torch.testing.assert_close(after.norm(dim=-1), before.norm(dim=-1), atol=1e-4, rtol=1e-4)  # length kept
        turn = torch.atan2(before[..., 0] * after[..., 1] - before[..., 1] * after[..., 0],
                           (before * after).sum(-1))  # [B, T]: signed angle from before to after
        expected = params["angle"][:, index, None].expand_as(turn)
        torch.testing.assert_close(turn, expected, atol=1e-4, rtol=0)
        assert expected.abs().max() <= math.radians(40.0)
    # The trunk and the head do not move.
    for joint in ("nose", "neck", "right_hip", "left_hip", "right_shoulder"):
        torch.testing.assert_close(out[..., KEYPOINT_INDEX[joint], :], keypoints[..., KEYPOINT_INDEX[joint], :])


def test_the_motion_is_kept_and_a_narrow_width_narrows_shoulders_and_hips():
    keypoints = clips()
    posture = Posture(angle=0.0, length=0.0, narrowest=0.25, widest=0.25)
    out = posture(keypoints, torch.Generator().manual_seed(0))
    for pair in (("right_shoulder", "left_shoulder"), ("right_hip", "left_hip")):
        a, b = (KEYPOINT_INDEX[name] for name in pair)
        torch.testing.assert_close(bone(out, a, b), 0.25 * bone(keypoints, a, b))
    # The arm keeps its own motion, carried by its shoulder: the wrist moves exactly as the shoulder moved.
    shoulder, wrist = KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["left_wrist"]
    torch.testing.assert_close(out[..., wrist, :2] - keypoints[..., wrist, :2],
                               out[..., shoulder, :2] - keypoints[..., shoulder, :2])
    assert (out[..., wrist, :2] - keypoints[..., wrist, :2]).abs().amax() > 1.0


def test_a_missing_joint_follows_its_parent_and_stays_missing():
    keypoints = clips(2)
    elbow, wrist = KEYPOINT_INDEX["right_elbow"], KEYPOINT_INDEX["right_wrist"]
    keypoints[..., wrist, 2] = 0.0
    posture = Posture(angle=30.0)
    out = posture(keypoints, torch.Generator().manual_seed(2))
    assert (out[..., wrist, 2] == 0).all()
    torch.testing.assert_close(out[..., wrist, :2] - keypoints[..., wrist, :2],
                               out[..., elbow, :2] - keypoints[..., elbow, :2])


@pytest.mark.parametrize("kwargs", [{"angle": -1.0}, {"length": 1.5}, {"narrowest": 1.3, "widest": 1.2}, {"p": 2.0}])
def test_bad_settings_say_which(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs)) if "narrowest" not in kwargs else "narrowest"):
        Posture(**kwargs)


def test_psgan_trains_on_postures_but_evaluates_on_the_data_as_it_is():
    from pgvg_psgan.objective import with_posture

    keypoints = clips(2)
    batch = {"keypoints": keypoints, "label": torch.tensor([0, 1])}
    assert with_posture(None, batch) is batch
    changed = with_posture(Posture(), batch)
    assert changed["label"] is batch["label"] and not torch.equal(changed["keypoints"], keypoints)
    assert torch.equal(batch["keypoints"], keypoints)  # the dataset's batch is not changed in place
