"""Several training processes (torch.distributed.run, gloo on the CPU) train what one process trains: the
global batch split across them, per-sample noise, gradients averaged, process 0 writing the run folder."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from tiny import TINY_PSGAN, TINY_SCGAN, write_config

from pgvg_core.training import checkpoint

STEPS = ("--set", "trainer.steps=4", "--set", "trainer.batch_size=4", "--set", "trainer.checkpoint_every=2",
         "--set", "trainer.keep_checkpoints=5")


def pgvg(*args, launcher=()):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, *(launcher or ["-m", "pgvg_core.cli"]), *args, "--no-progress"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def torchrun(*options):
    return ["-m", "torch.distributed.run", *options, "-m", "pgvg_core.cli"]


def weights(run_dir, step=4):
    return torch.load(checkpoint.checkpoint_path(run_dir, step), weights_only=True)


def assert_same_training(a, b):
    """Two checkpoints' weights agree up to the order of float sums (bitwise with one process).

    Adam turns that rounding into up to +-lr per step where a gradient is rounding itself: the tiny PSGAN's
    residual blocks, instance-normed at 2x2, differ by up to 4e-4 after 4 steps. Gradients not averaged, or
    batches split wrongly, would move every weight apart: the mean difference catches them.
    """
    difference = torch.cat([(x - y).abs().flatten() for role in a["nets"]
                            for x, y in zip(a["nets"][role].values(), b["nets"][role].values())
                            if x.is_floating_point()])
    assert difference.mean() < 1e-5 and difference.max() < 1e-3, (difference.mean(), difference.max())


def rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# Keypoint-space PSGAN, best of 3: draws without a graph, the closest drawn again and draw 0 for the discriminator.
BEST_OF_KEYPOINTS = ("--set", 'generators.generator.name="psgan-keypoints"',
                     "--set", "generators.generator.params={hidden = 16, class_dim = 4, temporal_blocks = 1}",
                     "--set", "losses.keypoints.weight=10", "--set", "losses.reconstruction.weight=0",
                     "--set", "objective.params={best_of = 3}")


@pytest.mark.parametrize("text, overrides", [(TINY_PSGAN, ()), (TINY_PSGAN, BEST_OF_KEYPOINTS), (TINY_SCGAN, ())],
                         ids=["psgan", "psgan-keypoints-best-of-3", "scgan"])
def test_two_processes_train_what_one_process_trains(tmp_path, text, overrides):
    config = write_config(tmp_path, text)
    pgvg("run", str(config), "--out", str(tmp_path / "one"), *STEPS, *overrides)
    output = pgvg("run", str(config), "--out", str(tmp_path / "two"), "--nproc", "2", *STEPS, *overrides)
    assert "process 1 of 2 (gloo)" in output
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert_same_training(one, two)
    for a, b in zip(rows(tmp_path / "one"), rows(tmp_path / "two"), strict=True):  # one row per step, by process 0
        assert a["step"] == b["step"]
        for key in a:
            if "/" in key:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key


def test_a_run_resumed_with_another_number_of_processes_continues_the_same_run(tmp_path):
    config = write_config(tmp_path, TINY_PSGAN)
    pgvg("run", str(config), "--out", str(tmp_path / "straight"), *STEPS)
    pgvg("run", str(config), "--out", str(tmp_path / "mixed"), "--nproc", "2", *STEPS[:-4], "--set",
         "trainer.steps=2")
    output = pgvg("run", "--resume", str(tmp_path / "mixed"), "--set", "trainer.steps=4")
    assert "with 1 process(es) where the run had 2" in output
    assert_same_training(weights(tmp_path / "straight"), weights(tmp_path / "mixed"))
    assert [r["step"] for r in rows(tmp_path / "mixed")] == [1, 2, 3, 4]


def test_a_global_batch_that_does_not_split_evenly_is_a_config_error(tmp_path):
    config = write_config(tmp_path, TINY_PSGAN)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "pgvg_core.cli", "run", str(config), "--out", str(tmp_path / "r"),
                           "--nproc", "2", "--set", "trainer.batch_size=3"], env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode != 0
    assert "at 'trainer.batch_size': trainer.batch_size 3 is the global batch: it must split evenly over the 2 " \
           "processes" in done.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_on_one_machine_train_what_one_process_trains(tmp_path):
    config = write_config(tmp_path, TINY_PSGAN)
    pgvg("run", str(config), "--out", str(tmp_path / "one"), *STEPS)
    endpoint = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen([sys.executable, *torchrun("--nnodes=2", f"--node-rank={rank}", "--nproc-per-node=1",
                                                         "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
                                                         "--rdzv-id=pgvg-test"),
                               "run", str(config), "--out", str(tmp_path / "two-nodes"), *STEPS, "--no-progress"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in (0, 1)]
    outputs = [node.communicate(timeout=240)[0] for node in nodes]
    assert all(node.returncode == 0 for node in nodes), outputs
    assert_same_training(weights(tmp_path / "one"), weights(tmp_path / "two-nodes"))


def test_a_bench_on_two_processes_trains_each_run_on_both_and_stores_one_result(tmp_path):
    from pgvg_core.leaderboard.results import ResultsDatabase

    out = pgvg("bench", "smoke", "--methods", "scgan", "--seeds", "1", "--nproc", "2", "--out", str(tmp_path / "runs"),
               "--db", str(tmp_path / "db.sqlite"))
    assert out.count("[1/1] smoke: scgan, seed 0") == 1 and "1 results stored" in out  # process 0 reports
    run_dir = tmp_path / "runs" / "smoke" / "scgan" / "seed-0"
    assert torch.load(checkpoint.latest(run_dir), weights_only=True)["world_size"] == 2
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        (row,) = db.results("smoke")
    assert row.steps == 4 and 0 < row.metrics["ssim"]["ssim"] <= 1
