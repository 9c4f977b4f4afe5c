"""Motion transfer: tracking the driving person, filling lost frames, relative and absolute retargeting, and
`pgvg animate --drive VIDEO` / `--poses FILE` end to end on synthetic clips written to MP4."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pgvg_data.synthetic import SyntheticActions
from PIL import Image

from pgvg_core.app.motion_transfer import absolute_motion, chosen_frames, fill_lost, relative_motion, track_person
from pgvg_core.cli import main
from pgvg_core.media.video import read_video, write_video
from pgvg_core.poses.skeleton import BODY_18, torso_and_hips

ACTIONS = ["jump", "kick", "wave-right"]


def synthetic_clip(index=0, frames=8, resolution=64):
    dataset = SyntheticActions(split="test", clips=3, resolution=resolution, frames=frames, actions=ACTIONS)
    return dataset.sample(index)  # frames uint8 [T, H, W, 3], keypoints [T, K, 3]


def test_relative_motion_of_the_driving_first_frame_is_the_driving_clip_itself():
    driving = synthetic_clip(1)["keypoints"].astype(np.float32)
    np.testing.assert_allclose(relative_motion(driving[0], driving, BODY_18), driving, atol=1e-5)


def test_relative_motion_scales_displacements_by_the_ratio_of_body_sizes():
    driving = synthetic_clip(1)["keypoints"].astype(np.float32)
    photo = driving[0].copy()
    photo[:, :2] = photo[:, :2] * 2 + np.array([10.0, -5.0])  # the same pose, twice as large, elsewhere
    moved = relative_motion(photo, driving, BODY_18)
    expected = photo[None, :, :2] + 2 * (driving[..., :2] - driving[:1, :, :2])
    seen = (driving[..., 2] > 0.1) & (driving[:1, :, 2] > 0.1)
    np.testing.assert_allclose(moved[..., :2][seen], expected[seen], atol=1e-4)
    assert (moved[:, :, 2] == photo[None, :, 2]).all()


def test_absolute_motion_keeps_the_photos_bone_lengths_and_follows_the_driving_directions():
    driving = synthetic_clip(2)["keypoints"].astype(np.float32)
    photo = synthetic_clip(0)["keypoints"][0].astype(np.float32)
    moved = absolute_motion(photo, driving, BODY_18)
    for parent, child in BODY_18.bones:
        if min(photo[parent, 2], photo[child, 2], *driving[:, parent, 2], *driving[:, child, 2]) <= 0.1:
            continue
        length = np.linalg.norm(photo[child, :2] - photo[parent, :2])
        bones = moved[:, child, :2] - moved[:, parent, :2]
        np.testing.assert_allclose(np.linalg.norm(bones, axis=-1), length, rtol=1e-4, atol=1e-3)
        direction = driving[:, child, :2] - driving[:, parent, :2]
        cosine = (bones * direction).sum(-1) / np.linalg.norm(bones, axis=-1) / np.linalg.norm(direction, axis=-1)
        np.testing.assert_allclose(cosine, 1.0, atol=1e-4)
    # Placed where the photo's person stands: the first frame's hip centre is the photo's.
    np.testing.assert_allclose(torso_and_hips(moved[0])[1], torso_and_hips(photo)[1], atol=1e-3)


def test_the_largest_person_is_tracked_and_not_swapped_for_another():
    big = synthetic_clip(0, frames=24)["keypoints"][:6].astype(np.float32)  # 24 frames a clip: real motion
    small = big.copy()
    small[..., :2] = small[..., :2] * 0.5 + 40  # a smaller person elsewhere
    people = [np.stack([small[t], big[t]]) for t in range(6)]
    people[3] = small[3:4]  # the tracked person is not found in frame 3, the other one is
    track = track_person(people, BODY_18)
    np.testing.assert_allclose(track[[0, 1, 2, 4, 5]], big[[0, 1, 2, 4, 5]])
    assert (track[3] == 0).all()  # lost, not swapped
    np.testing.assert_allclose(track_person(people, BODY_18, person=1)[0], small[0])  # --drive-person 1
    with pytest.raises(Exception, match="--drive-person 2"):
        track_person(people, BODY_18, person=2)


def test_lost_frames_and_joints_are_interpolated_in_time_and_counted():
    poses = np.zeros((5, 18, 3), np.float32)
    poses[:, :, 2] = 1
    poses[:, :, 0] = np.arange(5)[:, None] * 10.0  # every joint moves 10 px a frame
    poses[2] = 0  # frame 2 lost
    poses[4, 7] = 0  # one joint missing at the end
    poses[:, 17] = 0  # never seen
    filled, lost, joints = fill_lost(poses)
    assert lost == (2,) and joints == 1 + 4  # the wrist at the end and the never-seen joint in 4 found frames
    np.testing.assert_allclose(filled[2, :17, 0], 20.0)  # halfway between frames 1 and 3
    assert filled[4, 7, 0] == 30.0  # held from the last frame where it was found
    assert (filled[:, 17, 2] == 0).all()  # never seen: stays missing


def test_stride_and_max_frames_pick_the_driving_frames():
    assert chosen_frames(10, 3, None).tolist() == [0, 3, 6, 9]
    assert chosen_frames(10, 2, 3).tolist() == [0, 2, 4]


def test_people_over_time_from_openpose_folders_and_coco_files(tmp_path):
    from pgvg_poses.formats import load_people_over_time

    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in range(3):
        people = [{"pose_keypoints_2d": [float(t + p)] * 54} for p in range(2 if t != 1 else 1)]
        (folder / f"clip_{t:06d}_keypoints.json").write_text(json.dumps({"people": people}))
    found = load_people_over_time(folder)
    assert [len(frame) for frame in found] == [2, 1, 2] and found[2][1, 0, 0] == 3.0
    coco = {"annotations": [{"id": i, "image_id": image, "keypoints": [5.0 * image, 1.0, 2] * 17}
                            for i, image in enumerate([7, 3, 3])]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    frames = load_people_over_time(tmp_path / "coco.json")
    assert [len(frame) for frame in frames] == [2, 1] and frames[1][0, 0, 0] == 35.0  # image 3 first


@pytest.fixture(scope="module")
def driving_video(tmp_path_factory):
    """A synthetic person's kick written as MP4 (12 fps) with its poses beside it (keypoints-file reads them)."""
    folder = tmp_path_factory.mktemp("driving")
    clip = synthetic_clip(1, frames=8)
    video = write_video(folder / "kick.mp4", clip["frames"], fps=12)
    np.savez(folder / "kick.npz", keypoints=clip["keypoints"])
    return video, clip["keypoints"].astype(np.float32)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from test_animate import pipeline_dir

    return pipeline_dir.__wrapped__(tmp_path_factory)


