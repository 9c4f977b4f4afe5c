import numpy as np
import pytest
import torch
from pgvg_data.motion import ACTIONS
from pgvg_data.synthetic import SyntheticActions


def test_item_shapes_ranges_and_types():
    dataset = SyntheticActions(split="train", resolution=64, frames=8, clips=20)
    item = dataset[3]
    assert item["frames"].shape == (8, 3, 64, 64) and item["frames"].dtype == torch.float32
    assert -1.0 <= item["frames"].min() and item["frames"].max() <= 1.0
    assert item["keypoints"].shape == (8, 18, 3)
    assert item["label"].item() == 3 and dataset.classes[3] == ACTIONS[3]
    assert len(dataset) == 20 and len(dataset.classes) >= 8


def test_deterministic_given_seed_and_index():
    a = SyntheticActions(split="train", clips=10, seed=1).sample(4)
    b = SyntheticActions(split="train", clips=10, seed=1).sample(4)
    c = SyntheticActions(split="train", clips=10, seed=2).sample(4)
    np.testing.assert_array_equal(a["frames"], b["frames"])
    np.testing.assert_array_equal(a["keypoints"], b["keypoints"])
    assert not np.array_equal(a["frames"], c["frames"])


def test_test_identities_are_unseen_in_training():
    train = SyntheticActions(split="train", clips=200)
    test = SyntheticActions(split="test", clips=100)
    unseen = SyntheticActions(split="unseen-pose", clips=50)
    train_ids = {train.sample(i)["identity"] for i in range(200)}
    test_ids = {test.sample(i)["identity"] for i in range(100)}
    assert train_ids.isdisjoint(test_ids)
    assert {unseen.sample(i)["identity"] for i in range(50)} <= set(test.identity_id(i) for i in range(24))


def test_unseen_pose_split_goes_beyond_training_amplitudes():
    train = [SyntheticActions(split="train", clips=50).sample(i)["amplitude"] for i in range(50)]
    unseen = [SyntheticActions(split="unseen-pose", clips=50).sample(i)["amplitude"] for i in range(50)]
    assert max(train) < min(unseen)


def test_occlusion_clips_begin_with_a_hand_over_the_face_then_move():
    from pgvg_core.poses.keypoints import KEYPOINT_INDEX

    test = SyntheticActions(split="test", clips=100, render=False)
    occluded = SyntheticActions(split="occlusion", clips=20, render=False)
    test_ids = {test.identity_id(i) for i in range(24)}
    for i in range(20):
        clip = occluded.sample(i)
        assert clip["identity"] in test_ids
        first = clip["keypoints"][0]
        nose, neck = first[KEYPOINT_INDEX["nose"], :2], first[KEYPOINT_INDEX["neck"], :2]
        wrists = first[[KEYPOINT_INDEX["right_wrist"], KEYPOINT_INDEX["left_wrist"]], :2]
        # One hand within a head's length of the nose (the face), above the neck.
        near = np.linalg.norm(wrists - nose, axis=-1).min()
        assert near < np.linalg.norm(nose - neck) and wrists[:, 1].min() < neck[1]
        assert np.abs(clip["keypoints"][-1] - clip["keypoints"][0]).max() > 2  # then the action moves it


def test_keypoints_follow_the_rendered_person():
    # The person's pixels differ from the background exactly around the skeleton.
    clip = SyntheticActions(split="test", clips=10, resolution=64).sample(0)
    frame, keypoints = clip["frames"][0].astype(int), clip["keypoints"][0]
    corner = frame[2, 2]
    for k in (1, 2, 5, 8, 11):  # neck, shoulders, hips sit on the body
        x, y = np.round(keypoints[k, :2]).astype(int)
        assert np.abs(frame[y, x] - corner).sum() > 30, f"keypoint {k} is on the background"
    assert keypoints[:, 2].min() == 1.0


