"""A plugin with its own skeleton (5 keypoints) and a dataset of it: the trainer, both stages' objectives
and load_run must take K and the limbs from the data's skeleton, with no change in the core."""

from __future__ import annotations

import math

import torch

from pgvg_core import hookimpl
from pgvg_core.interfaces import Dataset
from pgvg_core.poses.keypoints import draw_skeleton
from pgvg_core.poses.skeleton import Skeleton

FIVE = Skeleton(
    name="five-points",
    keypoint_names=("top", "left_elbow", "left_hand", "right_elbow", "right_hand"),
    limbs=((0, 1), (1, 2), (0, 3), (3, 4)),
    limb_colours=((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)),
    flip_pairs=(("left_elbow", "right_elbow"), ("left_hand", "right_hand")),
)


class WavingArms(Dataset):
    """Arms that wave up ("up") or stay down ("down"), drawn on grey: 32 x 32, 4 frames per clip."""

    classes = ("up", "down")
    resolution = 32
    frames = 4
    skeleton = "five-points"
    splits = ("train", "test")

    def __init__(self, *, clips: int = 16, split: str = "train") -> None:
        self.clips, self.split = clips, split

    def __len__(self) -> int:
        return self.clips

    def label_of(self, index: int) -> int:
        return index % 2

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        label = self.label_of(index)
        frames, poses = [], []
        for t in range(self.frames):
            lift = (t / (self.frames - 1)) * (1.0 if label == 0 else 0.1) * math.pi / 2
            pose = torch.tensor([[16.0, 8.0, 1.0],
                                 [16 - 6 * math.cos(lift), 8 + 6 * math.sin(-lift) + 6, 1.0],
                                 [16 - 10 * math.cos(lift), 8 - 10 * math.sin(lift) + 12, 1.0],
                                 [16 + 6 * math.cos(lift), 8 + 6 * math.sin(-lift) + 6, 1.0],
                                 [16 + 10 * math.cos(lift), 8 - 10 * math.sin(lift) + 12, 1.0]])
            image = draw_skeleton(torch.full((32, 32, 3), 96, dtype=torch.uint8).numpy(), pose.numpy(),
                                  thickness=2, skeleton=FIVE)
            frames.append(torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1)
            poses.append(pose)
        return {"frames": torch.stack(frames), "keypoints": torch.stack(poses), "label": torch.tensor(label),
                "identity": torch.tensor(index)}


@hookimpl
def pgvg_register_skeletons(register):
    register("five-points", lambda: FIVE, summary="five points: a head and two arms")


@hookimpl
def pgvg_register_datasets(register):
    register("waving-arms", WavingArms)