def another_person(tmp_path):
    clip = synthetic_clip(0, frames=2)
    path = tmp_path / "photo.png"
    Image.fromarray(clip["frames"][0]).save(path)
    np.savez(tmp_path / "photo.npz", keypoints=clip["keypoints"][:1])
    return path, tmp_path / "photo.npz", clip["keypoints"][0].astype(np.float32)


@pytest.mark.parametrize("motion", ["relative", "absolute"])
def test_drive_moves_the_photos_person_like_the_video_frame_for_frame(pipeline, driving_video, tmp_path, motion):
    video, driving = driving_video
    photo, keypoints, points = another_person(tmp_path)
    out = tmp_path / "driven.mp4"
    result = CliRunner().invoke(main, [
        "animate", str(photo), "--drive", str(video), "--drive-pose-source", "keypoints-file", "--keypoints",
        str(keypoints), "--model", str(pipeline), "--out", str(out), "--render-size", "64", "--motion", motion,
        "--stride", "2", "--canvas", "photo"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    frames = read_video(out)
    assert len(frames) == 4 and frames.shape[1:3] == (64, 64)  # frames 0, 2, 4, 6 at the photo's size
    assert record["fps"] == 6 and record["driving"]["frame_indices"] == [0, 2, 4, 6]
    assert record["driving"]["lost"] == 0 and record["driving"]["motion"] == motion
    expected = (relative_motion if motion == "relative" else absolute_motion)(points, driving[::2], BODY_18)
    np.testing.assert_allclose(np.array(record["poses_photo"]), expected, atol=0.02)


def test_canvas_photo_keeps_the_photos_pixels_away_from_the_person(pipeline, driving_video, tmp_path):
    from pgvg_core.app.animate import animate_photo

    video, _ = driving_video
    photo, keypoints, points = another_person(tmp_path)
    made = animate_photo(str(photo), drive=str(video), drive_pose_source="keypoints-file", keypoints_file=str(keypoints),
                         model=str(pipeline), out=None, render_size=64, canvas="photo")
    frames = made["frames_written"]  # [T, H, W, 3] at the photo's size
    picture = np.asarray(Image.open(photo).convert("RGB"))
    assert frames.shape == (8, 64, 64, 3) and made["video"] is None
    np.testing.assert_array_equal(frames[0][:, :4], picture[:, :4])  # beside the person: the photo's pixels
    # Far from every pose of the clip (more than a torso from every joint), every frame is the photo itself.
    poses = made["poses_photo"]  # [T, K, 3]
    torso = torso_and_hips(points)[0]
    ys, xs = np.mgrid[:64, :64]
    far = np.ones((64, 64), bool)
    for pose in poses:
        for x, y, c in pose:
            if c > 0.1:
                far &= np.hypot(xs - x, ys - y) > 1.0 * torso
    assert far.sum() > 100
    assert (frames[:, far] == picture[far]).all()


def test_poses_file_drives_at_the_given_frame_rate(pipeline, tmp_path):
    photo, keypoints, _ = another_person(tmp_path)
    clip_poses = tmp_path / "poses.npz"
    np.savez(clip_poses, keypoints=synthetic_clip(2, frames=5)["keypoints"])
    out = tmp_path / "driven.gif"
    result = CliRunner().invoke(main, ["animate", str(photo), "--poses", str(clip_poses), "--keypoints",
                                       str(keypoints), "--model", str(pipeline), "--out", str(out),
                                       "--render-size", "64", "--fps", "5", "--max-frames", "3"])
    assert result.exit_code == 0, result.output
    assert len(read_video(out)) == 3
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["fps"] == 5 and record["driving"]["source"].startswith("keypoints file")


@pytest.mark.parametrize("args, message", [
    (["--action", "kick", "--poses", "x.npz"], "exactly one of --action ACTION, --drive VIDEO or --poses FILE"),
    (["--drive", "nowhere.mp4"], "no such video"),
    (["--poses", "nowhere.npz"], "keypoints file not found"),
])
def test_drive_bad_input_exits_2_and_says_what(pipeline, tmp_path, args, message):
    photo, keypoints, _ = another_person(tmp_path)
    result = CliRunner().invoke(main, ["animate", str(photo), "--keypoints", str(keypoints), "--model",
                                       str(pipeline), "--out", str(tmp_path / "x.mp4"), *args])
    assert result.exit_code == 2 and message in result.output, result.output


class CrowdSource:
    """A stand-in for an image-based source that finds several people (as MediaPipe does). A frame's pixel at
    (x, y) is (t + 1, x, y): ``people`` gives every person of frame t, ``__call__`` on a window (black beyond
    the frame) reads where in the frame the window lies and gives the person whose joints all lie in it."""

    several_people = True
    skeleton = "body-18"

    def __init__(self, people):
        self.by_frame = people  # per frame [P, K, 3] in frame pixels
        self.calls = {"people": 0, "window": 0, "found in window": 0}

    def people(self, frame, *, path=None):
        self.calls["people"] += 1
        return self.by_frame[int(frame[..., 0].max()) - 1]

    def __call__(self, windows, *, clip_path=None):
        self.calls["window"] += 1
        window = windows[0].astype(int)
        t = int(window[..., 0].max()) - 1
        y, x = np.argwhere(window[..., 0] > 0)[0]
        left, top = window[y, x, 1] - x, window[y, x, 2] - y  # the window's corner in frame pixels
        out = np.zeros((1, 18, 3), np.float32)
        for person in self.by_frame[t]:
            local = person.copy()
            local[:, 0] -= left
            local[:, 1] -= top
            if ((local[:, :2] >= 0) & (local[:, :2] < window.shape[0])).all():
                self.calls["found in window"] += 1
                out[0] = local
                break
        return out


def test_the_driving_person_is_followed_in_a_window_around_them():
    from pgvg_core.app.motion_transfer import track_in_video

    walker = synthetic_clip(0, frames=24)["keypoints"][:6].astype(np.float32)
    walker[..., 0] += 100 + 6 * np.arange(6)[:, None]  # walks right in a 200 x 120 frame
    walker[..., 1] += 40
    other = walker.copy()
    other[..., :2] = (walker[..., :2] - walker[:, :1, :2]) * 0.6 + walker[:, :1, :2] - np.array([80.0, 0.0])
    people = [np.stack([other[t], walker[t]]) for t in range(6)]
    people[2] = other[2:3]  # the walker is missed in frame 2
    ys, xs = np.mgrid[:120, :200]
    frames = np.stack([np.stack([np.full_like(xs, t + 1), xs, ys], -1) for t in range(6)]).astype(np.uint8)
    source = CrowdSource(people)
    track = track_in_video(frames, source, BODY_18)
    np.testing.assert_allclose(track[[0, 1, 3, 4, 5]], walker[[0, 1, 3, 4, 5]], atol=1e-4)  # the largest
    assert (track[2] == 0).all()  # missed: lost, not swapped for the other person
    assert source.calls["found in window"] == 4  # frames 1, 3, 4, 5: found around where the walker was
    np.testing.assert_allclose(track_in_video(frames, source, BODY_18, person=1)[0], other[0], atol=1e-4)


def test_measured_poses_are_warped_by_as_given(pipeline):
    from pgvg_core.app.pipeline import Animator
    from pgvg_core.poses.keypoints import heatmaps_to_keypoints

    animator = Animator(pipeline)
    generator, objective = animator.generator, animator.stage2.objective
    poses = torch.from_numpy(synthetic_clip(1, frames=4, resolution=32)["keypoints"]).float()
    source, target = objective.heatmaps(poses[:1].expand(4, -1, -1)), objective.heatmaps(poses)
    refined = generator.warp_keypoints(source, target)[1]
    with generator.poses_as_given():
        given = generator.warp_keypoints(source, target)[1]
    torch.testing.assert_close(given, heatmaps_to_keypoints(target))
    assert not torch.allclose(refined, given)  # the refiner reads them otherwise
    assert generator.warp_keypoints(source, target)[1].equal(refined)  # and does again after the context
