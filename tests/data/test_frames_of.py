"""Datasets made frame by frame: a clip's few frames made alone equal the same frames of the whole clip."""

import pytest
import torch

from pgvg_core.interfaces import frames_kept
from pgvg_data.faces import SyntheticFaces
from pgvg_data.synthetic import SyntheticActions


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
