import csv
import math
import random

import attrs
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny import TINY_PSGAN, write_config

from pgvg_core.cli import main
from pgvg_core.config import load_config
from pgvg_core.errors import CheckpointError, ConfigError, PgvgError
from pgvg_core.poses.keypoints import soft_keypoints
from pgvg_core.training import checkpoint
from pgvg_core.training.batches import StepBatchSampler
from pgvg_core.training.callbacks import Callback
from pgvg_core.training.experiment import Experiment
from pgvg_core.training.run import read_metrics, write_metrics_csv
from pgvg_core.training.trainer import Trainer, TrainingError


def tiny_trainer(tmp_path, *overrides, run="run"):
    config = load_config(write_config(tmp_path, TINY_PSGAN), overrides)
    return Trainer(config, tmp_path / run, progress=False)


def test_fit_writes_the_run_folder(tmp_path):
    result = tiny_trainer(tmp_path).fit()
    run = tmp_path / "run"
    assert result.step == 4
    assert "[experiment]" in (run / "config.toml").read_text()
    rows = read_metrics(run)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4  # one JSON line per log step
    exported = list(csv.DictReader(open(write_metrics_csv(run, tmp_path / "m.csv"))))
    assert [float(r["g/reconstruction"]) for r in exported] == [r["g/reconstruction"] for r in rows]
    assert {"d/adversarial", "g/adversarial", "g/reconstruction", "it_per_s"} <= set(rows[0])
    assert all(math.isfinite(float(r["g/reconstruction"])) for r in rows)
    assert [p.name for p in checkpoint.list_checkpoints(run)] == ["step-0000002.pt", "step-0000004.pt"]
    assert (run / "samples" / "poses-step0000004.png").stat().st_size > 0
    assert (run / "samples" / "poses-anim-step0000004.gif").stat().st_size > 0
    assert any((run / "tb").iterdir())


def test_training_reduces_the_reconstruction_loss(tmp_path):
    trainer = tiny_trainer(tmp_path, "trainer.steps=30", "trainer.log_every=10", "trainer.sample_every=100",
                           "generators.generator.lr=1e-3",
                           "trainer.checkpoint_every=100")
    trainer.fit()
    losses = [row["g/reconstruction"] for row in trainer.history]
    assert losses[-1] < 0.7 * losses[0]


def test_resume_continues_exactly(tmp_path):
    straight = tiny_trainer(tmp_path, run="straight")
    straight.fit()
    half = tiny_trainer(tmp_path, "trainer.steps=2", run="resumed")
    half.fit()
    resumed = Trainer.resume(tmp_path / "resumed", ("trainer.steps=4",), progress=False)
    assert resumed.step == 2
    resumed.fit()
    for role in ("generator", "discriminator"):
        for (name, a), b in zip(straight.nets[role].state_dict().items(), resumed.nets[role].state_dict().values()):
            torch.testing.assert_close(a, b, msg=f"{role}.{name} differs after resume")


def test_nan_loss_stops_with_step_and_term_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    trainer = tiny_trainer(tmp_path)
    original = trainer.objective.generator_terms

    def poisoned(nets, batch, fakes):
        terms = original(nets, batch, fakes)
        if trainer.step == 2:
            terms["reconstruction"] = terms["reconstruction"] * float("nan")
        return terms

    monkeypatch.setattr(trainer.objective, "generator_terms", poisoned)
    with pytest.raises(TrainingError, match=r"step 2: loss term 'g/reconstruction' is nan.*step-0000002\.pt"):
        trainer.fit()
    state = checkpoint.load(checkpoint.latest(tmp_path / "run"))
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["nets"]["generator"].values())


def test_bf16_autocast_trains_on_cpu_and_warns_where_the_cpu_is_slow_at_it(tmp_path, caplog, monkeypatch):
    from pgvg_core.training import devices

    monkeypatch.setattr(devices, "bf16_matmul_speed", lambda: 0.2)  # a CPU without bf16 instructions
    with caplog.at_level("WARNING", logger="pgvg"):
        trainer = tiny_trainer(tmp_path, 'trainer.precision="bf16"', "trainer.steps=2")
    assert "bf16 matrix multiplies run at 0.20x the speed of fp32 on this CPU" in caplog.text
    trainer.fit()
    assert all(math.isfinite(v) for v in trainer.history[-1].values())


