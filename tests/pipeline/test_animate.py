import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pgvg_data.synthetic import SyntheticActions
from PIL import Image
from tiny import TINY_CLASSIFIER, TINY_PSGAN, TINY_SCGAN, write_config

from pgvg_core.app.pipeline import Animator, every_metric, panels
from pgvg_core.cli import main
from pgvg_core.config import load_config
from pgvg_core.media.video import read_video
from pgvg_core.training.run import load_run
from pgvg_core.training.trainer import Trainer


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


@pytest.mark.parametrize("compose", ["layers", "network"])
def test_animate_command_writes_the_animated_photo_and_its_record(pipeline_dir, tmp_path, compose):
    image, keypoints = photo(tmp_path)
    out = tmp_path / "kick.mp4"
    result = CliRunner().invoke(main, ["animate", str(image), "--action", "kick", "--run", str(pipeline_dir),
                                       "--out", str(out), "--keypoints", str(keypoints), "--frames", "6",
                                       "--render-size", "128", "--panels", "--compose", compose])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["compose"] == compose
    video = read_video(out)
    assert len(video) == 6 and list(video.shape[1:3]) == record["view"]["video_size"][::-1]
    assert record["image_size"] == [64, 64] and record["action"] == "kick" and record["render_size"] == 128
    # The 64-pixel photo's person is framed like the 32-pixel model's training people: about half the size.
    assert record["crop"]["scale"] == pytest.approx(0.5, rel=0.1)
    # The first generated pose is the photo's pose, in the photo's pixels.
    given = np.load(keypoints)["keypoints"][0]
    np.testing.assert_allclose(np.array(record["poses_photo"][0]), given, atol=0.01)
    panels_video = read_video(tmp_path / "kick-panels.mp4")
    assert panels_video.shape[1:3] == (128, 3 * 128 + 2 * 2)  # crop | poses | frames at the render size


def test_animate_guards_say_what_is_wrong(pipeline_dir, tmp_path):
    image, keypoints = photo(tmp_path)
    given = np.load(keypoints)["keypoints"]
    run = lambda action, *extra: CliRunner().invoke(main, [  # noqa: E731
        "animate", str(image), "--action", action, "--run", str(pipeline_dir), "--out", str(tmp_path / "x.gif"),
        "--keypoints", str(keypoints), "--render-size", "64", *extra])
    # Legs cut by the frame edge: refused for an action that moves them, a note for one that does not.
    legless = given.copy()
    legless[:, [9, 10, 12, 13], 2] = 0
    np.savez(keypoints, keypoints=legless)
    refused = run("jump")
    assert refused.exit_code == 2 and "'jump' moves" in refused.output and "ankle" in refused.output
    allowed = run("wave-right")
    assert allowed.exit_code == 0, allowed.output
    assert "not in the photo" in allowed.output
    # A tiny person.
    tiny = given.copy()
    tiny[..., :2] = tiny[..., :2] * 0.2
    np.savez(keypoints, keypoints=tiny)
    small = run("kick")
    assert small.exit_code == 2 and "too small to animate" in small.output
    # Several people (OpenPose JSON): the largest by default, --person N picks, a wrong N says how many.
    people = tmp_path / "people_keypoints.json"
    small_person = given[0].copy()
    small_person[:, :2] = small_person[:, :2] * 0.8
    people.write_text(json.dumps({"people": [{"pose_keypoints_2d": p.flatten().tolist()}
                                             for p in (small_person, given[0])]}))
    keypoints = people
    chosen = run("kick")
    assert chosen.exit_code == 0, chosen.output
    record = json.loads((tmp_path / "x.json").read_text())
    np.testing.assert_allclose(record["poses_photo"][0], given[0], atol=0.01)  # the larger one
    assert run("kick", "--person", "1").exit_code == 0
    np.testing.assert_allclose(json.loads((tmp_path / "x.json").read_text())["poses_photo"][0], small_person,
                               atol=0.01)
    wrong = run("kick", "--person", "2")
    assert wrong.exit_code == 2 and "has 2 people" in wrong.output


