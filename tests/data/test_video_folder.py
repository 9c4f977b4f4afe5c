import numpy as np
import pytest
import torch
from pgvg_data.synthetic import SyntheticActions
from pgvg_data.video_folder import VideoFolder

from pgvg_core.errors import DataError
from pgvg_core.interfaces import PoseSource
from pgvg_core.media.video import read_video, write_video


def make_folder(root, *, classes=("jump", "kick"), clips=2, frames=10, as_frames=False):
    """root/<class>/<clip>.mp4 (or frame folders) from synthetic clips, with .npz keypoints beside them."""
    dataset = SyntheticActions(split="test", clips=20, frames=frames, resolution=64, actions=list(classes))
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(clips):
            clip = dataset.sample(c + i * len(classes))
            target = root / name / f"v_{name}_{i}"
            if as_frames:
                target.mkdir()
                from PIL import Image

                for t, frame in enumerate(clip["frames"]):
                    Image.fromarray(frame).save(target / f"{t:04d}.png")
            else:
                target = write_video(target.with_suffix(".mp4"), clip["frames"], fps=10)
            np.savez(target.with_suffix(".npz") if not as_frames else target / "keypoints.npz",
                     keypoints=clip["keypoints"])
    return root


class CountingSource(PoseSource):
    """Keypoints from files, counting how often extraction runs."""

    calls = 0

    def __call__(self, frames, *, clip_path=None):
        from pgvg_poses.sources import KeypointsFilePoses

        CountingSource.calls += 1
        return KeypointsFilePoses()(frames, clip_path=clip_path)

    def settings(self):
        return {"source": "counting"}


@pytest.fixture
def counting_source(monkeypatch):
    from pgvg_core import hookimpl
    from pgvg_core.plugins import load_plugins, set_plugins

    class Plugin:
        @hookimpl
        def pgvg_register_pose_sources(self, register):
            register("counting", CountingSource)

    set_plugins(load_plugins(extra_plugins=[("counting", Plugin())]))
    CountingSource.calls = 0
    return "counting"


def test_mp4_round_trip(tmp_path):
    frames = SyntheticActions(split="test", clips=1, frames=6).sample(0)["frames"]
    decoded = read_video(write_video(tmp_path / "a.mp4", frames))
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 6  # lossy, but close


@pytest.mark.parametrize("as_frames", [False, True])
def test_items_classes_and_letterboxed_keypoints(tmp_path, as_frames):
    root = make_folder(tmp_path / "videos", as_frames=as_frames)
    dataset = VideoFolder(root=str(root), resolution=32, frames=4, stride=2, cache_dir=str(tmp_path / "cache"))
    assert dataset.classes == ("jump", "kick") and len(dataset) == 4
    item = dataset[0]
    assert item["frames"].shape == (4, 3, 32, 32)
    assert item["keypoints"].shape == (4, 18, 3)
    # 64 -> 32 halves the keypoints; frames 1, 3, 5, 7 are taken (T=4 at stride 2, centred in 10 frames).
    first_clip = sorted((root / "jump").iterdir())[0]
    sidecar = first_clip / "keypoints.npz" if as_frames else first_clip.with_suffix(".npz")
    source = np.load(sidecar)["keypoints"]
    torch.testing.assert_close(item["keypoints"][..., :2], torch.from_numpy(source[[1, 3, 5, 7], :, :2] / 2))


def test_poses_are_extracted_once_and_cached(tmp_path, counting_source):
    root = make_folder(tmp_path / "videos")
    kwargs = dict(root=str(root), pose_source=counting_source, cache_dir=str(tmp_path / "cache"), frames=4)
    VideoFolder(**kwargs)
    assert CountingSource.calls == 4
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 4
    dataset = VideoFolder(**kwargs)
    dataset[0]
    assert CountingSource.calls == 4  # everything came from the cache


