"""torchtitan's pattern: a reference run, and the same run killed with SIGKILL again and again (at random
moments, during a checkpoint write, during an evaluation), resumed with ``pgvg run --resume`` each time
until done. Every weight, optimiser state and logged loss must equal the reference's, bit for bit."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny import TINY_PSGAN, write_config

from pgvg_core.training import checkpoint

KILLABLE = Path(__file__).resolve().parents[1] / "tools" / "killable_run.py"
STEPS = 24

# tiny.py's PSGAN, as a long run would be set up: bf16, a loader worker, evaluation every 3 steps.
SETTINGS = ("trainer.steps=24", 'trainer.precision="bf16"', "trainer.num_workers=1", "trainer.sample_every=100",
            "trainer.keep_checkpoints=2", "trainer.eval_every=3", "trainer.eval_clips=4",
            'metrics=[{name = "slow-probe"}]')


def start(args, markers):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PGVG_TEST_MARKERS": str(markers),
           "PGVG_TEST_EVAL_SECONDS": "0.2", "PGVG_TEST_WRITE_SECONDS": "0.2"}
    for marker in markers.iterdir():
        marker.unlink()
    return subprocess.Popen([sys.executable, str(KILLABLE), *args, "--no-progress"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def logged_steps(run_dir):
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["step"] for line in lines if line.strip().endswith("}")]


def kill_when(process, markers, moment, rng, run_dir):
    """SIGKILL ``process`` at ``moment``: "checkpoint" (mid-write), "evaluation" (mid-evaluation) or "random"
    (a few milliseconds after a step chosen at random); False if it finished first."""
    wanted = {"checkpoint": "writing", "evaluation": "evaluating"}.get(moment)
    done = max(logged_steps(run_dir), default=0)
    target = rng.randint(done + 1, STEPS - 1) if moment == "random" and done + 1 < STEPS else None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if wanted and (markers / wanted).exists():
            break
        if target is not None and target in logged_steps(run_dir):
            time.sleep(rng.uniform(0, 0.05))
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def final_state(run_dir):
    return checkpoint.load(checkpoint.latest(run_dir))


def logged(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "it_per_s"} for row in rows]


def assert_bitwise_equal(a, b, where):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_bitwise_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_bitwise_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.slow
@pytest.mark.parametrize("trial", [0, 1, 2])
def test_runs_killed_at_random_moments_and_resumed_end_bit_exact(tmp_path, trial):
    config = write_config(tmp_path, TINY_PSGAN, "kill.toml")
    overrides = [arg for setting in SETTINGS for arg in ("--set", setting)]
    markers = tmp_path / "markers"
    markers.mkdir()
    reference = start(["run", str(config), "--out", str(tmp_path / "reference"), *overrides], markers)
    assert reference.wait() == 0, reference.stdout.read()

    rng = random.Random(trial)
    run_dir = tmp_path / "killed"
    moments = ["checkpoint", "random", "evaluation", "random", "checkpoint", "random", "evaluation", "random"]
    kills, trials = [], 0
    args = ["run", str(config), "--out", str(run_dir), *overrides]
    while True:
        trials += 1
        assert trials < 30, f"not finished after {trials} starts"
        moment = moments[len(kills)] if len(kills) < len(moments) else None
        process = start(args, markers)
        if moment and kill_when(process, markers, moment, rng, run_dir):
            step = checkpoint.load(checkpoint.latest(run_dir))["step"] if checkpoint.list_checkpoints(run_dir) else 0
            kills.append((moment, step))
        else:
            output = process.communicate()[0]
            assert process.returncode == 0, output
            break
        if checkpoint.list_checkpoints(run_dir):
            args = ["run", "--resume", str(run_dir)]
    print(f"{trials} starts, {len(kills)} kills: {kills}")
    assert {moment for moment, _ in kills} == {"checkpoint", "evaluation", "random"}

    ours, theirs = final_state(run_dir), final_state(tmp_path / "reference")
    assert ours["step"] == theirs["step"] == STEPS
    for part in ("nets", "optimizers", "scaler", "rng", "callbacks"):
        assert_bitwise_equal(ours[part], theirs[part], part)
    assert logged(run_dir) == logged(tmp_path / "reference")  # every step once, the same losses
    evaluation = [json.loads((folder / "metrics.json").read_text()) for folder in (run_dir, tmp_path / "reference")]
    assert evaluation[0]["metrics"] == evaluation[1]["metrics"]
    assert not checkpoint.stale_writes(run_dir)
