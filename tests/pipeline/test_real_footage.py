"""Real footage (fetched with pip at test time, skipped offline): the driving person is found and followed in
Sports2D's demo (several people, small in a wide frame), and the reconstruction protocol runs on a view of
Pose2Sim's walking man with the shipped model. Values are measured by an independent eye (MediaPipe)."""

import numpy as np
import pytest
from media import MediaUnavailable, fetch

from pgvg_core.config import ComponentSpec, build
from pgvg_core.media.video import read_video
from pgvg_core.poses.skeleton import BODY_18

pytest.importorskip("mediapipe", reason="mediapipe is an optional extra (see README: pip install --no-deps "
                                        "mediapipe==0.10.21 ...)")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


def media(source, folder):
    try:
        return fetch(source, folder)
    except MediaUnavailable as reason:
        pytest.skip(f"real footage unavailable: {reason}")


def test_mediapipe_finds_the_man_on_the_box_first_in_a_wide_frame(downloads):
    frame = read_video(media("sports2d", downloads), frames=[0])[0]  # 1768 x 994, people a fifth of it tall
    people = build("pose_sources", ComponentSpec(name="mediapipe")).people(frame)
    assert len(people) >= 1
    nose, ankles = people[0][0], people[0][[10, 13]]
    assert 560 < nose[0] < 740 and 40 < nose[1] < 160  # the man standing on the box, largest first
    assert (ankles[:, 1] > 350).all() and (ankles[:, 1] < 520).all()


def test_the_driving_man_is_followed_without_a_swap(downloads, tmp_path):
    from pgvg_core.app.motion_transfer import driving_motion

    motion = driving_motion(video=str(media("sports2d", downloads)), skeleton=BODY_18, pose_source="mediapipe",
                            stride=3, max_frames=16, cache_dir=tmp_path)
    assert len(motion.poses) == 16 and len(motion.lost_frames) <= 2
    noses = motion.poses[:, 0, :2]
    assert (np.abs(noses[:, 0] - 650) < 150).all() and (noses[:, 1] < 250).all()  # always the man on the box


def test_the_reconstruction_protocol_on_a_real_view(downloads, tmp_path):
    from pgvg_core.leaderboard.reconstruction import Protocol, run_reconstruction

    video = media("pose2sim-walking-cam01", downloads)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "cam01.mp4").symlink_to(video)
    done = run_reconstruction(tmp_path / "videos", methods=("copy-first", "layers"), out=tmp_path / "out",
                              protocol=Protocol(), cache_dir=str(tmp_path / "cache"), progress=False)
    [clip] = done["clips"]
    copied, layered = clip["metrics"]["copy-first"], clip["metrics"]["layers"]
    assert clip["lost"] == 0 and 0.5 < copied["ssim"]["ssim"] < 0.98  # he moves
    # The driven frames put his joints nearer where the real ones are than the still first frame does.
    assert layered["akd"]["akd"] < copied["akd"]["akd"]
    assert layered["found"]["found"] >= 0.8
