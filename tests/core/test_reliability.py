"""Runs that stop the hard way: preemption signals, checkpoints that do not load, files crafted to run code."""

import json
import os
import signal

import pytest
import torch
from click.testing import CliRunner
from tiny import TINY_PSGAN, write_config

from pgvg_core.cli import main
from pgvg_core.config import load_config
from pgvg_core.errors import CheckpointError, Preempted
from pgvg_core.training import checkpoint
from pgvg_core.training.callbacks import Callback
from pgvg_core.training.run import read_metrics
from pgvg_core.training.trainer import Trainer

CADENCE = ("trainer.steps=6", "trainer.log_every=1", "trainer.checkpoint_every=4", "trainer.sample_every=100",
           "trainer.keep_checkpoints=5")


class SignalAt(Callback):
    """Sends this process ``signum`` after step ``step``, as a scheduler or a Ctrl-C would."""

    name = "signal"

    def __init__(self, step, signum):
        self.step, self.signum = step, signum

    def after_step(self, trainer, logged):
        if trainer.step == self.step:
            os.kill(os.getpid(), self.signum)


def trained(tmp_path, run, *callbacks, overrides=CADENCE):
    config = load_config(write_config(tmp_path, TINY_PSGAN), overrides)
    return Trainer(config, tmp_path / run, progress=False, callbacks=list(callbacks))


def same_weights(a, b):
    for role in a.nets:
        for (name, x), y in zip(a.nets[role].state_dict().items(), b.nets[role].state_dict().values()):
            assert torch.equal(x, y), f"{role}.{name}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_at_a_step_boundary_with_a_checkpoint_and_resumes_exactly(tmp_path, signum):
    straight = trained(tmp_path, "straight")
    straight.fit()
    previous = signal.getsignal(signum)
    with pytest.raises(Preempted) as stopped:
        trained(tmp_path, "stopped", SignalAt(3, signum)).fit()
    assert signal.getsignal(signum) is previous  # the loop's handler is gone with it
    assert stopped.value.exit_code == 128 + signum and stopped.value.step == 3
    assert checkpoint.load(checkpoint.latest(tmp_path / "stopped"))["step"] == 3  # between the cadence's 0 and 4
    resumed = Trainer.resume(tmp_path / "stopped", progress=False)
    resumed.fit()
    same_weights(straight, resumed)
    rows = (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1, 2, 3, 4, 5, 6]


def test_the_cli_exits_like_the_signal_and_says_how_to_continue(tmp_path):
    config = write_config(tmp_path, TINY_PSGAN)
    original = Trainer.__init__

    def with_signal(self, *args, **kwargs):
        original(self, *args, **kwargs, callbacks=[SignalAt(2, signal.SIGTERM)])

    Trainer.__init__ = with_signal
    try:
        result = CliRunner().invoke(main, ["run", str(config), "--out", str(tmp_path / "r"), "--no-progress"])
    finally:
        Trainer.__init__ = original
    assert result.exit_code == 143, result.output
    assert "SIGTERM received: stopped after step 2" in result.output and f"--resume {tmp_path / 'r'}" in result.output


