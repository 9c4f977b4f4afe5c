"""Datasets made frame by frame: a clip's few frames made alone equal the same frames of the whole clip."""

import pytest
import torch
from pgvg_data.faces import SyntheticFaces
from pgvg_data.synthetic import SyntheticActions

from pgvg_core.interfaces import Dataset, clip_poses, frames_kept


@pytest.mark.parametrize("make", [lambda: SyntheticActions(split="test", resolution=32, frames=8, clips=6),
                                  lambda: SyntheticFaces(split="test", resolution=32, frames=8, clips=6)],
                         ids=["synthetic-actions", "synthetic-faces"])
def test_frames_made_alone_equal_those_of_the_whole_clip(make):
    dataset = make()
    for index, frames in ((0, (0, 5)), (3, (7, 2, 2)), (5, (4,))):
        whole, alone = dataset[index], dataset.frames_of(index, frames)
        assert alone["frames"].shape == (len(frames), 3, 32, 32)
        assert alone["keypoints"].shape[0] == len(frames)
        for key in ("frames", "keypoints", "label", "identity"):
            torch.testing.assert_close(alone[key], whole[key][list(frames)] if key in ("frames", "keypoints")
                                       else whole[key], rtol=0, atol=0)


def test_poses_only_data_and_the_default_cut_the_whole_clip():
    dataset = SyntheticActions(split="test", resolution=32, frames=8, clips=4, render=False)
    item = dataset.frames_of(2, (6, 1))
    assert "frames" not in item and torch.equal(item["keypoints"], dataset[2]["keypoints"][[6, 1]])
    kept = frames_kept({"frames": torch.arange(8.0)[:, None], "keypoints": torch.arange(8.0),
                        "label": torch.tensor(3)}, (1, 4))
    assert kept["frames"].tolist() == [[1.0], [4.0]] and kept["keypoints"].tolist() == [1.0, 4.0]
    assert kept["label"].item() == 3  # per clip: as it was


@pytest.mark.parametrize("make", [lambda **kw: SyntheticActions(split="test", resolution=32, frames=8, clips=6, **kw),
                                  lambda **kw: SyntheticFaces(split="test", resolution=32, frames=8, clips=6, **kw)],
                         ids=["synthetic-actions", "synthetic-faces"])
def test_poses_made_without_pixels_equal_those_of_the_rendered_clip(make):
    rendered, poses_only = make(), make(render=False)
    for index in (0, 4):
        whole, poses = rendered[index], rendered.poses_of(index)
        assert "frames" not in poses and set(poses) == set(whole) - {"frames"}
        for key in poses:
            torch.testing.assert_close(poses[key], whole[key], rtol=0, atol=0)
            torch.testing.assert_close(poses_only.poses_of(index)[key], whole[key], rtol=0, atol=0)
    assert "frames" in rendered[1]  # asking for poses does not change what the dataset renders


class _LoadedWhole(Dataset):
    """A dataset that knows no shorter way than loading a whole clip."""

    classes, resolution, frames = ("a",), 8, 2

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return {"frames": torch.zeros(2, 3, 8, 8), "keypoints": torch.ones(2, 18, 3), "label": torch.tensor(0)}


def test_poses_of_a_dataset_without_its_own_way_drop_the_frames():
    for dataset in (_LoadedWhole(), [_LoadedWhole()[0]]):  # an interface Dataset, and any indexable of items
        poses = clip_poses(dataset, 0)
        assert set(poses) == {"keypoints", "label"} and poses["keypoints"].shape == (2, 18, 3)