def test_bf16_on_a_cpu_with_fast_bf16_is_not_warned_about(tmp_path, caplog, monkeypatch):
    from pgvg_core.training import devices

    monkeypatch.setattr(devices, "bf16_matmul_speed", lambda: 2.3)
    with caplog.at_level("WARNING", logger="pgvg"):
        tiny_trainer(tmp_path, 'trainer.precision="bf16"', "trainer.steps=2")
    assert "bf16" not in caplog.text  # (an info line says the ratio)


def test_bf16_matmul_speed_is_a_measured_ratio():
    from pgvg_core.training.devices import bf16_matmul_speed

    assert 0.01 < bf16_matmul_speed(size=128, repeats=2) < 100


def test_channels_last_trains_the_same_networks_in_nhwc(tmp_path):
    plain = tiny_trainer(tmp_path, "trainer.steps=2", run="plain")
    nhwc = tiny_trainer(tmp_path, "trainer.steps=2", "trainer.channels_last=true", run="nhwc")
    conv3d = next(m for m in nhwc.nets["discriminator"].modules() if isinstance(m, torch.nn.Conv3d))
    assert conv3d.weight.is_contiguous(memory_format=torch.channels_last_3d)
    conv2d = next(m for m in nhwc.nets["generator"].modules() if isinstance(m, torch.nn.Conv2d))
    assert conv2d.weight.is_contiguous(memory_format=torch.channels_last)
    plain.fit(), nhwc.fit()
    a, b = (checkpoint.load(checkpoint.latest(tmp_path / run)) for run in ("plain", "nhwc"))
    for role in a["nets"]:  # the same training up to the order of float sums; checkpoints load anywhere
        for key, value in a["nets"][role].items():
            torch.testing.assert_close(b["nets"][role][key].contiguous(), value, atol=2e-3, rtol=0)


@pytest.mark.slow
def test_a_compiled_run_trains_and_its_checkpoints_keep_the_plain_names(tmp_path):
    trainer = tiny_trainer(tmp_path, "trainer.steps=2", "trainer.compile=true")  # minutes: the compiler
    trainer.fit()
    state = checkpoint.load(checkpoint.latest(tmp_path / "run"))
    plain = tiny_trainer(tmp_path, "trainer.steps=2", run="plain")
    for role, net in plain.nets.items():
        assert list(state["nets"][role]) == list(net.state_dict())  # no "_orig_mod." prefixes
    assert all(math.isfinite(v) for v in trainer.history[-1].values())


def test_step_batch_sampler_is_a_function_of_step():
    full = StepBatchSampler(10, 4, seed=3, start_step=0, steps=6)
    later = StepBatchSampler(10, 4, seed=3, start_step=3, steps=6)
    assert list(full)[3:] == list(later)
    epoch = [i for batch in list(full)[:5] for i in batch][:10]
    assert sorted(epoch) == list(range(10))  # each epoch visits every clip once


def test_config_errors_for_roles_terms_and_slots(tmp_path):
    with pytest.raises(ConfigError, match=r"unexpected \[discriminators.other\]: objective .psgan. trains discriminators discriminator"):
        tiny_trainer(tmp_path, "discriminators.discriminator.name=psgan-patch3d", "discriminators.other.name=x")
    with pytest.raises(ConfigError, match="has no loss term 'perceptual'; its terms: adversarial, reconstruction"):
        tiny_trainer(tmp_path, "losses.perceptual.name=l1")
    with pytest.raises(ConfigError, match="no augmentation slot 'pose'"):
        tiny_trainer(tmp_path, "augmentations.pose.name=abnormal-pose")


def test_weight_zero_switches_a_term_off(tmp_path):
    trainer = tiny_trainer(tmp_path, "losses.adversarial.name=gan-lsgan", "losses.adversarial.weight=0",
                           "trainer.steps=1")
    trainer.fit()
    assert "g/adversarial" not in trainer.history[0] and "d/adversarial" not in trainer.history[0]


def test_resume_errors(tmp_path):
    with pytest.raises(CheckpointError, match="run folder not found"):
        Trainer.resume(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Trainer.resume(tmp_path / "empty")
    corrupt = checkpoint.checkpoint_path(tmp_path / "corrupt", 5)
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"step-0000005\.pt: cannot load checkpoint"):
        Trainer.resume(tmp_path / "corrupt")