def test_a_corrupt_video_is_left_out_with_a_warning_naming_it(tmp_path, counting_source, caplog):
    root = make_folder(tmp_path / "videos")
    bad = root / "kick" / "zz_broken.mp4"
    bad.write_bytes(b"not a video at all")
    with caplog.at_level("WARNING"):
        dataset = VideoFolder(root=str(root), pose_source=counting_source, cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == 4 and bad not in [clip for clip, _ in dataset.clips]
    assert "1 clip(s) left out" in caplog.text and "zz_broken.mp4: cannot decode video" in caplog.text
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 4  # the good clips are cached
    assert not list((tmp_path / "cache").glob("*.tmp"))
    bad.unlink()
    (root / "jump" / "v_jump_0.mp4").write_bytes(b"")  # all of them broken: nothing to train on
    for clip in root.glob("*/*.mp4"):
        clip.write_bytes(b"broken")
    with pytest.raises(DataError, match="no readable clip"):
        VideoFolder(root=str(root), pose_source=counting_source, cache_dir=str(tmp_path / "cache2"))


def test_a_video_truncated_after_its_poses_were_cached_is_replaced_by_the_next_clip(tmp_path, counting_source,
                                                                                    caplog):
    root = make_folder(tmp_path / "videos")
    kwargs = dict(root=str(root), pose_source=counting_source, cache_dir=str(tmp_path / "cache"), frames=4)
    dataset = VideoFolder(**kwargs, cache_frames=False)
    expected = dataset[2]
    clip, _ = dataset.clips[1]
    clip.write_bytes(clip.read_bytes()[:200])  # truncated, as by a copy that stopped
    with caplog.at_level("WARNING"):
        item = dataset[1]
    assert f"{clip.name}" in caplog.text and "clip 1 skipped, clip 2 used in its place" in caplog.text
    assert torch.equal(item["frames"], expected["frames"]) and torch.equal(item["keypoints"], expected["keypoints"])


def test_cached_frames_are_those_decoded_and_outlive_the_video(tmp_path, counting_source, caplog):
    """The frame cache gives the items that decoding gives, to the bit; once made, a clip is read without
    decoding (even after its video broke); a damaged cache file is decoded and written again; other settings
    (resolution, frames, stride) or other bytes (the clip's hash) are other files."""
    root = make_folder(tmp_path / "videos", frames=20)
    kwargs = dict(root=str(root), pose_source=counting_source, resolution=32, frames=6, stride=2,
                  cache_dir=str(tmp_path / "cache"), progress=False, keep_mb=0)
    decoded = VideoFolder(**kwargs, cache_frames=False)
    cached = VideoFolder(**kwargs)
    assert len(list((tmp_path / "cache" / "frames").glob("*-32px-6x2.npz"))) == 4
    for index in range(len(cached)):
        for few in (None, (0, 5, 5)):
            want = decoded[index] if few is None else decoded.frames_of(index, few)
            got = cached[index] if few is None else cached.frames_of(index, few)
            for key in ("frames", "keypoints", "label"):
                torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)

    clip, _ = cached.clips[1]
    before = cached[1]["frames"]
    clip.write_bytes(clip.read_bytes()[:200])  # broken after the dataset was made: its frames are cached
    torch.testing.assert_close(cached[1]["frames"], before, rtol=0, atol=0)

    other = cached.clips[2][0]
    damaged = cached.frame_cache.path_for(other)
    damaged.write_bytes(damaged.read_bytes()[:300])  # cut short, as by a disk error
    with caplog.at_level("WARNING"):
        again = cached[2]
    assert "is unreadable; decoding" in caplog.text
    torch.testing.assert_close(again["frames"], decoded[2]["frames"], rtol=0, atol=0)
    with np.load(damaged) as archive:  # written again, readable
        assert archive["frames"].shape == (6, 32, 32, 3)
    assert len(list((tmp_path / "cache" / "frames").glob("*.tmp"))) == 0
    with caplog.at_level("WARNING"):
        VideoFolder(**{**kwargs, "resolution": 16})  # the broken video's bytes are not those cached: left out
    assert "1 clip(s) left out" in caplog.text
    assert len(list((tmp_path / "cache" / "frames").glob("*-16px-6x2.npz"))) == 3


