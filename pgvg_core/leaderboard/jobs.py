"""One leaderboard run as a scheduler's job (``pgvg bench SUITE --launcher local|slurm``).

A job is a small supervisor (:class:`BenchJob`, the callable submitit runs on the node) around a child process,
``pgvg bench job ...`` — the same training and measuring as ``pgvg bench`` in sequence, started under
torchrun when the job has several GPUs or nodes. The supervisor

- retries a child that failed, at most ``retries`` times (each try resumes from the run's last checkpoint);
- on preemption (submitit's signal, or Slurm's SIGTERM of a requeue) lets the child checkpoint at its next
  step, then has submitit requeue the job, which resumes exactly where it stopped (the trainer's exact-resume
  guarantee);
- writes what it is doing beside the run folder: ``<run>.job.json`` (state, attempt, job id, host, error) and
  ``<run>.log`` (the child's output, every attempt), which ``pgvg bench status`` reads.

The job writes only its result file (in the run folder); the results database is written by the process that
collects the jobs (:mod:`.launcher`), never by many jobs on a shared filesystem.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from pgvg_core.errors import PgvgError
from pgvg_core.media.files import atomic_write

log = logging.getLogger("pgvg.jobs")

QUEUED, RUNNING, PREEMPTED, DONE, FAILED = "queued", "running", "preempted", "done", "failed"
#: A child that exits with one of these was stopped by a signal after checkpointing (``Preempted``): 128 + signal.
STOPPED_CODES = {128 + signal.SIGTERM, 128 + signal.SIGINT, -signal.SIGTERM, -signal.SIGINT}
ERROR_LINES = 15  # of the child's log, kept as a failed job's error
# How long a preempted child may take to reach its next step and write its checkpoint.
CHECKPOINT_GRACE_S = float(os.environ.get("PGVG_CHECKPOINT_GRACE_S", "300"))


class JobFailed(PgvgError):
    """A job's every attempt failed; the message ends with the last lines of its log."""


@attrs.frozen(kw_only=True)
class Work:
    """What one job trains: a method x seed of a suite (measured and stored as a result file), or one of the
    protocol's helpers (trained only)."""

    suite: str  # the suite file, absolute
    out: str  # the bench folder, absolute (runs go to OUT/SUITE/METHOD/seed-S)
    run_dir: str  # where this job's run goes, absolute
    method: str | None = None
    seed: int = 0
    helper: str | None = None
    sets: tuple[str, ...] = ()  # ``pgvg bench --set``: overrides for every method
    remeasure: bool = False
    config: str | None = None  # ``pgvg run CONFIG --launcher``: one experiment trained into run_dir, no suite

    @property
    def name(self) -> str:
        if self.config is not None:
            return f"run {Path(self.run_dir).name}"
        return f"helper {self.helper}" if self.helper else f"{self.method}, seed {self.seed}"

    def command(self) -> list[str]:
        """The pgvg command line of this work (without the interpreter): ``pgvg bench job ...``, or for a
        single experiment ``pgvg run CONFIG --out RUN_DIR`` and, once it has a checkpoint, ``pgvg run --resume``."""
        if self.config is not None:
            from pgvg_core.training import checkpoint

            if checkpoint.list_checkpoints(self.run_dir):
                return ["run", "--resume", self.run_dir, "--no-progress",
                        *(arg for override in self.sets for arg in ("--set", override))]
            return ["run", self.config, "--out", self.run_dir, "--no-progress",
                    *(arg for override in self.sets for arg in ("--set", override))]
        args = ["bench", "job", self.suite, "--out", self.out, "--seed", str(self.seed), "--no-progress"]
        args += ["--helper", self.helper] if self.helper else ["--method", str(self.method)]
        for override in self.sets:
            args += ["--set", override]
        return args + (["--remeasure"] if self.remeasure else [])


def status_path(run_dir: str | Path) -> Path:
    return Path(f"{run_dir}.job.json")


def log_path(run_dir: str | Path) -> Path:
    return Path(f"{run_dir}.log")


def read_status(run_dir: str | Path) -> dict[str, Any] | None:
    path = status_path(run_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # a status written by a job killed mid-write is replaced atomically: not expected
        log.warning("%s is not readable JSON; ignored", path)
        return None


def write_status(run_dir: str | Path, **fields: Any) -> None:
    """Update the job's status file (atomically: ``pgvg bench status`` may read it at any moment)."""
    status = {**(read_status(run_dir) or {}), **fields, "updated": time.time()}
    payload = json.dumps(status, indent=2, sort_keys=True).encode("utf-8")
    atomic_write(status_path(run_dir), lambda file: file.write(payload))


def last_lines(path: Path, count: int = ERROR_LINES) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-count:])


