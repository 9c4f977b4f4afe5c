"""The reconstruction protocol pinned down on synthetic clips written to MP4 (poses beside them): a method that
returns the real frames scores perfectly, copying the first frame scores what it should, every method is
compared on the same crop, and results are stored under a protocol hash that covers the clips' bytes."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from pgvg_data.synthetic import SyntheticActions

from pgvg_core.cli import main
from pgvg_core.leaderboard.reconstruction import (
    Protocol,
    Scorer,
    crops,
    find_clips,
    keypoint_metrics,
    protocol_crop,
    protocol_hash,
    run_reconstruction,
)
from pgvg_core.leaderboard.results import ResultsDatabase
from pgvg_core.media.video import read_video, write_video

PROTOCOL = Protocol(frames=4, seconds=0.5, size=32, pose_source="keypoints-file", estimator=None)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Two synthetic clips (12 fps, 8 frames) in class folders, each with its poses beside it."""
    root = tmp_path_factory.mktemp("videos")
    dataset = SyntheticActions(split="test", clips=3, resolution=64, frames=8, actions=["jump", "kick", "wave-right"])
    for index, action in ((0, "jump"), (1, "kick")):
        clip = dataset.sample(index)
        (root / action).mkdir()
        write_video(root / action / f"{action}.mp4", clip["frames"], fps=12)
        np.savez(root / action / f"{action}.npz", keypoints=clip["keypoints"])
    return root


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from test_animate import pipeline_dir

    return pipeline_dir.__wrapped__(tmp_path_factory)


def test_real_frames_score_perfectly():
    clip = SyntheticActions(split="test", clips=3, resolution=64, frames=4, actions=["jump"]).sample(0)["frames"]
    values = Scorer(estimator=None).score(clip, clip, key=0)
    assert values["l1"]["l1"] == 0 and values["ssim"]["ssim"] == pytest.approx(1.0)
    assert values["lpips-st"]["lpips"] == pytest.approx(0.0, abs=1e-6) and values["psnr"]["psnr"] > 60


def test_keypoint_metrics_count_distances_in_body_heights_and_missed_keypoints():
    real = np.zeros((2, 18, 3), np.float32)
    real[:, :14, 1] = np.linspace(0, 100, 14)  # 100 px tall
    real[:, :14, 2] = 1
    fake = real.copy()
    fake[:, :14, 0] += 5  # every keypoint 5 px off: 0.05 body heights
    fake[1, :7, 2] = 0  # half of them missed in frame 1
    values = keypoint_metrics(real, fake)
    assert values["akd"]["akd"] == pytest.approx(0.05)
    assert values["mkr"]["mkr"] == pytest.approx(7 / 28) and values["found"]["found"] == 1.0


def test_the_protocol_measures_every_method_on_one_crop_and_stores_results(pipeline, videos, tmp_path):
    with ResultsDatabase(tmp_path / "results.sqlite") as database:
        done = run_reconstruction(videos, model=str(pipeline), methods=("copy-first", "layers", "network"),
                                  protocol=PROTOCOL, out=tmp_path / "out", database=database, progress=False)
        stored = database.results("real-reconstruction")
    assert len(stored) == 2 * 3 and {r.seed for r in stored} == {0, 1}
    from pgvg_core.leaderboard.board import format_table, leaderboard

    board = format_table(leaderboard(stored))
    assert "mean ± std over clips" in board and "copy-first" in board  # a row is a method over the clips
    assert {r.protocol_hash for r in stored} == {done["protocol_hash"]}
    clips = json.loads((tmp_path / "out" / "clips.json").read_text())
    assert [clip["stride"] for clip in clips] == [2, 2]  # 0.5 s over 3 steps at 12 fps
    for clip in clips:
        path = clip["clip"]
        poses = np.load(path.replace(".mp4", ".npz"))["keypoints"][0:8:2]
        crop = protocol_crop(poses, 32)
        assert clip["crop"]["left"] == crop.left and clip["crop"]["size"] == crop.size  # one crop for all
        real = crops(read_video(path, frames=[0, 2, 4, 6]), crop)
        copied = np.repeat(real[:1], 4, axis=0)
        expected = np.abs(real[1:].astype(float) - copied[1:]).mean() / 255  # frame 0 (the input) left out
        assert clip["metrics"]["copy-first"]["l1"]["l1"] == pytest.approx(expected, rel=1e-6)
        assert clip["metrics"]["copy-first"]["ssim"]["ssim"] < 1  # the clips move
        assert (tmp_path / "out" / clip["sheet"].split("/")[-1]).is_file()
    assert "| copy-first |" in done["table"] and "Mean ± std over 2 clip(s)" in done["table"]


