"""A plugin's own stage-1 and stage-2 models, named in a pipeline file, work in ``pgvg demo``, ``pgvg animate``
and ``pgvg export`` through the stage contracts alone (the plugin: tests/fake_plugins/stages.py)."""

import json
import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny import TINY_CLASSIFIER

from pgvg_core.app.pipeline import Animator, pipeline_stages
from pgvg_core.cli import main
from pgvg_core.errors import PgvgError
from pgvg_core.media.video import read_video
from pgvg_core.plugins import load_plugins, set_plugins

DATA = 'name = "synthetic-actions"\nparams = { resolution = 32, frames = 4, clips = 40, actions = ["jump", "kick", "wave-right"] }'
TRAINER = '[trainer]\nsteps = 20\nbatch_size = 4\ndevice = "cpu"\nlog_every = 5\nsample_every = 20\ncheckpoint_every = 20\neval_clips = 4'

EXPERIMENTS = {
    "classifier.toml": TINY_CLASSIFIER,
    "mean-motion.toml": f'[experiment]\nname = "mean-motion"\n[data]\n{DATA}\n{TRAINER}\n[objective]\nname = "mean-motion"\n'
                        '[generators.generator]\nname = "mean-motion"\nlr = 0.5\n',
    "repeat-source.toml": f'[experiment]\nname = "repeat-source"\n[data]\n{DATA}\n{TRAINER}\n'
                          '[objective]\nname = "repeat-source"\n[generators.generator]\nname = "colour-gain"\n'
                          '[[metrics]]\nname = "ssim"\n',
}

PIPELINE = """
[[stages]]
name = "action-classifier"
config = "classifier.toml"
set = ["trainer.steps=5"]

[[stages]]
name = "moves"
config = "mean-motion.toml"
provides = "poses"

[[stages]]
name = "renders"
config = "repeat-source.toml"
provides = "frames"
"""


def with_the_plugin():
    """pgvg's plugins and the test plugin, process-wide (conftest gives each test fresh plugins again)."""
    from fake_plugins import stages

    set_plugins(load_plugins(extra_plugins=[("stages", stages)]))


@pytest.fixture(scope="module")
def third_party_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("third-party")
    for name, text in EXPERIMENTS.items():
        (folder / name).write_text(textwrap.dedent(text))
    (folder / "pipeline.toml").write_text(PIPELINE)
    with_the_plugin()
    try:
        result = CliRunner().invoke(main, ["demo", "--pipeline", str(folder / "pipeline.toml"),
                                           "--out", str(folder / "out"), "--no-progress"])
        assert result.exit_code == 0, result.output
        time_line = next(line for line in result.output.splitlines() if line.startswith("  time "))
        assert " min (action-classifier " in time_line and "renders" in time_line and "metrics" in time_line
        yield folder
    finally:
        set_plugins(None)


def test_demo_trains_and_shows_a_plugins_stages(third_party_pipeline):
    with_the_plugin()
    out = third_party_pipeline / "out"
    assert {p.name for p in out.iterdir() if p.is_dir()} == {"action-classifier", "moves", "renders"}
    assert len(list(out.glob("*.mp4"))) == 3 and (out / "contact-sheet.png").exists()
    written = json.loads((out / "metrics.json").read_text())
    assert list(written["stage_seconds"]) == ["action-classifier", "moves", "renders", "videos", "metrics"]
    assert sum(written["stage_seconds"].values()) <= written["seconds"] + 1
    metrics = written["metrics"]
    assert 0 < metrics["ssim"]["values"]["ssim"] <= 1
    assert "pose-estimator" in metrics["pck"]["skipped"]  # no such helper in this pipeline: says so
    animator = Animator(out)
    assert type(animator.stage1.objective).__name__ == "MeanMotionObjective"
    # The plugin's stage 1 learned each action's mean motion: a jump moves the joints, and frame 0 is the pose.
    clip = animator.stage1.dataset("test")[0]
    poses = animator.poses(clip["keypoints"][0] * 2, "jump")  # stage-2 pixels: 32 -> 32 here, scale 1
    assert torch.equal(poses[0], clip["keypoints"][0] * 2)
    assert (poses[1:, :, :2] - poses[:1, :, :2]).abs().max() > 0.5


def test_animate_and_export_use_a_plugins_stages(third_party_pipeline, tmp_path):
    from pgvg_data.synthetic import SyntheticActions
    from PIL import Image

    out = third_party_pipeline / "out"
    clip = SyntheticActions(split="test", clips=3, resolution=64, frames=4, actions=["jump", "kick", "wave-right"]).sample(0)
    Image.fromarray(clip["frames"][0]).save(tmp_path / "person.png")
    np.savez(tmp_path / "person.npz", keypoints=clip["keypoints"][:1])
    with_the_plugin()
    try:
        result = CliRunner().invoke(main, ["animate", str(tmp_path / "person.png"), "--action", "kick", "--model",
                                           str(out), "--out", str(tmp_path / "kick.mp4"), "--keypoints",
                                           str(tmp_path / "person.npz"), "--frames", "5", "--render-size", "64"])
        assert result.exit_code == 0, result.output
        video = read_video(tmp_path / "kick.mp4").astype(float)
        assert len(video) == 5
        assert np.abs(video[1:] - video[:1]).mean() < 2  # the plugin's renderer repeats the photo
        exported = CliRunner().invoke(main, ["export", str(out), "--out", str(tmp_path / "model.pt")])
        assert exported.exit_code == 0, exported.output
        first = clip["keypoints"][0] * 32 / 64
        from_runs, from_bundle = Animator(out), Animator(tmp_path / "model.pt")
        torch.testing.assert_close(from_bundle.poses(torch.as_tensor(first), "kick"),
                                   from_runs.poses(torch.as_tensor(first), "kick"), atol=0.05, rtol=0)
    finally:
        set_plugins(None)


def test_a_pipeline_file_names_one_stage_for_poses_and_one_for_frames(tmp_path):
    (tmp_path / "p.toml").write_text('[[stages]]\nname = "a"\nconfig = "scgan.toml"\nprovides = "frames"\n')
    with pytest.raises(PgvgError, match=r"0 stages provide 'poses' \(none\); exactly one stage must"):
        pipeline_stages(tmp_path / "p.toml")
    (tmp_path / "p.toml").write_text('[[stages]]\nname = "a"\nconfig = "scgan.toml"\nprovides = "video"\n')
    with pytest.raises(PgvgError, match=r"stages\[0\]'.provides: 'video'; a stage provides one of poses, frames"):
        pipeline_stages(tmp_path / "p.toml")
    (tmp_path / "p.toml").write_text('[[stages]]\nname = "a"\nconfig = "mine.toml"\nprovides = "poses"\n')
    with pytest.raises(PgvgError, match=r"stages\[0\]'.config: no experiment file 'mine.toml' next to"):
        pipeline_stages(tmp_path / "p.toml")