class BenchJob:
    """The callable a scheduler runs: ``work`` in a child process, retried, checkpointed when preempted.

    ``nproc_per_node`` > 1 or ``nodes`` > 1 starts the child under torchrun (one torchrun per node, all meeting
    at the first node). ``threads`` sets the child's intra-op threads (OMP_NUM_THREADS), e.g. the cores of the
    machine divided among the jobs running at once.
    """

    def __init__(self, work: Work, *, retries: int = 0, nproc_per_node: int = 1, nodes: int = 1,
                 threads: int | None = None) -> None:
        self.work, self.retries = work, retries
        self.nproc_per_node, self.nodes, self.threads = nproc_per_node, nodes, threads
        self._child: subprocess.Popen | None = None

    def __getstate__(self) -> dict[str, Any]:  # the running child is not part of a requeued job
        return {**self.__dict__, "_child": None}

    # ------------------------------------------------------------------------------------- on the node

    def __call__(self) -> str:
        """Run the work until it succeeds (its run folder), fails ``retries + 1`` times (:class:`JobFailed`) or is
        preempted (the process exits; the scheduler requeues the job)."""
        import submitit

        environment = submitit.JobEnvironment()
        rank0 = environment.global_rank == 0
        run_dir, log_file = self.work.run_dir, log_path(self.work.run_dir)
        Path(run_dir).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.retries + 2):
            if rank0:
                write_status(run_dir, state=RUNNING, attempt=attempt, attempts=self.retries + 1,
                             job_id=environment.job_id, host=socket.gethostname(), pid=os.getpid(),
                             started=time.time(), error=None)
            with log_file.open("a", encoding="utf-8") as output:
                output.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} job {environment.job_id} on "
                             f"{socket.gethostname()}: {self.work.name}, attempt {attempt} of {self.retries + 1}\n")
                output.flush()
                code = self._run_child(environment, output)
            if code == 0:
                if rank0:
                    write_status(run_dir, state=DONE, pid=None, error=None)
                return run_dir
            if code in STOPPED_CODES:  # preempted (a requeue's SIGTERM): checkpointed; the scheduler requeues
                if rank0:
                    write_status(run_dir, state=PREEMPTED, pid=None, requeues=_requeues(run_dir) + 1)
                log.warning("%s stopped by a signal after checkpointing; waiting to be requeued", self.work.name)
                sys.exit(code if code > 0 else 128 - code)
            error = last_lines(log_file)
            if rank0:
                write_status(run_dir, state=FAILED if attempt > self.retries else RUNNING, error=error, exit_code=code)
            log.warning("%s failed (exit code %s), attempt %d of %d", self.work.name, code, attempt, self.retries + 1)
        raise JobFailed(f"{self.work.name} failed {self.retries + 1} time(s); the end of {log_file}:\n{error}")

    def _run_child(self, environment: Any, output: Any) -> int:
        env = dict(os.environ)
        threads = self.threads or os.environ.get("SLURM_CPUS_PER_TASK")  # the CPUs Slurm gave the job
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self._child = subprocess.Popen(self.child_command(environment), stdout=output, stderr=subprocess.STDOUT,
                                       env=env, preexec_fn=_child_signals)
        # Polled, not waited on: checkpoint() runs inside a signal handler and polls the same child.
        while (code := self._child.poll()) is None:
            time.sleep(0.2)
        return code

    def child_command(self, environment: Any) -> list[str]:
        """The child's command line: ``python -m pgvg_core.cli bench job ...``, under torchrun with several
        processes."""
        python, pgvg = job_python(), ["-m", "pgvg_core.cli", *self.work.command()]
        if self.nproc_per_node == 1 and self.nodes == 1:
            return [*python, *pgvg]
        launcher = [*python, "-m", "torch.distributed.run", f"--nproc_per_node={self.nproc_per_node}"]
        if self.nodes == 1:
            launcher.append("--standalone")
        else:
            master = environment.hostnames[0]
            launcher += [f"--nnodes={self.nodes}", f"--node_rank={environment.node}", "--rdzv_backend=c10d",
                         f"--rdzv_endpoint={master}:{29400 + int(str(environment.job_id).split('_')[0]) % 1000}",
                         f"--rdzv_id={environment.job_id}"]
        return [*launcher, *pgvg]

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Called by submitit when the job is preempted or about to time out: the child checkpoints at its next
        step and stops; the job, resubmitted as it is, resumes from that checkpoint."""
        import submitit

        child = self._child
        if child is not None and child.poll() is None:
            log.warning("preempted: asking %s to checkpoint and stop", self.work.name)
            child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + CHECKPOINT_GRACE_S
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if child.poll() is None:
                log.warning("%s did not stop within %.0f s; it resumes from its last periodic checkpoint",
                            self.work.name, CHECKPOINT_GRACE_S)
                child.kill()
        write_status(self.work.run_dir, state=PREEMPTED, pid=None, requeues=_requeues(self.work.run_dir) + 1)
        return submitit.helpers.DelayedSubmission(self)


def job_python() -> list[str]:
    """The interpreter a job's child runs under: ``$PGVG_JOB_PYTHON`` (a command line, e.g. ``apptainer exec
    pgvg.sif python`` on a cluster whose nodes run containers), else the one running the job."""
    given = os.environ.get("PGVG_JOB_PYTHON", "").strip()
    return shlex.split(given) if given else [sys.executable]


def _child_signals() -> None:
    """In the child, before it starts: SIGUSR2 is submitit's (Slurm sends it to every process of the job before
    its time ends), so the child ignores it and the supervisor stops it cleanly instead (checkpoint()); and a
    supervisor killed outright (SIGKILL, a lost node) takes its child with it (Linux's parent-death signal), so
    that a resubmitted job never finds the old one still training into the same run folder."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _requeues(run_dir: str) -> int:
    return int((read_status(run_dir) or {}).get("requeues", 0))