def test_each_action_moves_differently():
    dataset = SyntheticActions(split="train", clips=len(ACTIONS), translate=False)
    motions = [dataset.sample(i)["keypoints"][..., :2] for i in range(len(ACTIONS))]
    spread = [np.ptp(m, axis=0).max() for m in motions]  # how far the most-moving joint travels
    assert min(spread) > 3.0, "every action should move some joint by a few pixels"
    mean_poses = np.stack([(m - m[:, 1:2]).mean(0) for m in motions])
    distances = np.linalg.norm(mean_poses[:, None] - mean_poses[None], axis=-1).mean(-1)
    assert (distances + np.eye(len(ACTIONS)) * 100).min() > 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "val"}, "split must be one of"),
    ({"resolution": 70}, "multiple of 16"),
    ({"actions": ["dance"]}, "unknown actions"),
    ({"frames": 1}, "frames must be at least 2"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticActions(**kwargs)


def test_other_resolutions_and_action_subsets():
    dataset = SyntheticActions(resolution=128, frames=4, clips=4, actions=["jump", "kick"])
    assert dataset.classes == ("jump", "kick")
    assert dataset[1]["frames"].shape == (4, 3, 128, 128)


def test_onset_clips_begin_at_rest_and_then_perform_the_same_action():
    at_rest = SyntheticActions(split="train", render=False, onset=1.0, identities=1, clips=10)
    mid_action = SyntheticActions(split="train", render=False, onset=0.0, identities=1, clips=10)
    firsts = np.stack([at_rest.sample(i)["keypoints"][0] for i in range(10)])  # one identity, ten actions
    np.testing.assert_allclose(firsts, firsts[:1].repeat(10, 0), atol=1e-4)  # all start from the same rest pose
    for i in range(10):
        eased, cut = at_rest.sample(i)["keypoints"], mid_action.sample(i)["keypoints"]
        np.testing.assert_allclose(eased[9:], cut[9:], atol=1e-4)  # past the ease-in (at most T/2 = 8 frames)
    spread = np.ptp(np.stack([mid_action.sample(i)["keypoints"][0] for i in range(10)]), axis=0)
    assert spread[..., :2].max() > 5  # cut clips start mid-action: their first poses differ
    with pytest.raises(ValueError, match="onset must be a share"):
        SyntheticActions(onset=1.5)


def test_a_poses_only_dataset_keeps_its_clips_and_hands_out_copies():
    dataset = SyntheticActions(split="train", clips=8, render=False)
    first = dataset[3]
    first["keypoints"].zero_()  # a caller changing what it got cannot change the data
    again, fresh = dataset[3], SyntheticActions(split="train", clips=8, render=False)[3]
    assert len(dataset._pose_items) == 1
    for key in fresh:
        assert torch.equal(again[key], fresh[key])
    assert again["keypoints"].abs().sum() > 0


# The sum of each clip's uint8 pixels when the renderer was last changed on purpose. The synthetic clips are the
# benchmark every result in README.md, RESULTS.md and the leaderboard is measured on: a faster renderer must
# draw the same pixels. The tolerance allows a few pixels one level apart (another CPU's float rounding);
# a changed drawing moves a sum by thousands.
RENDERED_PIXEL_SUMS = {("train", 0): 21931310, ("train", 37): 27828683, ("test", 5): 25977042,
                       ("occlusion", 2): 25229378, ("unseen-pose", 9): 25202932}


@pytest.mark.parametrize("split, index", list(RENDERED_PIXEL_SUMS))
def test_the_renderer_draws_the_pixels_it_drew(split, index):
    frames = SyntheticActions(split=split, resolution=64, frames=16).sample(index)["frames"]  # [T, H, W, 3] uint8
    assert frames.shape == (16, 64, 64, 3)
    assert abs(int(frames.astype(np.int64).sum()) - RENDERED_PIXEL_SUMS[split, index]) <= 64, (
        "synthetic-actions draws other pixels than before: every figure measured on it changes; if that is "
        "intended, say so in the change and record the new sums here")
