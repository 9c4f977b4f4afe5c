"""``pgvg bench SUITE --launcher local|slurm`` and ``pgvg bench status``: a suite's runs as scheduler jobs.

Each of the protocol's helpers, then each method x seed, becomes one job (:class:`~.jobs.BenchJob`), submitted
through submitit: ``local`` runs at most ``max_parallel`` jobs at once on this machine (each given its share
of the cores and its own GPUs), ``slurm`` submits the helpers, then the runs as one job array that depends on
them (``max_parallel`` = the array's parallelism). What is already done (a result of this protocol for the
run's last checkpoint) is not submitted again; a preempted or interrupted run resumes from its checkpoint.

The jobs write result files only; this process (or the next ``pgvg bench`` of the same suite) reads them into
the results database — one writer, wherever the runs ran.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from pgvg_core.errors import PgvgError
from pgvg_core.leaderboard import jobs
from pgvg_core.leaderboard.jobs import DONE, FAILED, PREEMPTED, QUEUED, RUNNING, BenchJob, Work
from pgvg_core.leaderboard.results import ResultsDatabase
from pgvg_core.leaderboard.suites import Suite
from pgvg_core.leaderboard.tracking import (
    NOT_SUBMITTED,
    RunState,
    logged_step,
    noted,
    read_record,
    record_path,
    scheduler_state,
    states_of,
    summary,
    write_record,
)

log = logging.getLogger("pgvg.bench")

LAUNCHERS = ("local", "slurm")
MAX_REQUEUES = 10  # a run preempted more often than this (with --wait) is reported, not resubmitted forever
POLL_S = 0.25  # how often a local queue looks at its jobs (a few file reads each time)
SHOW_EVERY_S = 30.0  # the progress line: at each change of the counts, else this often


@attrs.frozen(kw_only=True)
class LaunchOptions:
    launcher: str = "local"
    max_parallel: int = 2
    gpus_per_run: int = 0
    nodes_per_run: int = 1
    retries: int = 1
    threads: int | None = None  # per job; default: this machine's cores / max_parallel (local)
    time_min: int = 24 * 60  # a job's time limit (Slurm's --time; local jobs are signalled to checkpoint then)
    partition: str | None = None
    account: str | None = None
    slurm: dict[str, str] = attrs.field(factory=dict)  # more sbatch parameters, KEY=VALUE


# ----------------------------------------------------------------------------------------------- plan


def plan(suite: Suite, out: Path, *, methods: Sequence[str] | None = None, seeds: int | None = None,
         sets: Sequence[str] = (), remeasure: bool = False) -> tuple[list[Work], list[Work]]:
    """The helpers' work and the runs' work of a suite (every method x seed chosen)."""
    from pgvg_core.leaderboard.runner import helper_folders, run_folder

    unknown = sorted(set(methods or ()) - {m.name for m in suite.methods})
    if unknown:
        raise PgvgError(f"suite '{suite.name}' has no method {', '.join(unknown)}; its methods: "
                        f"{', '.join(m.name for m in suite.methods)}")
    out = out.resolve()
    common = {"suite": str(suite.source.resolve()), "out": str(out), "sets": tuple(sets)}
    helpers = [Work(**common, run_dir=str(folder), helper=name) for name, folder in helper_folders(suite, out).items()]
    seed_list = suite.seeds[:seeds] if seeds else suite.seeds
    runs = [Work(**common, run_dir=str(run_folder(out, suite, method, seed)), method=method.name, seed=seed,
                 remeasure=remeasure)
            for method in suite.methods if not methods or method.name in methods for seed in seed_list]
    return helpers, runs


# ---------------------------------------------------------------------------------------- submitting


def _executor(suite: Suite, out: Path, options: LaunchOptions, *, name: str) -> Any:
    return _executor_in(out.resolve() / suite.name / "jobs" / "%j", options, name=f"{suite.name}-{name}")


def _executor_in(folder: Path, options: LaunchOptions, *, name: str) -> Any:
    """A submitit executor writing its files to ``folder`` (``%j``: the job's id)."""
    import submitit

    if options.launcher == "local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=options.time_min, gpus_per_node=options.gpus_per_run)
        return executor
    if shutil.which("sbatch") is None:
        raise PgvgError("--launcher slurm: sbatch is not on PATH; run `pgvg bench` on a Slurm login node (or use "
                        "--launcher local)")
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
    known = executor._valid_parameters()  # what update_parameters takes; the rest goes to sbatch as it is
    parameters: dict[str, Any] = {"job_name": f"pgvg-{name}", "time": options.time_min,
                                  "nodes": options.nodes_per_run, "ntasks_per_node": 1}
    if options.gpus_per_run:
        parameters["gpus_per_node"] = options.gpus_per_run
    if options.partition:
        parameters["partition"] = options.partition
    if options.account:
        parameters["account"] = options.account
    additional = {}
    for key, value in options.slurm.items():
        converted = int(value) if value.isdigit() else value
        if key in known:
            parameters[key] = converted
        else:
            additional[key] = converted
    executor.update_parameters(**parameters, additional_parameters={"requeue": True, **additional})
    return executor


def _job(work: Work, options: LaunchOptions, threads: int | None) -> BenchJob:
    return BenchJob(work, retries=options.retries, nproc_per_node=max(1, options.gpus_per_run),
                    nodes=options.nodes_per_run, threads=threads)


def default_threads(options: LaunchOptions) -> int | None:
    """Local jobs share this machine's cores; a Slurm job uses the CPUs it was given (SLURM_CPUS_PER_TASK)."""
    if options.threads or options.launcher != "local":
        return options.threads
    return max(1, len(os.sched_getaffinity(0)) // options.max_parallel)


def launch(suite: Suite, out: Path, helpers: list[Work], runs: list[Work], options: LaunchOptions, *,
           wait: bool, report: Callable[[str], None] = log.info) -> list[RunState]:
    """Submit what is not done; with ``wait`` (always, for ``local``), follow the jobs to their end, resubmitting
    runs preempted without being requeued. The runs' states at the end (or after submitting)."""
    if options.launcher not in LAUNCHERS:
        raise PgvgError(f"--launcher {options.launcher!r}: one of {', '.join(LAUNCHERS)}")
    if options.launcher == "local":
        return _LocalQueue(suite, out, options, report).run(helpers, runs)
    return _submit_slurm(suite, out, helpers, runs, options, wait=wait, report=report)


def _submit(suite: Suite, out: Path, works: Sequence[Work], executor: Any, options: LaunchOptions,
            record: dict[str, Any], *, array: bool = False) -> list[Any]:
    """Submit ``works`` (as one array with ``array``) and note each job in the record."""
    threads = default_threads(options)
    if array:
        with executor.batch():
            submitted = [executor.submit(_job(work, options, threads)) for work in works]
    else:
        submitted = [executor.submit(_job(work, options, threads)) for work in works]
    for work, job in zip(works, submitted):
        record["jobs"][work.run_dir] = _job_entry(job, executor, options)
    write_record(record_path(suite, out), record)
    return submitted


def _job_entry(job: Any, executor: Any, options: LaunchOptions) -> dict[str, Any]:
    """What the record keeps of a submitted job: its id, launcher, time, and submitit's folder of its files."""
    return {"job_id": str(job.job_id), "launcher": options.launcher, "submitted": time.time(),
            "folder": str(executor.folder).replace("%j", str(job.job_id))}


def _submit_slurm(suite: Suite, out: Path, helpers: list[Work], runs: list[Work], options: LaunchOptions, *,
                  wait: bool, report: Callable[[str], None]) -> list[RunState]:
    record, known = noted(read_record(record_path(suite, out)), helpers, runs), {}
    again = (NOT_SUBMITTED, PREEMPTED, FAILED)  # a new `pgvg bench` retries what failed; --wait only the preempted
    for _ in range(MAX_REQUEUES + 1):
        states = {s.work.run_dir: s for s in states_of(suite, [*helpers, *runs], record, known)}
        todo_helpers = [w for w in helpers if states[w.run_dir].state in again]
        todo_runs = [w for w in runs if states[w.run_dir].state in again]
        helper_jobs = _submit(suite, out, todo_helpers, _executor(suite, out, options, name="helper"), options,
                              record) if todo_helpers else []
        waiting_for = [s.job_id for s in states.values() if s.work.helper and s.state in (QUEUED, RUNNING)]
        waiting_for += [str(job.job_id) for job in helper_jobs]
        executor = _executor(suite, out, options, name="run")
        executor.update_parameters(array_parallelism=options.max_parallel,
                                   **({"dependency": "afterok:" + ":".join(waiting_for)} if waiting_for else {}))
        run_jobs = _submit(suite, out, todo_runs, executor, options, record, array=True) if todo_runs else []
        for work, job in zip([*todo_helpers, *todo_runs], [*helper_jobs, *run_jobs]):
            report(f"submitted {work.name} as Slurm job {job.job_id}")
        if not wait:
            return states_of(suite, runs, record, known)
        final = _follow(suite, [*helpers, *runs], record, known, report)
        if not any(s.state == PREEMPTED for s in final):
            return [s for s in final if not s.work.helper]
        report("resubmitting the runs stopped without being requeued")
        again = (PREEMPTED,)
    return states_of(suite, runs, record, known)


class _Progress:
    """The progress line: shown when the counts change, else every ``SHOW_EVERY_S``."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report, self.counts, self.shown_at = report, "", 0.0

    def show(self, states: Sequence[RunState]) -> None:
        self.line(summary(states))

    def line(self, line: str) -> None:
        counts = line.split("  [")[0].split(", step")[0]
        if counts != self.counts or time.monotonic() - self.shown_at > SHOW_EVERY_S:
            self.report(line)
            self.counts, self.shown_at = counts, time.monotonic()


def _follow(suite: Suite, works: Sequence[Work], record: dict[str, Any], known: dict[str, RunState],
            report: Callable[[str], None]) -> list[RunState]:
    """Poll until every run is done, failed, or stopped without a job to requeue it."""
    progress = _Progress(report)
    while True:
        states = states_of(suite, works, record, known)
        progress.show(states)
        if all(s.state in (DONE, FAILED, PREEMPTED, NOT_SUBMITTED) for s in states):
            return states
        time.sleep(5.0)  # squeue is asked each time: not too often


class _LocalQueue:
    """At most ``max_parallel`` local jobs at once, each with its own GPUs; the helpers first."""

    def __init__(self, suite: Suite, out: Path, options: LaunchOptions, report: Callable[[str], None]) -> None:
        self.suite, self.out, self.options, self.report = suite, out, options, report
        self.record = read_record(record_path(suite, out))
        gpus = _visible_gpus()
        self.slots = options.max_parallel
        if options.gpus_per_run:
            if len(gpus) < options.gpus_per_run:
                raise PgvgError(f"--gpus-per-run {options.gpus_per_run}: this machine shows {len(gpus)} GPU(s)")
            self.slots = min(self.slots, len(gpus) // options.gpus_per_run)
        per = options.gpus_per_run
        self.gpu_sets = [tuple(gpus[i * per:(i + 1) * per]) for i in range(self.slots)] if per else [()] * self.slots

    def run(self, helpers: list[Work], runs: list[Work]) -> list[RunState]:
        self.record = noted(self.record, helpers, runs)
        done_helpers = self._drain(helpers)
        failed = [s for s in done_helpers if s.state != DONE]
        if failed:
            for state in failed:
                self.report(f"helper {state.work.helper} {state.state}: {state.detail}")
            raise PgvgError(f"suite '{self.suite.name}': {len(failed)} helper(s) did not finish, so no run was "
                            f"started; see {jobs.log_path(failed[0].work.run_dir)}")
        return self._drain(runs)

    def _drain(self, works: list[Work]) -> list[RunState]:
        known: dict[str, RunState] = {}
        pending = [s.work for s in states_of(self.suite, works, self.record, known) if s.state != DONE]
        if works and not pending:
            self.report(f"{summary(list(known.values()))}: nothing to submit")
        requeues = {w.run_dir: 0 for w in works}
        active: dict[str, tuple[Any, int]] = {}  # run_dir -> (job, slot)
        progress = _Progress(self.report)
        while pending or active:
            free = [slot for slot in range(self.slots) if slot not in {s for _, s in active.values()}]
            while pending and free:
                work, slot = pending.pop(0), free.pop(0)
                executor = _executor(self.suite, self.out, self.options, name="run")
                if self.gpu_sets[slot]:
                    executor.update_parameters(visible_gpus=self.gpu_sets[slot])
                job = _submit(self.suite, self.out, [work], executor, self.options, self.record)[0]
                active[work.run_dir] = (job, slot)
            for run_dir, (job, _) in list(active.items()):
                if job.done():
                    del active[run_dir]
                    work = next(w for w in works if w.run_dir == run_dir)
                    ended = states_of(self.suite, [work], self.record, known)[0]
                    if ended.state == PREEMPTED and requeues[run_dir] < MAX_REQUEUES:
                        requeues[run_dir] += 1
                        pending.insert(0, work)  # resumed from its checkpoint
            progress.show(states_of(self.suite, works, self.record, known))
            if pending or active:
                time.sleep(POLL_S)
        return states_of(self.suite, works, self.record, known)


def launch_run(work: Work, options: LaunchOptions, *, wait: bool, report: Callable[[str], None] = log.info) -> str:
    """``pgvg run CONFIG --launcher``: one experiment as one job (``nodes_per_run`` nodes of ``gpus_per_run``
    GPUs, torchrun on each); with ``wait``, followed to its end (resubmitted when stopped without being
    requeued). Its last state."""
    run_dir = Path(work.run_dir)
    record: dict[str, Any] = {"jobs": {}}
    entry_of = record["jobs"].get
    executor = _executor_in(run_dir.parent / f"{run_dir.name}.jobs" / "%j", options, name=run_dir.name)
    for _ in range(MAX_REQUEUES + 1):
        job = executor.submit(_job(work, options, default_threads(options)))
        record["jobs"][work.run_dir] = _job_entry(job, executor, options)
        report(f"submitted {work.name} as {options.launcher} job {job.job_id}; its log: {jobs.log_path(run_dir)}")
        if not wait:
            return QUEUED
        progress = _Progress(report)
        while True:
            status = jobs.read_status(run_dir) or {}
            fresh = status.get("updated", 0) >= entry_of(work.run_dir)["submitted"]
            state = status.get("state") if fresh else None
            alive = scheduler_state(entry_of(work.run_dir))
            if state == DONE or (not alive and state == FAILED):
                report(f"{work.name}: {state}" + (f"\n{status.get('error')}" if state == FAILED else ""))
                return state
            if not alive:
                break
            progress.line(f"{work.name}: {state or 'queued'}" + (
                f", step {logged_step(run_dir)[0]}" if state == RUNNING else ""))
            time.sleep(POLL_S * 20)
        report(f"{work.name} stopped before finishing; submitting it again (it resumes from its checkpoint)")
    return PREEMPTED


def _visible_gpus() -> list[int]:
    import torch

    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def collect(states: Sequence[RunState], database: ResultsDatabase) -> int:
    """The finished runs' results into the database (one writer: this process); how many."""
    stored = 0
    for state in states:
        if state.result is not None:
            database.upsert(state.result)
            stored += 1
    return stored
