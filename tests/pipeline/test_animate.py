import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pgvg_core.cli import main
from pgvg_core.config import load_config
from pgvg_core.pipeline import Animator, every_metric, panels
from pgvg_core.trainer import Trainer
from pgvg_core.video import read_video
from pgvg_data.synthetic import SyntheticActions
from tiny import TINY_CLASSIFIER, TINY_PSGAN, TINY_SCGAN, write_config


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    """A tiny trained pipeline: action-classifier/, psgan/ and scgan/ (a few steps each)."""
    folder = tmp_path_factory.mktemp("pipeline")
    for name, text, overrides in (("action-classifier", TINY_CLASSIFIER, ("trainer.steps=5",)),
                                  ("psgan", TINY_PSGAN, ()), ("scgan", TINY_SCGAN, ())):
        config = load_config(write_config(folder, text, f"{name}.toml"), overrides)
        Trainer(config, folder / name, progress=False).fit()
    return folder


def photo(tmp_path, mode="RGB"):
    clip = SyntheticActions(split="test", clips=3, resolution=64, frames=4, actions=["jump", "kick", "wave-right"]).sample(1)
    path = tmp_path / f"person-{mode}.png"
    Image.fromarray(clip["frames"][0]).convert(mode).save(path)
    keypoints = tmp_path / "person.npz"
    np.savez(keypoints, keypoints=clip["keypoints"][:1])
    return path, keypoints


def test_animator_makes_poses_then_frames(pipeline_dir):
    animator = Animator(pipeline_dir)
    assert animator.classes == ("jump", "kick", "wave-right")
    clip = SyntheticActions(split="test", clips=3, resolution=32, frames=4, actions=list(animator.classes))[0]
    poses = animator.poses(clip["keypoints"][0], "kick")
    assert poses.shape == (4, 18, 3)
    torch.testing.assert_close(poses[0], clip["keypoints"][0])  # starts at the given pose
    frames = animator.frames(clip["frames"][0], clip["keypoints"][0], poses)
    assert frames.shape == (4, 3, 32, 32) and frames.abs().max() <= 1


def test_animate_command_writes_video_and_crop(pipeline_dir, tmp_path):
    image, keypoints = photo(tmp_path)
    out = tmp_path / "kick.mp4"
    result = CliRunner().invoke(main, ["animate", str(image), "--action", "kick", "--run", str(pipeline_dir),
                                       "--out", str(out), "--keypoints", str(keypoints), "--frames", "6"])
    assert result.exit_code == 0, result.output
    video = read_video(out)
    assert len(video) == 6
    assert video.shape[2] == 3 * (3 * 32 + 2 * 2)  # input | poses | frames, 3x enlarged
    crop = json.loads(out.with_suffix(".json").read_text())
    assert crop["scale"] == pytest.approx(0.5) and crop["image_size"] == [64, 64] and crop["action"] == "kick"


@pytest.mark.parametrize("problem, message", [
    ("action", "unknown action 'dance'; this model knows: jump, kick, wave-right"),
    ("grayscale", "a grayscale image"),
    ("rgba", "an image with transparency"),
    ("not-image", "not a readable image"),
    ("no-stage2", "has no stage-2 (SCGAN) weights"),
    ("no-person", "no person found"),
])
def test_animate_bad_input_exits_2(pipeline_dir, tmp_path, problem, message):
    image, keypoints = photo(tmp_path)
    run, action = pipeline_dir, "kick"
    if problem == "action":
        action = "dance"
    elif problem == "grayscale":
        image, _ = photo(tmp_path, "L")
    elif problem == "rgba":
        image, _ = photo(tmp_path, "RGBA")
    elif problem == "not-image":
        image = tmp_path / "notes.png"
        image.write_text("hello")
    elif problem == "no-stage2":
        run = tmp_path / "half"
        (run / "psgan").mkdir(parents=True)
        import shutil

        shutil.copytree(pipeline_dir / "psgan", run / "psgan", dirs_exist_ok=True)
    elif problem == "no-person":
        np.savez(keypoints, keypoints=np.zeros((1, 18, 3)))
    result = CliRunner().invoke(main, ["animate", str(image), "--action", action, "--run", str(run),
                                       "--out", str(tmp_path / "x.gif"), "--keypoints", str(keypoints)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_every_registered_metric_has_a_value_or_a_reason(pipeline_dir):
    from pgvg_core.plugins import get_registries

    report = every_metric(Animator(pipeline_dir), pipeline_dir, clips=4)
    assert set(report["metrics"]) == set(get_registries()["metrics"].list())
    for name, entry in report["metrics"].items():
        assert "values" in entry or entry["skipped"], name
    assert 0 <= report["metrics"]["pose-action"]["values"]["accuracy"] <= 1
    assert "ssim" in report["metrics"]["ssim"]["values"]


def test_panels_repeat_stills_over_time():
    still = np.zeros((8, 8, 3), np.uint8)
    clip = np.ones((5, 8, 8, 3), np.uint8)
    assert panels(still, clip).shape == (5, 8, 18, 3)


@pytest.mark.slow
def test_demo_quick_writes_everything(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo"), "--quick", "--no-progress"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "demo"
    assert len(list(folder.glob("*.mp4"))) == len(list(folder.glob("*.gif"))) == 10
    assert (folder / "contact-sheet.png").exists() and (folder / "loss-curves.png").exists()
    assert "ssim" in json.loads((folder / "metrics.json").read_text())["metrics"]