@pytest.mark.parametrize("override, message", [
    ("trainer.steps=0", "steps must be > 0"),
    ("generators.generator.name=psgann", "did you mean 'psgan'"),
    ("generators.generator.params.ngff=3", "unknown key 'ngff'; did you mean 'ngf'"),
    ("data.params.resolution=40", "multiple of 16"),
])
def test_run_command_bad_input_exits_2(tmp_path, override, message):
    config = write_config(tmp_path, TINY_PSGAN)
    result = CliRunner().invoke(main, ["run", str(config), "--set", override, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_run_command_trains_and_resumes(tmp_path):
    config = write_config(tmp_path, TINY_PSGAN)
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(config), "--set", "trainer.steps=2", "--out", str(tmp_path / "r"),
                                  "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "finished step 2" in result.output
    again = runner.invoke(main, ["run", str(config), "--out", str(tmp_path / "r")])
    assert again.exit_code == 2 and "already holds a run; continue it with --resume" in again.output
    resumed = runner.invoke(main, ["run", "--resume", str(tmp_path / "r"), "--set", "trainer.steps=3",
                                   "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert "finished step 3" in resumed.output
    missing = runner.invoke(main, ["run", "--resume", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "run folder not found" in missing.output


def test_keypoint_generator_and_terms_train_through_the_psgan_objective(tmp_path):
    trainer = tiny_trainer(tmp_path, 'generators.generator.name="psgan-keypoints"',
                           "generators.generator.params={hidden = 16, class_dim = 4, temporal_blocks = 1}",
                           'discriminators.discriminator.name="psgan-motion"',
                           "discriminators.discriminator.params={width = 8, blocks = 1}",
                           "losses.keypoints.weight=10", "losses.motion.weight=10", "losses.timing.weight=3",
                           "losses.reconstruction.weight=0", "objective.params={best_of = 3}")
    trainer.fit()
    rows = read_metrics(tmp_path / "run")
    assert {"g/keypoints", "g/motion", "g/timing", "g/adversarial"} <= set(rows[0])
    assert "g/reconstruction" not in rows[0]
    assert all(math.isfinite(float(r[f"g/{term}"])) and float(r[f"g/{term}"]) > 0 for r in rows
               for term in ("keypoints", "timing"))

    # Best of many: per clip, the draw closest to the true joints (here: closer than the one it started from).
    objective, nets = trainer.objective, trainer.nets
    with torch.no_grad():
        nets["generator"].head.weight.normal_(0, 0.05)  # draws that differ
    raw = torch.utils.data.default_collate([trainer.dataset[i] for i in range(4)])
    batch = objective.prepare(raw, trainer.device)
    fakes = objective.generate(nets, batch)  # a keypoint-space generator: all draws in one batch
    assert fakes["draws"].shape[:2] == (4, 3)
    torch.testing.assert_close(fakes["draws"][:, :, 0], batch["joints"][:, None, 0].expand(-1, 3, -1, -1))
    _, best = objective.closest_of(nets, batch, fakes)

    def error(joints):
        return (joints[..., :2] - batch["joints"][..., :2]).abs().sum((1, 2, 3))

    errors = torch.stack([error(fakes["draws"][:, n]) for n in range(3)], dim=1)  # [B, N]
    torch.testing.assert_close(error(best), errors.min(dim=1).values)
    assert (error(best) < error(fakes["joints"]) - 1e-3).any()

    # The draws run without a graph and the closest is drawn again: the generator's gradient is the one of
    # all draws run with their graphs and the closest kept.
    generator = nets["generator"]
    assert not fakes["draws"].requires_grad and fakes["noise"].shape == (4, 3, generator.noise_dim)
    generator.zero_grad()
    _, best = objective.closest_of(nets, batch, fakes)
    best[..., :2].sum().backward()
    cheap = [p.grad.clone() for p in generator.parameters()]
    generator.zero_grad()
    noise = fakes["noise"].transpose(0, 1).flatten(0, 1)  # [N * B, Z], draw-major
    joints = generator.keypoint_sequence(batch["joints"][:, 0].repeat(3, 1, 1), batch["label"].repeat(3), noise,
                                         size=(objective.heatmap_resolution,) * 2)
    joints = joints.view(3, 4, *joints.shape[1:]).transpose(0, 1)  # [B, N, T, K, 3], every draw with its graph
    joints[torch.arange(4), errors.argmin(dim=1)][..., :2].sum().backward()
    for got, expected in zip(cheap, (p.grad for p in generator.parameters()), strict=True):
        # gradients of ~1-300; the head's bias has none in exact arithmetic (frame 0 is subtracted): ~1e-5 of noise
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert any(g.abs().sum() > 0 for g in cheap)


def test_heatmap_generator_best_of_draws_again_and_keeps_the_closest(tmp_path):
    trainer = tiny_trainer(tmp_path, "objective.params={best_of = 3}")
    objective, nets = trainer.objective, trainer.nets
    raw = torch.utils.data.default_collate([trainer.dataset[i] for i in range(4)])
    batch = objective.prepare(raw, trainer.device)
    fakes = objective.generate(nets, batch)
    best, joints = objective.closest_of(nets, batch, fakes)
    assert best.shape == fakes["sequence"].shape and joints is None

    def error(sequence):
        fake = soft_keypoints(sequence.transpose(1, 2))[..., :2]
        return (fake - batch["joints"][..., :2]).abs().sum((1, 2, 3))

    assert (error(best) <= error(fakes["sequence"]) + 1e-4).all()


def test_psgan_without_a_discriminator_when_the_adversarial_term_is_off(tmp_path):
    keypoint_space = ('generators.generator.name="psgan-keypoints"',
                      "generators.generator.params={hidden = 16, class_dim = 4, temporal_blocks = 1}",
                      "discriminators={}", "losses.reconstruction.weight=0", "losses.keypoints.weight=1")
    trainer = tiny_trainer(tmp_path, *keypoint_space, "losses.adversarial.weight=0")
    assert set(trainer.nets) == {"generator"}
    result = trainer.fit()
    assert result.step == 4 and set(checkpoint.load(checkpoint.latest(tmp_path / "run"))["nets"]) == {"generator"}
    with pytest.raises(ConfigError, match=r"missing \[discriminators.discriminator\].*adversarial") as error:
        tiny_trainer(tmp_path, *keypoint_space, run="other")
    assert error.value.path == "discriminators.discriminator"


def test_cosine_schedule_sets_each_steps_learning_rate_and_resumes_exactly(tmp_path):
    trainer = tiny_trainer(tmp_path, "trainer.lr_schedule=\"cosine\"", "trainer.steps=4")
    base = trainer.config.generators["generator"].lr
    seen = []
    original = trainer.train_step

    def recording(raw):
        seen.append(trainer.optimizers["generator"].param_groups[0]["lr"])
        return original(raw)

    trainer.train_step = recording
    trainer.fit()
    assert seen == pytest.approx([base * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)])
    with pytest.raises(ConfigError, match="lr_schedule must be one of constant, cosine"):
        tiny_trainer(tmp_path, "trainer.lr_schedule=\"linear\"", run="bad")


def test_stage_one_for_stage_two_starts_from_the_given_pose_exactly(tmp_path):
    trainer = tiny_trainer(tmp_path, 'generators.generator.name="psgan-keypoints"',
                           "generators.generator.params={hidden = 16, class_dim = 4, temporal_blocks = 1}",
                           "losses.reconstruction.weight=0", "losses.keypoints.weight=1")
    first = torch.utils.data.default_collate([trainer.dataset[i] for i in range(3)])["keypoints"][:, 0]
    first[0, 4, 2] = 0  # a missing wrist stays missing
    with torch.no_grad():
        trainer.nets["generator"].head.weight.normal_(0, 0.05)
        poses = trainer.objective.generate_keypoints(trainer.nets, first, torch.tensor([0, 1, 2]))
    assert poses.shape == (3, 4, 18, 3)
    torch.testing.assert_close(poses[:, 0, :, :2], first[..., :2], atol=1e-4, rtol=0)  # exact: no heatmaps
    assert (poses[0, :, 4, 2] == 0).all() and (poses[:, 1:, :, :2] - poses[:, :1, :, :2]).abs().amax() > 0.1


def test_a_run_that_evaluates_during_training_resumes_exactly(tmp_path):
    """The pose-action metric loads a classifier run when it is built (at every evaluation): loading a run
    must leave the training's random streams as they were, or a resumed run would draw other noise."""
    from tiny import TINY_CLASSIFIER

    classifier = Trainer(load_config(write_config(tmp_path, TINY_CLASSIFIER, "classifier.toml")),
                         tmp_path / "classifier", progress=False)
    classifier.fit()
    evaluating = ("trainer.eval_every=1", "trainer.eval_clips=3",
                  f'metrics=[{{name="pose-action", params={{classifier="{tmp_path / "classifier"}"}}}}]')
    straight = tiny_trainer(tmp_path, *evaluating, run="straight")
    straight.fit()
    tiny_trainer(tmp_path, *evaluating, "trainer.steps=2", run="resumed").fit()
    resumed = Trainer.resume(tmp_path / "resumed", ("trainer.steps=4",), progress=False)
    resumed.fit()
    for role in ("generator", "discriminator"):
        for (name, a), b in zip(straight.nets[role].state_dict().items(), resumed.nets[role].state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{role}.{name} differs after resume")


def test_read_metrics_keeps_the_last_row_of_each_step_and_the_cli_exports_csv(tmp_path):
    import json

    from click.testing import CliRunner

    from pgvg_core.cli import main

    run = tmp_path / "run"
    run.mkdir()
    lines = [{"step": 1, "g/l1": 3.0}, {"step": 2, "g/l1": 2.0}, {"step": 2, "g/l1": 1.5, "d/gan": 0.7}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in lines))  # step 2 logged twice
    assert read_metrics(run) == [{"step": 1, "g/l1": 3.0}, {"step": 2, "g/l1": 1.5, "d/gan": 0.7}]
    result = CliRunner().invoke(main, ["metrics", str(run), "--csv", str(tmp_path / "m.csv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.csv").read_text().splitlines() == ["step,g/l1,d/gan", "1,3.0,", "2,1.5,0.7"]
    missing = CliRunner().invoke(main, ["metrics", str(tmp_path)])
    assert missing.exit_code == 2 and "no metrics.jsonl" in missing.output


class CrashAfter(Callback):
    """Stops a run like a crash would, right after the loop's own callbacks (the checkpoint included)."""

    name = "crash"

    def __init__(self, step):
        self.step = step

    def after_step(self, trainer, logged):
        if trainer.step == self.step:
            raise KeyboardInterrupt


def test_a_log_window_half_filled_at_a_checkpoint_is_logged_exactly_after_resume(tmp_path):
    cadence = ("trainer.steps=6", "trainer.log_every=3", "trainer.sample_every=100", "trainer.keep_checkpoints=5")
    straight = tiny_trainer(tmp_path, *cadence, run="straight")
    straight.fit()
    crashed = Trainer(load_config(write_config(tmp_path, TINY_PSGAN), cadence), tmp_path / "crashed",
                      progress=False, callbacks=[CrashAfter(4)])
    with pytest.raises(KeyboardInterrupt):
        crashed.fit()  # logged step 3; step 4 is checkpointed but not logged yet
    assert checkpoint.load(checkpoint.latest(tmp_path / "crashed"))["callbacks"]["log"]["window"]
    Trainer.resume(tmp_path / "crashed", progress=False).fit()
    without_rate = lambda rows: [{k: v for k, v in r.items() if k != "it_per_s"} for r in rows]  # noqa: E731
    assert [r["step"] for r in read_metrics(tmp_path / "crashed")] == [3, 6]
    assert without_rate(read_metrics(tmp_path / "crashed")) == without_rate(read_metrics(tmp_path / "straight"))


def test_callbacks_need_unique_names(tmp_path):
    config = load_config(write_config(tmp_path, TINY_PSGAN))
    with pytest.raises(PgvgError, match="unique, non-empty names"):
        Trainer(config, tmp_path / "run", progress=False, callbacks=[CrashAfter(1), CrashAfter(2)])


def test_building_an_experiment_changes_no_random_stream_and_its_weights_come_from_the_seed(tmp_path):
    config = load_config(write_config(tmp_path, TINY_PSGAN))
    streams = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    first = Experiment.build(config, device=torch.device("cpu"))
    assert random.getstate() == streams[0]
    assert (np.random.get_state()[1] == streams[1]).all() and torch.equal(torch.get_rng_state(), streams[2])
    torch.rand(100), np.random.rand(7), random.random()  # whatever the caller drew before
    second = Experiment.build(config, device=torch.device("cpu"))
    for (name, a), b in zip(first.nets.state_dict().items(), second.nets.state_dict().values()):
        assert torch.equal(a, b), name
    other = Experiment.build(attrs.evolve(config, experiment=attrs.evolve(config.experiment, seed=8)),
                             device=torch.device("cpu"))
    assert not torch.equal(next(first.nets.parameters()), next(other.nets.parameters()))