def test_rows_logged_after_the_last_checkpoint_are_logged_once_after_resume(tmp_path):
    run = trained(tmp_path, "run", overrides=(*CADENCE[:-1], "trainer.steps=5"))
    run.fit()  # checkpoints at 4 and 5
    (tmp_path / "run" / "checkpoints" / "step-0000005.pt").unlink()  # as if killed after logging step 5
    Trainer.resume(tmp_path / "run", ("trainer.steps=6",), progress=False).fit()
    steps = [json.loads(r)["step"] for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_file_crafted_to_run_code_is_refused_and_nothing_of_it_runs(tmp_path):
    marker = tmp_path / "it-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = checkpoint.checkpoint_path(tmp_path / "run", 5)
    path.parent.mkdir(parents=True)
    torch.save({"step": 5, "nets": {}, "payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="refused: it holds Python objects.*none of it ran"):
        checkpoint.load(path)
    result = CliRunner().invoke(main, ["run", "--resume", str(tmp_path / "run")])
    assert result.exit_code == 2 and "refused" in result.output and "Traceback" not in result.output
    assert not marker.exists()


def test_a_damaged_latest_checkpoint_names_the_one_before_and_from_resumes_there(tmp_path):
    straight = trained(tmp_path, "straight", overrides=(*CADENCE[:2], "trainer.checkpoint_every=2",
                                                          *CADENCE[3:]))
    straight.fit()
    run = tmp_path / "run"
    trained(tmp_path, "run", overrides=(*CADENCE[:2], "trainer.checkpoint_every=2", *CADENCE[3:])).fit()
    damaged = checkpoint.checkpoint_path(run, 6)
    damaged.write_bytes(damaged.read_bytes()[:1000])  # truncated, as by a full disk
    result = CliRunner().invoke(main, ["run", "--resume", str(run)])
    assert result.exit_code == 2, result.output
    assert "step-0000006.pt: cannot load checkpoint" in result.output
    assert f"pgvg run --resume {run} --from step-0000004.pt" in result.output
    result = CliRunner().invoke(main, ["run", "--resume", str(run), "--from", "step-0000004.pt", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (run / "checkpoints" / "step-0000006.pt.set-aside").exists()  # kept, but never picked up again
    resumed = Trainer.resume(run, progress=False)
    same_weights(straight, resumed)
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4, 5, 6]
    missing = CliRunner().invoke(main, ["run", "--resume", str(run), "--from", "step-0000099.pt"])
    assert missing.exit_code == 2 and "no such checkpoint" in missing.output and "step-0000004.pt" in missing.output


def test_a_write_that_never_finished_is_cleaned_up_on_resume(tmp_path):
    trained(tmp_path, "run", overrides=(*CADENCE[:2], "trainer.steps=4")).fit()
    stale = tmp_path / "run" / "checkpoints" / ".step-0000006.ptabc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    Trainer.resume(tmp_path / "run", ("trainer.steps=5",), progress=False).fit()
    assert not stale.exists()


def test_a_full_disk_during_a_checkpoint_write_keeps_the_last_good_one(tmp_path, monkeypatch):
    import errno

    run = trained(tmp_path, "run")
    real_save = torch.save

    def full_disk(state, file):
        if state["step"] == 6:
            file.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(state, file)

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(CheckpointError, match=r"step-0000006.pt: cannot write the checkpoint \(No space left on "
                                              r"device\); nothing was replaced, the last good checkpoint is "
                                              r".*step-0000004.pt; free space"):
        run.fit()
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "run")] == ["step-0000004.pt"]
    assert checkpoint.load(checkpoint.latest(tmp_path / "run"))["step"] == 4  # intact
    assert not checkpoint.stale_writes(tmp_path / "run")


def test_a_batch_with_nan_stops_before_the_weights_and_names_the_clips(tmp_path, monkeypatch):
    run = trained(tmp_path, "run")
    dataset = run.dataset
    original = type(dataset).__getitem__

    def poisoned(self, index):
        item = original(self, index)
        if index == 5:
            item["keypoints"][2, 3, 0] = float("nan")
        return item

    monkeypatch.setattr(type(dataset), "__getitem__", poisoned)
    from pgvg_core.training.batches import StepBatchSampler
    from pgvg_core.training.trainer import TrainingError

    sampler = StepBatchSampler(len(dataset), 2, 7, 0, 6)
    step = next(s for s in range(6) if 5 in sampler.batch(s))
    with pytest.raises(TrainingError, match=rf"step {step + 1}: the batch holds NaN or infinite values in "
                                            rf"keypoints \(dataset 'synthetic-actions', clips 5\)"):
        run.fit()
    assert run.step == step  # stopped before that step touched the weights


def test_a_plugin_that_raises_mid_training_is_said_with_what_survives(tmp_path, caplog):
    run = trained(tmp_path, "run")
    original = run.objective.generator_terms

    def broken(nets, batch, fakes):
        if run.step == 4:
            raise RuntimeError("a bug in a plugin")
        return original(nets, batch, fakes)

    run.objective.generator_terms = broken
    with caplog.at_level("ERROR"), pytest.raises(RuntimeError, match="a bug in a plugin"):
        run.fit()
    assert "step 5: training stopped by RuntimeError: a bug in a plugin; the last good checkpoint is" in caplog.text
    assert checkpoint.load(checkpoint.latest(tmp_path / "run"))["step"] == 4