@pytest.mark.parametrize("problem, message", [
    ("action", "unknown action 'dance'; this model knows: jump, kick, wave-right"),
    ("grayscale", "a grayscale image"),
    ("rgba", "an image with transparency"),
    ("not-image", "not a readable image"),
    ("no-stage2", "has no stage-2 (frames) weights (scgan/checkpoints"),
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


def test_export_writes_a_bundle_that_animates_like_the_pipeline(pipeline_dir, tmp_path):
    bundle = tmp_path / "model.pt"
    exported = CliRunner().invoke(main, ["export", str(pipeline_dir), "--out", str(bundle)])
    assert exported.exit_code == 0, exported.output
    payload = torch.load(bundle, weights_only=True)  # plain data only
    assert payload["classes"] == ["jump", "kick", "wave-right"] and payload["resolution"] == 32
    assert all(v.dtype == torch.float16 for v in payload["stages"]["scgan"]["state"].values() if v.is_floating_point())
    from_runs, from_bundle = Animator(pipeline_dir), Animator(bundle)
    assert from_bundle.framing == from_runs.framing
    assert from_bundle.moved_joints("jump") == from_runs.moved_joints("jump")
    clip = SyntheticActions(split="test", clips=3, resolution=32, frames=4, actions=list(from_runs.classes))[0]
    torch.manual_seed(11)
    stream = torch.get_rng_state()
    poses = [a.poses(clip["keypoints"][0], "kick", seed=3) for a in (from_runs, from_bundle)]
    assert torch.equal(torch.get_rng_state(), stream)  # the caller's random stream is untouched
    # Half-precision weights: joints agree within 0.05 px, but a 4-step model's heatmaps are nearly flat, and a
    # near-tie between two peaks may fall the other way for a joint or two.
    close = ((poses[1] - poses[0]).abs() <= 0.05).float().mean()
    assert close >= 0.98, f"{close:.3f} of the joint coordinates agree"
    frames = [a.frames(clip["frames"][0], clip["keypoints"][0], poses[0]) for a in (from_runs, from_bundle)]
    assert (frames[1] - frames[0]).abs().mean() < 0.01
    image, keypoints = photo(tmp_path)
    result = CliRunner().invoke(main, ["animate", str(image), "--action", "kick", "--model", str(bundle),
                                       "--out", str(tmp_path / "b.gif"), "--keypoints", str(keypoints),
                                       "--render-size", "64"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b.json").read_text())["model"]["sha256"] == payload["sha256"]


def test_export_takes_a_missing_stage_from_a_base_bundle(pipeline_dir, tmp_path):
    import shutil

    base = tmp_path / "base.pt"
    assert CliRunner().invoke(main, ["export", str(pipeline_dir), "--out", str(base)]).exit_code == 0
    stage_one_only = tmp_path / "mine"
    shutil.copytree(pipeline_dir / "psgan", stage_one_only / "psgan")
    refused = CliRunner().invoke(main, ["export", str(stage_one_only), "--out", str(tmp_path / "x.pt")])
    assert refused.exit_code == 2 and "no frames run (scgan/checkpoints" in refused.output and "--from" in refused.output
    mixed = tmp_path / "mixed.pt"
    result = CliRunner().invoke(main, ["export", str(stage_one_only), "--from", str(base), "--out", str(mixed)])
    assert result.exit_code == 0, result.output
    before, after = torch.load(base, weights_only=True), torch.load(mixed, weights_only=True)
    for name, tensor in before["stages"]["scgan"]["state"].items():
        assert torch.equal(after["stages"]["scgan"]["state"][name], tensor)
    assert after["framing"] == before["framing"] and after["moved_joints"] == before["moved_joints"]
    sources = after["provenance"]["stage_sources"]
    assert sources["psgan"] == str((stage_one_only / "psgan").resolve()) and before["sha256"][:16] in sources["scgan"]
    assert Animator(mixed).classes == Animator(base).classes  # loads: the digest covers the mixed weights


def test_a_damaged_or_unsafe_bundle_is_refused(pipeline_dir, tmp_path):
    bundle = tmp_path / "model.pt"
    assert CliRunner().invoke(main, ["export", str(pipeline_dir), "--out", str(bundle)]).exit_code == 0
    payload = torch.load(bundle, weights_only=True)
    first = next(iter(payload["stages"]["psgan"]["state"]))
    payload["stages"]["psgan"]["state"][first] += 1
    torch.save(payload, tmp_path / "edited.pt")

    class Exploit:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    torch.save({"format": "pgvg-inference-bundle", "x": Exploit()}, tmp_path / "unsafe.pt")
    image, keypoints = photo(tmp_path)
    for name, message in (("edited.pt", "do not match the bundle's sha256"), ("unsafe.pt", "not a readable pgvg"),
                          ("missing.pt", "model not found")):
        result = CliRunner().invoke(main, ["animate", str(image), "--action", "kick", "--model",
                                           str(tmp_path / name), "--out", str(tmp_path / "x.gif"),
                                           "--keypoints", str(keypoints)])
        assert result.exit_code == 2 and message in result.output, (name, result.output)
    assert not (tmp_path / "pwned").exists()  # the unpickler never ran the payload


def test_a_finished_stage_continues_when_asked_for_more_steps(tmp_path):
    """`pgvg demo --steps-factor 2` on a finished demo trains its generators on from where they stopped."""
    import pgvg_core.app.pipeline as pipeline
    from pgvg_core.app.demo import scaled_steps
    from pgvg_core.training import checkpoint

    config = write_config(tmp_path, TINY_PSGAN, "tiny-psgan.toml")
    stage = pipeline.Stage(name="psgan", config=config, provides="poses",
                           overrides=("trainer.steps=2", "trainer.checkpoint_every=2", "trainer.sample_every=2"))
    assert scaled_steps(stage, 2) == ("trainer.steps=4", "trainer.checkpoint_every=4", "trainer.sample_every=4")
    run = pipeline.train_stage(stage, tmp_path / "pipe", progress=False)
    assert checkpoint.load(checkpoint.latest(run))["step"] == 2
    pipeline.train_stage(stage, tmp_path / "pipe", progress=False)  # finished: reused
    assert checkpoint.load(checkpoint.latest(run))["step"] == 2
    pipeline.train_stage(stage, tmp_path / "pipe", extra=scaled_steps(stage, 2), progress=False)
    assert checkpoint.load(checkpoint.latest(run))["step"] == 4


def test_failure_cases_measure_each_split_and_draw_them(pipeline_dir):
    from pgvg_core.app.pipeline import failure_cases

    animator = Animator(pipeline_dir)
    classifier = load_run(pipeline_dir / "action-classifier").nets["classifier"]
    results, sheet = failure_cases(animator, classifier, clips=4, splits=("test", "occlusion", "no-such-split"))
    assert set(results) == {"test", "occlusion"}  # a split the dataset lacks is left out
    for values in results.values():
        assert 0 < values["ssim"] <= 1 and values["lpips-st"] >= 0 and 0 <= values["action_accuracy"] <= 1
        assert 0 < values["head_ssim"] <= 1 and values["clips"] == 4
    assert results["test"]["ssim"] != results["occlusion"]["ssim"]  # different clips, different values
    assert sheet.ndim == 3 and sheet.shape[2] == 3 and sheet.shape[0] > 100  # 2 splits x 2 clips x 2 rows


def test_a_stage_whose_objective_is_not_a_stage_contract_is_refused(pipeline_dir, tmp_path):
    import shutil

    from pgvg_core.errors import PgvgError

    folder = tmp_path / "mixed"
    shutil.copytree(pipeline_dir / "psgan", folder / "psgan")
    shutil.copytree(pipeline_dir / "action-classifier", folder / "scgan")  # a classifier is no frame renderer
    refused = r"stage 2 \(frames\) run's objective \(ActionClassifierObjective\).*FrameRenderer"
    with pytest.raises(PgvgError, match=refused):
        Animator(folder)


def test_the_demo_stages_come_from_a_pipeline_file_and_a_bad_one_says_where(tmp_path):
    from pgvg_core.app.pipeline import DEMO_STAGES, EXPERIMENTS, pipeline_stages
    from pgvg_core.errors import PgvgError

    assert [stage.name for stage in DEMO_STAGES] == ["action-classifier", "pose-estimator", "psgan", "scgan"]
    assert all((EXPERIMENTS / stage.config).is_file() for stage in DEMO_STAGES)
    assert "losses.perceptual.weight=0" in DEMO_STAGES[-1].overrides
    bad = tmp_path / "p.toml"
    bad.write_text('[[stages]]\nname = "a"\nconfig = "scgan.toml"\nset = "trainer.steps=3"\n')
    with pytest.raises(PgvgError, match=r"p.toml, at 'stages\[0\]'.set: a list"):
        pipeline_stages(bad)
    bad.write_text('[[stages]]\nname = "a"\nconfg = "scgan.toml"\n')
    with pytest.raises(PgvgError, match="unknown keys: confg"):
        pipeline_stages(bad)
