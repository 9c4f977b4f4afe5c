"""``pgvg bench --launcher slurm`` and ``pgvg run --launcher slurm`` under a real Slurm on this machine (Debian's
slurm-wlm: slurmctld, slurmd and munged on localhost, started by tests/slurm/start.sh; skipped with its reason
where that cannot run — it needs root, and apt-get where Slurm is not installed). Slow: minutes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from core.test_launcher import assert_as_if_never_stopped, bench, finished, wait_for_step

from pgvg_core.training import checkpoint

pytestmark = pytest.mark.slow
SLURM = Path(__file__).resolve().parents[1] / "slurm"
FOLDER = "/tmp/pgvg-slurm-test"
LONGER = ("--set", "trainer.steps=200", "--set", "trainer.checkpoint_every=40")


@pytest.fixture(scope="module")
def slurm():
    started = subprocess.run(["bash", str(SLURM / "start.sh"), FOLDER], capture_output=True, text=True)
    if started.returncode == 77:
        pytest.skip(started.stderr.strip().splitlines()[-1])
    assert started.returncode == 0, started.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = f"{FOLDER}/slurm.conf"
    yield os.environ["SLURM_CONF"]
    subprocess.run(["bash", str(SLURM / "stop.sh"), FOLDER], capture_output=True)
    if previous is None:
        os.environ.pop("SLURM_CONF")
    else:
        os.environ["SLURM_CONF"] = previous


def squeue(job_id):
    shown = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True)
    return shown.stdout.strip().lower()


def job_of(run_dir, out):
    record = json.loads((out / "smoke" / "jobs.json").read_text())
    return record["jobs"][str(run_dir)]["job_id"]


def test_the_smoke_suite_runs_as_slurm_jobs(slurm, tmp_path):
    code, output = finished(bench(tmp_path, "--launcher", "slurm", "--max-parallel", "2", "--slurm",
                                  "cpus_per_task=1", "--time", "30", "--wait"), timeout=600)
    print(output)
    assert code == 0, output
    assert "4/4 done" in output and "4 result(s) stored" in output
    statuses = [json.loads(path.read_text()) for path in (tmp_path / "runs" / "smoke").glob("*/seed-*.job.json")]
    assert len(statuses) == 4 and all(s["state"] == "done" for s in statuses)
    assert {s["job_id"].split("_")[0] for s in statuses} == {statuses[0]["job_id"].split("_")[0]}  # one array
    shown = subprocess.run([sys.executable, "-m", "pgvg_core.cli", "bench", "status", str(tmp_path / "runs")],
                           capture_output=True, text=True)
    print(shown.stdout)
    assert "4/4 done" in shown.stdout


def test_a_run_requeued_three_times_by_scontrol_ends_with_the_uninterrupted_weights(slurm, tmp_path):
    out = tmp_path / "runs"
    code, output = finished(bench(tmp_path, "--methods", "scgan", "--seeds", "1", *LONGER, "--launcher", "slurm",
                                  "--slurm", "cpus_per_task=1"))
    assert code == 0, output
    run_dir = out / "smoke" / "scgan" / "seed-0"
    job = job_of(run_dir, out)
    for step in (30, 90, 150):
        wait_for_step(run_dir, step, timeout=180)
        assert subprocess.run(["scontrol", "requeue", job]).returncode == 0
        deadline = time.monotonic() + 120
        while squeue(job) != "pending" and time.monotonic() < deadline:  # Slurm stops it (SIGTERM: the run
            time.sleep(0.2)  # checkpoints at its next step), then queues it again ...
        # ... and holds a requeued job for two minutes before it may start again: not in a test.
        subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], check=True)
    code, output = finished(bench(tmp_path, "--methods", "scgan", "--seeds", "1", *LONGER, "--launcher", "slurm",
                                  "--wait"), timeout=600)
    print(output)
    assert code == 0 and "1 result(s) stored" in output, output
    status = json.loads(Path(f"{run_dir}.job.json").read_text())
    assert status["state"] == "done" and status["requeues"] == 3 and status["job_id"] == job
    assert Path(f"{run_dir}.log").read_text().count("SIGTERM received: stopped after step") == 3

    assert_as_if_never_stopped(tmp_path, run_dir, LONGER)


def test_pgvg_run_as_a_slurm_job(slurm, tmp_path):
    from tiny import TINY_PSGAN, write_config

    config = write_config(tmp_path, TINY_PSGAN, "tiny.toml")
    done = subprocess.run([sys.executable, "-m", "pgvg_core.cli", "run", str(config), "--out", str(tmp_path / "run"),
                           "--set", "trainer.steps=8", "--launcher", "slurm", "--slurm", "cpus_per_task=1", "--wait"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    print(done.stdout, done.stderr)
    assert done.returncode == 0 and "as slurm job" in done.stdout and ": done" in done.stdout
    assert checkpoint.load(checkpoint.latest(tmp_path / "run"))["step"] == 8