def test_empty_folder_and_empty_class(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        VideoFolder(root=str(tmp_path / "empty"))
    (tmp_path / "root" / "wave").mkdir(parents=True)
    with pytest.raises(DataError, match=r"wave: class folder has no clips"):
        VideoFolder(root=str(tmp_path / "root"))
    with pytest.raises(DataError, match="video folder not found"):
        VideoFolder(root=str(tmp_path / "nope"))


def test_missing_keypoints_file_is_explained(tmp_path):
    root = make_folder(tmp_path / "videos", classes=("jump",), clips=1)
    next(root.glob("*/*.npz")).unlink()
    with pytest.raises(DataError, match="no keypoints file for .*v_jump_0.mp4"):
        VideoFolder(root=str(root), cache_dir=str(tmp_path / "cache"))


def test_train_and_test_splits_partition_the_clips(tmp_path):
    root = make_folder(tmp_path / "videos", clips=5)
    common = dict(root=str(root), cache_dir=str(tmp_path / "cache"), test_fraction=0.4)
    train = VideoFolder(split="train", **common)
    test = VideoFolder(split="test", **common)
    assert len(train) + len(test) == 10
    assert {c for c, _ in train.clips}.isdisjoint({c for c, _ in test.clips})


def test_a_garbage_pose_cache_file_is_extracted_again_with_a_warning(tmp_path, counting_source, caplog):
    root = make_folder(tmp_path / "videos")
    kwargs = dict(root=str(root), pose_source=counting_source, cache_dir=str(tmp_path / "cache"), frames=4)
    dataset = VideoFolder(**kwargs)
    expected = dataset[0]["keypoints"]
    cached = dataset.cache.path_for(dataset.clips[0][0])
    cached.write_bytes(b"\x00 not an npz archive")
    calls = CountingSource.calls
    with caplog.at_level("WARNING"):
        item = VideoFolder(**kwargs)[0]
    assert "is unreadable; extracting" in caplog.text and CountingSource.calls == calls + 1
    assert torch.equal(item["keypoints"], expected)
    with np.load(cached) as archive:  # written again, readable
        assert archive["keypoints"].shape[1:] == (18, 3)


def test_a_few_frames_of_a_clip_equal_those_of_the_whole_clip(tmp_path):
    """What a training step asks for (SCGAN: the first frame and one other) is decoded alone and is the same
    as those frames of the whole clip; a frame past the video's end is an error that says so."""
    frames = (np.random.default_rng(0).random((20, 48, 48, 3)) * 255).astype(np.uint8)
    video = write_video(tmp_path / "a.mp4", frames)
    whole = read_video(video)
    torch.testing.assert_close(torch.from_numpy(read_video(video, frames=[7, 2, 2])), torch.from_numpy(whole[[7, 2, 2]]))
    with pytest.raises(DataError, match="frame 25 was asked for, but the video has 20 frames"):
        read_video(video, frames=[3, 25])


@pytest.mark.parametrize("as_frames", [False, True], ids=["mp4", "frame-folder"])
def test_the_dataset_makes_a_few_frames_alone(tmp_path, as_frames):
    root = make_folder(tmp_path / "videos", frames=20, as_frames=as_frames)
    dataset = VideoFolder(root=str(root), resolution=32, frames=6, stride=2, cache_dir=str(tmp_path / "cache"),
                          progress=False)
    whole, few = dataset[1], dataset.frames_of(1, (0, 4))
    assert few["frames"].shape == (2, 3, 32, 32)
    for key in ("frames", "keypoints"):
        torch.testing.assert_close(few[key], whole[key][[0, 4]], rtol=0, atol=0)
    assert few["label"] == whole["label"]


def test_a_clip_is_decoded_once_while_there_is_room(tmp_path, monkeypatch):
    import pgvg_data.video_folder as video_folder

    root = make_folder(tmp_path / "videos", frames=20)
    decoded = []
    real_read = video_folder.read_video
    monkeypatch.setattr(video_folder, "read_video",
                        lambda clip, frames=None: decoded.append(frames) or real_read(clip, frames=frames))
    kwargs = dict(root=str(root), resolution=32, frames=6, stride=2, cache_dir=str(tmp_path / "cache"), progress=False)
    kept = VideoFolder(**kwargs, cache_frames=False)
    decoded.clear()  # making the dataset extracted the poses
    first, again, few = kept[0], kept[0], kept.frames_of(0, (5, 1))
    assert len(decoded) == 1 and len(decoded[0]) == 6  # the whole clip once, then from memory
    torch.testing.assert_close(again["frames"], first["frames"], rtol=0, atol=0)
    torch.testing.assert_close(few["keypoints"], first["keypoints"][[5, 1]], rtol=0, atol=0)
    few["keypoints"] += 1  # a caller changing its copy does not change the kept clip
    torch.testing.assert_close(kept[0]["keypoints"], first["keypoints"], rtol=0, atol=0)

    none_kept = VideoFolder(**kwargs, keep_mb=0, cache_frames=False)
    decoded.clear()
    torch.testing.assert_close(none_kept.frames_of(0, (5, 1))["frames"], first["frames"][[5, 1]], rtol=0, atol=0)
    none_kept.frames_of(0, (5, 1))
    assert len(decoded) == 2 and all(len(asked) == 2 for asked in decoded)  # only the frames asked for, each time
    with pytest.raises(ValueError, match="keep_mb must be >= 0"):
        VideoFolder(**kwargs, keep_mb=-1)