def test_the_protocol_hash_covers_the_settings_and_the_clips_bytes(videos, tmp_path):
    clips = find_clips(videos)
    assert [c.name for c in clips] == ["jump.mp4", "kick.mp4"]
    first = protocol_hash(PROTOCOL, clips, {})
    assert protocol_hash(PROTOCOL, clips, {}) == first
    assert protocol_hash(Protocol(frames=5, seconds=0.5, size=32), clips, {}) != first
    changed = tmp_path / "kick.mp4"
    changed.write_bytes(clips[1].read_bytes() + b"\0")
    assert protocol_hash(PROTOCOL, [clips[0], changed], {}) != first


def test_the_cli_writes_the_table_and_results(pipeline, videos, tmp_path):
    result = CliRunner().invoke(main, ["bench", "real-reconstruction", "--videos", str(videos), "--model",
                                       str(pipeline), "--methods", "copy-first,warp", "--frames", "3",
                                       "--seconds", "0.3", "--size", "32", "--pose-source", "keypoints-file",
                                       "--out", str(tmp_path / "out"), "--no-db", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "| warp |" in result.output and (tmp_path / "out" / "table.md").is_file()
    assert len(list((tmp_path / "out" / "results-of").rglob("*.json"))) == 4


def test_a_folder_without_clips_says_so(tmp_path):
    result = CliRunner().invoke(main, ["bench", "real-reconstruction", "--videos", str(tmp_path), "--no-db"])
    assert result.exit_code == 2 and "no clips" in result.output


def test_the_ghost_region_is_where_a_limb_was_and_is_not_and_only_it_is_measured():
    from pgvg_core.leaderboard.reconstruction import ghost_regions
    from pgvg_core.poses.framing import PersonCrop
    from pgvg_core.poses.skeleton import BODY_18

    clip = SyntheticActions(split="test", clips=3, resolution=64, frames=8, actions=["wave-right"]).sample(0)
    frames, poses = clip["frames"], np.asarray(clip["keypoints"])  # [T, 64, 64, 3], [T, K, 3]
    crop = PersonCrop(left=0, top=0, size=64, resolution=64)
    ghost = ghost_regions(poses, crop, BODY_18)  # [T, 64, 64]
    assert not ghost[0].any() and ghost[1:].any()  # frame 0 leaves nothing behind; the wave does
    wrist = poses[0, BODY_18.index("right_wrist"), :2].round().astype(int)
    moved = [t for t in range(1, 8) if np.linalg.norm(poses[t, BODY_18.index("right_wrist"), :2]
                                                       - poses[0, BODY_18.index("right_wrist"), :2]) > 8]
    assert moved and all(ghost[t, wrist[1], wrist[0]] for t in moved)  # the old wrist, once the hand has gone
    neck = poses[0, BODY_18.index("neck"), :2].round().astype(int)
    assert not ghost[:, neck[1], neck[0]].any()  # the trunk stays where it was: no ghost there
    scorer = Scorer(estimator=None)
    perfect = scorer.score(frames, frames, key=0, ghost=ghost)["ghost"]
    copied = scorer.score(frames, np.repeat(frames[:1], 8, axis=0), key=0, ghost=ghost)["ghost"]
    assert perfect["l1"] == 0 and perfect["lpips-st"] == pytest.approx(0, abs=1e-6) and perfect["frames"] >= 1
    assert copied["l1"] > 0.05 and copied["lpips-st"] > 0.005  # the hand copied where it no longer is
    # Only the region counts: a frame wrong everywhere else scores as the real one.
    wrong_outside = np.where(ghost[..., None], frames, 255 - frames).astype(np.uint8)
    assert scorer.score(frames, wrong_outside, key=0, ghost=ghost)["ghost"]["l1"] == 0


def test_a_face_model_is_measured_on_face_clips_with_its_own_compositions_and_eye(tmp_path):
    """The shipped face model on synthetic face clips (poses beside them): the methods default to the floor and
    what a face renderer draws (network), and the keypoints compared are the face's 68, in its protocol."""
    from pgvg_data.faces import SyntheticFaces

    root = tmp_path / "faces"
    root.mkdir()
    clip = SyntheticFaces(split="test", clips=2, resolution=64, frames=8).sample(0)
    write_video(root / "face.mp4", clip["frames"], fps=12)
    np.savez(root / "face.npz", keypoints=clip["keypoints"])
    protocol = Protocol(frames=4, seconds=0.5, size=32, pose_source="keypoints-file", estimator=None)
    done = run_reconstruction(root, model="face", protocol=protocol, out=tmp_path / "out", progress=False)
    assert list(done["clips"][0]["metrics"]) == ["copy-first", "network"]
    assert done["results"][0].provenance["clip"]["crop"] and "| network |" in done["table"]
    scored = Scorer(estimator=None, joints=range(68))
    assert scored.joints == tuple(range(68))
    with pytest.raises(Exception, match="no reconstruction method layers"):
        run_reconstruction(root, model="face", methods=["copy-first", "layers"], protocol=protocol,
                           out=tmp_path / "out2", progress=False)
