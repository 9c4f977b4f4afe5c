"""pgvg animate on real photos (people cropped from Sports2D's demo video and ultralytics' bus.jpg, fetched
with pip at test time): the framing, the first pose and the output size, with MediaPipe finding the pose.

The tiny pipeline here is barely trained, so these tests check geometry, not looks; the looks are measured
by benchmarks/animate_real_photos.py with a trained model.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from media import MediaUnavailable, real_people

from pgvg_core.cli import main
from pgvg_core.media.video import read_video
from pgvg_core.poses.skeleton import torso_and_hips

pytest.importorskip("mediapipe", reason="mediapipe is an optional extra (see README: pip install --no-deps "
                                        "mediapipe==0.10.21 ...)")


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    try:
        return real_people(tmp_path_factory.mktemp("media"), ["sports2d-woman-walking", "bus-man-black-coat"])
    except MediaUnavailable as reason:
        pytest.skip(f"real photos unavailable: {reason}")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from test_animate import pipeline_dir

    return pipeline_dir.__wrapped__(tmp_path_factory)


@pytest.mark.parametrize("name", ["sports2d-woman-walking", "bus-man-black-coat"])
def test_a_real_person_is_framed_like_the_training_data_and_shown_large(people, pipeline, tmp_path, name):
    out = tmp_path / f"{name}.mp4"
    result = CliRunner().invoke(main, ["animate", str(people[name]), "--action", "kick", "--model", str(pipeline),
                                       "--out", str(out), "--render-size", "256"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    poses = np.array(record["poses_photo"])  # [T, K, 3] in photo pixels
    # The first generated pose is the pose MediaPipe found in the photo.
    from PIL import Image

    from pgvg_core.config import ComponentSpec, build

    photo = np.asarray(Image.open(people[name]).convert("RGB"))
    found = np.asarray(build("pose_sources", ComponentSpec(name="mediapipe"))(photo[None]))[0]
    found[found[:, 2] < 0.3, 2] = 0  # what animate counts as missing
    np.testing.assert_allclose(poses[0], found, atol=0.02)
    # In the model's frame the person has the training data's torso length and hip position.
    crop, framing = record["crop"], record["framing"]
    scale = crop["scale"]
    framed = found.copy()
    framed[:, 0] = (found[:, 0] - crop["left"] + 0.5) * scale - 0.5
    framed[:, 1] = (found[:, 1] - crop["top"] + 0.5) * scale - 0.5
    torso, hip = torso_and_hips(framed)
    assert torso == pytest.approx(framing["length"], rel=0.05)
    np.testing.assert_allclose(hip, [framing["anchor_x"], framing["anchor_y"]], atol=0.6)
    # The video is the photo around the person, the person at the render size's scale (>= 150 px tall here).
    video = read_video(out)
    assert list(video.shape[1:3]) == record["view"]["video_size"][::-1]
    visible = found[found[:, 2] > 0.1]
    height_in_video = (visible[:, 1].max() - visible[:, 1].min()) * record["view"]["scale"]
    assert height_in_video >= 150


def test_a_bust_is_refused_with_what_is_missing(pipeline, tmp_path):
    from PIL import Image
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    result = CliRunner().invoke(main, ["animate", str(path), "--action", "wave-right", "--model", str(pipeline),
                                       "--out", str(tmp_path / "a.mp4")])
    assert result.exit_code == 2, result.output
    assert "hips" in result.output and "Traceback" not in result.output
