"""A person seen from behind: recognised from the photo's pose, moved by stage 1 as a front view and mirrored
back, so an action keeps its side (the person's own right arm waves)."""

import numpy as np
import torch
from pgvg_data.synthetic import SyntheticActions

from pgvg_core.app.animate import _action_poses
from pgvg_core.app.photo import facing_away
from pgvg_core.poses.keypoints import FLIP_PERMUTATION, KEYPOINT_INDEX

RIGHT_WRIST = KEYPOINT_INDEX["right_wrist"]


def front_view() -> np.ndarray:
    """A synthetic person facing the camera: their right side on the picture's left."""
    return SyntheticActions(split="test", clips=1, resolution=256, frames=2, render=False).sample(0)["keypoints"][0]


def back_view(front: np.ndarray) -> np.ndarray:
    """The same pose seen from behind: the same places, left and right labels swapped."""
    return front[list(FLIP_PERMUTATION)].copy()


def test_the_side_a_person_faces_is_read_from_shoulders_and_hips():
    front = front_view()
    assert front[KEYPOINT_INDEX["right_shoulder"], 0] < front[KEYPOINT_INDEX["left_shoulder"], 0]
    assert not facing_away(front)
    assert facing_away(back_view(front))
    side = front.copy()  # seen from the side: the shoulders and hips on top of each other
    for joint in ("shoulder", "hip"):
        side[KEYPOINT_INDEX[f"left_{joint}"], 0] = side[KEYPOINT_INDEX[f"right_{joint}"], 0] + 1.0
    assert not facing_away(side)


class WavesItsRightArm:
    """Stage 1 as it was trained (people facing the camera): 'wave-right' takes the right wrist outward, to the
    picture's left, one pixel per frame."""

    def poses(self, first, action, seed):
        steps = torch.arange(8, dtype=torch.float32)[:, None]
        poses = first[None].repeat(8, 1, 1)
        poses[:, RIGHT_WRIST, 0] -= steps[:, 0]
        return poses


def test_a_person_seen_from_behind_waves_their_own_right_arm_outward():
    front = front_view()
    warnings = []
    made = _action_poses(WavesItsRightArm(), torch.from_numpy(front).float(), front, "wave-right", seed=0,
                         frames=None, warnings=warnings, body=True)
    assert made[-1, RIGHT_WRIST, 0] < made[0, RIGHT_WRIST, 0] and not warnings  # outward: to the left

    back = back_view(front)
    made = _action_poses(WavesItsRightArm(), torch.from_numpy(back).float(), back, "wave-right", seed=0,
                         frames=None, warnings=warnings, body=True)
    # Their right arm is on the picture's right: outward is to the right; the rest of the pose stays.
    assert made[-1, RIGHT_WRIST, 0] - made[0, RIGHT_WRIST, 0] == 7.0
    torch.testing.assert_close(made[0], torch.from_numpy(back).float())
    assert len(warnings) == 1 and "seen from behind" in warnings[0]
