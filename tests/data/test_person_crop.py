"""video-folder's crop = "person": small people in large frames come out framed as the built-in data frames
them, the crop follows them, a clip whose person is lost too long is left out by name, and both stages train
on such a folder."""

import logging

import numpy as np
import pytest
import torch
from pgvg_data.synthetic import SyntheticActions
from pgvg_data.video_folder import VideoFolder

from pgvg_core.media.video import write_video
from pgvg_core.poses.framing import crop_photo, following_crops, framing_of
from pgvg_core.poses.skeleton import torso_and_hips


def street_folder(root, *, lose=(), clips=2, frames=12):
    """Synthetic people (64 px frames) pasted small into wide 320x180 frames, walking right 4 px a frame, with
    their poses beside each clip; in the clips named in ``lose`` the pose is missing in most frames."""
    dataset = SyntheticActions(split="test", clips=20, frames=frames, resolution=64, actions=["jump", "kick"])
    (root / "street").mkdir(parents=True)
    for i in range(clips):
        clip = dataset.sample(i)
        canvas = np.full((frames, 180, 320, 3), 90, np.uint8)
        keypoints = clip["keypoints"].copy()
        for t in range(frames):
            left, top = 40 + 4 * t, 100
            canvas[t, top : top + 64, left : left + 64] = clip["frames"][t]
            keypoints[t, :, 0] += left
            keypoints[t, :, 1] += top
        if f"clip{i}" in lose:
            keypoints[5:, :, 2] = 0  # found in the first frames of the window only
        write_video(root / "street" / f"clip{i}.mp4", canvas, fps=10)
        np.savez(root / "street" / f"clip{i}.npz", keypoints=keypoints)
    return root


def test_following_crops_frame_the_person_as_the_framing_does_and_keep_one_size():
    poses = SyntheticActions(split="test", clips=3, resolution=64, frames=8, actions=["jump"]).sample(0)["keypoints"]
    framing = framing_of(SyntheticActions(resolution=32, render=False))
    moved = poses.copy()
    moved[..., 0] += np.arange(8)[:, None] * 3.0
    crops = following_crops(moved, framing, smoothing=0)
    assert len({c.size for c in crops}) == 1
    for crop, pose in zip(crops, moved):
        torso, hip = torso_and_hips(crop.to_model(pose))
        assert hip[0] == pytest.approx(framing.anchor_x, abs=crop.scale + 0.01)  # within a pixel of the crop
        assert hip[1] == pytest.approx(framing.anchor_y, abs=crop.scale + 0.01)


def test_person_crop_makes_a_small_person_as_large_as_the_builtin_data(tmp_path):
    root = street_folder(tmp_path / "videos")
    common = dict(root=str(root), resolution=32, frames=4, stride=2, cache_dir=str(tmp_path / "cache"), progress=False)
    boxed = VideoFolder(**common)[0]
    cropped = VideoFolder(**common, crop="person")[0]
    framing = framing_of(SyntheticActions(resolution=32, render=False))
    torso = lambda k: np.mean([torso_and_hips(p)[0] for p in k.numpy()])  # noqa: E731
    assert torso(boxed["keypoints"]) < 0.4 * framing.length  # letterboxed: a few pixels tall
    assert torso(cropped["keypoints"]) == pytest.approx(framing.length, rel=0.12)
    hips = np.array([torso_and_hips(p)[1] for p in cropped["keypoints"].numpy()])
    np.testing.assert_allclose(hips.mean(0), [framing.anchor_x, framing.anchor_y], atol=2.0)
    # The pixels are the clip's at the crop's place: the first frame's crop of the clip's first frame.
    from pgvg_core.media.video import read_video

    first = read_video(root / "street" / "clip0.mp4", frames=[2])[0]  # the window's first frame (centred)
    poses = np.load(root / "street" / "clip0.npz")["keypoints"][2:9:2]
    crop = following_crops(poses, framing)[0]
    expected = torch.from_numpy(crop_photo(first, crop, 32)).permute(2, 0, 1).float() / 127.5 - 1
    assert (cropped["frames"][0] - expected).abs().mean() < 0.02


def test_a_clip_whose_person_is_lost_too_long_is_left_out_by_name(tmp_path, caplog):
    root = street_folder(tmp_path / "videos", lose=("clip1",))
    with caplog.at_level(logging.WARNING):
        dataset = VideoFolder(root=str(root), resolution=32, frames=4, stride=2, cache_dir=str(tmp_path / "cache"),
                              progress=False, crop="person")
    assert [clip.name for clip, _ in dataset.clips] == ["clip0.mp4"]
    assert "clip1.mp4: the person is lost in" in caplog.text


def test_a_person_crop_needs_a_body_pose_source(tmp_path):
    from pgvg_core.errors import DataError

    root = street_folder(tmp_path / "videos", clips=1)
    with pytest.raises(DataError, match="crop = 'face' frames 'face-68' keypoints"):
        VideoFolder(root=str(root), resolution=32, frames=4, cache_dir=str(tmp_path / "cache"), crop="face",
                    progress=False)


@pytest.mark.parametrize("stage", ["scgan", "psgan"])
def test_both_stages_train_on_person_crops(tmp_path, stage):
    from tiny import TINY_PSGAN, TINY_SCGAN, write_config

    from pgvg_core.config import load_config
    from pgvg_core.training.trainer import Trainer

    root = street_folder(tmp_path / "videos", clips=4)
    # SCGAN's clips are all for training (one person's video): its samples and metrics fall back to them.
    held = 0.0 if stage == "scgan" else 0.5
    data = (f'data.params={{root = "{root}", resolution = 32, frames = 4, stride = 2, pose_source = '
            f'"keypoints-file", crop = "person", cache_dir = "{tmp_path / "cache"}", test_fraction = {held}}}')
    text = TINY_SCGAN if stage == "scgan" else TINY_PSGAN
    config = load_config(write_config(tmp_path, text), ['data.name="video-folder"', data, "trainer.steps=2",
                                                        "trainer.eval_clips=2", "metrics=[]"])
    trainer = Trainer(config, tmp_path / "run", progress=False)
    trainer.fit()
    last = trainer.history[-1]
    assert last["step"] == 2 and all(np.isfinite(v) for key, v in last.items() if "/" in key)
