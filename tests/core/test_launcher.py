"""``pgvg bench --launcher local``: real jobs through submitit's local executor — two runs at once, a run
preempted (submitit's SIGUSR2, as Slurm sends it) and requeued that ends with an uninterrupted run's weights,
a run that fails and is retried, one that fails for good — and ``pgvg bench status``."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from core.test_kill_resume import assert_bitwise_equal

from pgvg_core.cli import main
from pgvg_core.leaderboard.results import ResultsDatabase, result_files
from pgvg_core.leaderboard.tracking import logged_step
from pgvg_core.training import checkpoint

TOOLS = Path(__file__).resolve().parents[1] / "tools"
LONGER = ("--set", "trainer.steps=160", "--set", "trainer.checkpoint_every=40")


def bench(tmp_path, *args, env=None, out="runs", db="db.sqlite"):
    """``pgvg bench smoke`` in a process of its own (the launcher's jobs outlive a CliRunner call), on one thread
    as each of the launcher's jobs here (2 cores, 2 jobs at once): the same arithmetic, bit for bit."""
    command = [sys.executable, "-m", "pgvg_core.cli", "bench", "smoke", "--out", str(tmp_path / out),
               "--db", str(tmp_path / db), "--no-progress", *args]
    return subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(process, timeout=240):
    output = process.communicate(timeout=timeout)[0]
    return process.returncode, output


def status_of(run_dir):
    return json.loads(Path(f"{run_dir}.job.json").read_text())


def test_two_runs_at_once_store_what_the_sequential_runs_store(tmp_path):
    code, output = finished(bench(tmp_path, "--seeds", "1", "--launcher", "local", "--max-parallel", "2"))
    assert code == 0, output
    assert "2/2 done" in output and "2 result(s) stored" in output
    runs = tmp_path / "runs" / "smoke"
    statuses = [status_of(runs / method / "seed-0") for method in ("scgan", "pix2pix")]
    assert all(s["state"] == "done" and s["attempt"] == 1 for s in statuses)
    # Both jobs ran at once: each started before the other ended.
    assert statuses[0]["started"] < statuses[1]["updated"] and statuses[1]["started"] < statuses[0]["updated"]
    assert (runs / "scgan" / "seed-0.log").read_text().count("attempt 1 of 2") == 1

    code, output = finished(bench(tmp_path, "--seeds", "1", out="sequential", db="sequential.sqlite"))
    assert code == 0, output
    with ResultsDatabase(tmp_path / "db.sqlite") as db, ResultsDatabase(tmp_path / "sequential.sqlite") as reference:
        ours = {r.method: r for r in db.results("smoke")}
        theirs = {r.method: r for r in reference.results("smoke")}
    assert ours.keys() == theirs.keys() == {"scgan", "pix2pix"}
    for method in ours:  # the same training, so the same weights and the same numbers
        assert ours[method].metrics == theirs[method].metrics
        assert_bitwise_equal(checkpoint.load(checkpoint.latest(runs / method / "seed-0"))["nets"],
                             checkpoint.load(checkpoint.latest(tmp_path / "sequential/smoke" / method / "seed-0"))["nets"],
                             method)

    shown = CliRunner().invoke(main, ["bench", "status", str(tmp_path / "runs")])
    assert shown.exit_code == 0, shown.output
    assert "2/2 done" in shown.output and shown.output.count(" done ") == 2

    again = bench(tmp_path, "--seeds", "1", "--launcher", "local")  # nothing left to do: nothing submitted
    code, output = finished(again)
    assert code == 0 and "2/2 done" in output and "queued" not in output, output


def wait_for_step(run_dir, step, timeout=120):
    """Until the run has logged ``step`` (fails with the end of its job's log after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if logged_step(run_dir)[0] >= step:
            return
        time.sleep(0.05)
    log = Path(f"{run_dir}.log")
    pytest.fail(f"{run_dir} did not reach step {step}: {log.read_text()[-2000:] if log.exists() else 'no log'}")


def test_a_preempted_job_and_a_killed_one_resume_and_end_with_the_uninterrupted_weights(tmp_path):
    process = bench(tmp_path, "--methods", "scgan", "--seeds", "1", "--launcher", "local", *LONGER)
    run_dir = tmp_path / "runs" / "smoke" / "scgan" / "seed-0"
    wait_for_step(run_dir, 50)
    os.kill(status_of(run_dir)["pid"], signal.SIGUSR2)  # what Slurm sends before preempting or timing out
    wait_for_step(run_dir, 100)  # requeued by submitit: the same job started again
    while status_of(run_dir)["pid"] is None:
        time.sleep(0.05)
    os.kill(status_of(run_dir)["pid"], signal.SIGKILL)  # the job killed outright (OOM killer, a lost node)
    code, output = finished(process)
    assert code == 0, output
    status = status_of(run_dir)
    assert status["state"] == "done" and status["requeues"] == 1
    log = Path(f"{run_dir}.log").read_text()
    assert log.count("attempt 1 of 2") == 3, log  # started three times: requeued, resubmitted, not retried
    assert log.count("SIGTERM received: stopped after step") == 1  # the preempted child checkpointed at a step
    assert len({line.split()[4] for line in log.splitlines() if line.startswith("===")}) == 2  # a second job

    assert_as_if_never_stopped(tmp_path, run_dir, LONGER)


def assert_as_if_never_stopped(tmp_path, run_dir, settings):
    """The run (scgan, seed 0) ends with the weights of the same run trained without a stop, bit for bit, and
    stores one result (nothing lost, nothing twice) with its numbers."""
    code, output = finished(bench(tmp_path, "--methods", "scgan", "--seeds", "1", *settings, out="reference",
                                  db="reference.sqlite"))
    assert code == 0, output
    ours = checkpoint.load(checkpoint.latest(run_dir))
    theirs = checkpoint.load(checkpoint.latest(tmp_path / "reference" / "smoke" / "scgan" / "seed-0"))
    assert ours["step"] == theirs["step"]
    for part in ("nets", "optimizers", "rng"):
        assert_bitwise_equal(ours[part], theirs[part], part)
    assert len(result_files([run_dir])) == 1
    with ResultsDatabase(tmp_path / "db.sqlite") as db, ResultsDatabase(tmp_path / "reference.sqlite") as reference:
        assert [r.metrics for r in db.results("smoke")] == [r.metrics for r in reference.results("smoke")]


def test_a_failing_job_is_retried_and_one_that_keeps_failing_is_shown_with_its_error(tmp_path):
    flaky = {"PGVG_JOB_PYTHON": f"{sys.executable} {TOOLS / 'flaky_python.py'}",
             "PGVG_TEST_FAILURE_COUNT": str(tmp_path / "failures"), "PGVG_TEST_FAILURES": "1"}
    code, output = finished(bench(tmp_path, "--methods", "pix2pix", "--seeds", "1", "--launcher", "local",
                                  "--retries", "1", env=flaky))
    assert code == 0, output
    run_dir = tmp_path / "runs" / "smoke" / "pix2pix" / "seed-0"
    assert status_of(run_dir)["state"] == "done" and status_of(run_dir)["attempt"] == 2
    assert "failure 1 on purpose" in Path(f"{run_dir}.log").read_text()

    always = {**flaky, "PGVG_TEST_FAILURE_COUNT": str(tmp_path / "more-failures"), "PGVG_TEST_FAILURES": "9"}
    code, output = finished(bench(tmp_path, "--methods", "scgan", "--seeds", "1", "--launcher", "local",
                                  "--retries", "1", env=always))
    assert code == 1, output
    assert "failed" in output and "failure 2 on purpose" in output  # the end of its log, below its row
    assert (tmp_path / "more-failures").read_text() == "2"  # tried twice, no more
    shown = CliRunner().invoke(main, ["bench", "status", str(tmp_path / "runs")])
    assert "scgan, seed 0" in shown.output and "failed" in shown.output and "failure 2 on purpose" in shown.output
    assert "pix2pix, seed 0" in shown.output and "1/2 done" in shown.output


def test_launcher_options_refuse_what_cannot_work(tmp_path):
    runner = CliRunner()
    for args, said in ((["--wait"], "only with --launcher"), (["--partition", "gpu"], "only with --launcher"),
                       (["--launcher", "local", "--nproc", "2"], "--gpus-per-run"),
                       (["--launcher", "local", "--slurm", "qos"], "KEY=VALUE"),
                       (["--launcher", "local", "--methods", "nope"], "has no method nope")):
        result = runner.invoke(main, ["bench", "smoke", "--out", str(tmp_path), *args])
        assert result.exit_code == 2 and said in result.output, (args, result.output)
    missing = runner.invoke(main, ["bench", "status", str(tmp_path)])
    assert missing.exit_code == 2 and "no jobs launched into" in missing.output
