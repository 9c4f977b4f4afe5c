"""Where each run launched by ``pgvg bench --launcher`` stands (``pgvg bench status``): the record of
its jobs (``OUT/SUITE/jobs.json``), its files (result, ``<run>.job.json``, metrics.jsonl) and, for a job not
ended, the scheduler (squeue; a local job's process).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pgvg_core.errors import PgvgError
from pgvg_core.leaderboard import jobs
from pgvg_core.leaderboard.jobs import DONE, FAILED, PREEMPTED, QUEUED, RUNNING, Work
from pgvg_core.leaderboard.results import Result
from pgvg_core.leaderboard.suites import Suite
from pgvg_core.media.files import atomic_write

log = logging.getLogger("pgvg.bench")

NOT_SUBMITTED = "not submitted"
RECORD = "jobs.json"  # OUT/SUITE/jobs.json: the jobs submitted for each run, written by the launching process


def finished(suite: Suite, work: Work) -> Result | bool:
    """A run's result of this protocol for its last checkpoint (a helper: True once trained to its steps);
    False where there is none yet."""
    from pgvg_core.leaderboard.runner import measured_before, stage1_folder
    from pgvg_core.training import checkpoint

    found = checkpoint.list_checkpoints(work.run_dir)
    if not found:
        return False
    if work.helper is not None:
        steps = _steps(suite, work)
        return steps is not None and checkpoint.load(found[-1])["step"] >= steps
    if work.remeasure and (jobs.read_status(work.run_dir) or {}).get("state") != DONE:
        return False
    method = _method_of(suite, work)
    stage1 = stage1_folder(Path(work.out), suite, method, work.seed) if method.stage1 else None
    try:
        return measured_before(suite, Path(work.run_dir), stage1) or False
    except (OSError, PgvgError):  # a stage 1 not trained yet, a checkpoint being written
        return False


# ------------------------------------------------------------------------------------- the job record


def record_path(suite: Suite, out: Path) -> Path:
    return out.resolve() / suite.name / RECORD


def read_record(path: Path) -> dict[str, Any]:
    """``OUT/SUITE/jobs.json``: the suite file and overrides launched, each run's work, and its latest job."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"jobs": {}}
    except ValueError as error:
        raise PgvgError(f"{path}: not readable ({error}); delete it to forget the jobs it lists") from None
    return record


def write_record(path: Path, record: dict[str, Any]) -> None:
    payload = json.dumps(record, indent=2, sort_keys=True).encode("utf-8")
    atomic_write(path, lambda file: file.write(payload))


def noted(record: dict[str, Any], helpers: Sequence[Work], runs: Sequence[Work]) -> dict[str, Any]:
    """The record with this launch's work (runs launched before with other choices stay listed)."""
    works = {w["run_dir"]: w for w in (*record.get("helpers", []), *record.get("runs", []))}
    works.update({w.run_dir: attrs.asdict(w) for w in (*helpers, *runs)})
    return {**record, "suite": helpers[0].suite if helpers else runs[0].suite,
            "helpers": [w for w in works.values() if w["helper"]], "runs": [w for w in works.values() if not w["helper"]]}


def recorded_works(record: dict[str, Any]) -> tuple[list[Work], list[Work]]:
    def work(entry: dict[str, Any]) -> Work:
        return Work(**{**entry, "sets": tuple(entry["sets"])})

    return [work(e) for e in record.get("helpers", [])], [work(e) for e in record.get("runs", [])]


# ------------------------------------------------------------------------------------------ state


@attrs.frozen(kw_only=True)
class RunState:
    work: Work
    state: str
    detail: str = ""
    job_id: str | None = None
    result: Result | None = None


def state_of(suite: Suite, work: Work, record: dict[str, Any]) -> RunState:
    """Where a run stands: done (its result), failed (its error), running (step, time left), preempted (to be
    resubmitted), queued, or not submitted — from its files and, for a job not ended, the scheduler."""
    entry = record["jobs"].get(work.run_dir)
    job_id = entry["job_id"] if entry else None
    status = jobs.read_status(work.run_dir) or {}
    if entry and status.get("updated", 0) < entry["submitted"]:
        status = {}  # written by an earlier job of this run
    state = status.get("state")
    alive = scheduler_state(entry) if entry else None
    if alive and state == FAILED:
        return RunState(work=work, state=FAILED, job_id=job_id, detail=status.get("error") or "")
    if alive and state != DONE:  # the result is looked for only once the job says it is done: no hashing per poll
        if state == RUNNING:
            return RunState(work=work, state=RUNNING, job_id=job_id, detail=_progress(suite, work, status))
        return RunState(work=work, state=QUEUED, job_id=job_id, detail="requeued" if state == PREEMPTED else alive)
    found = finished(suite, work)
    if found:
        return RunState(work=work, state=DONE, job_id=job_id, result=found if isinstance(found, Result) else None)
    if state == FAILED:
        return RunState(work=work, state=FAILED, job_id=job_id, detail=status.get("error") or "")
    if state in (RUNNING, PREEMPTED):  # its job ended without finishing it: killed, preempted, a node lost
        return RunState(work=work, state=PREEMPTED, job_id=job_id, detail="stopped before finishing; resumes "
                        "from its last checkpoint when submitted again")
    if entry:  # the job ended without finishing its work: submitit's own log says why
        return RunState(work=work, state=FAILED, job_id=job_id, detail=_scheduler_error(entry))
    return RunState(work=work, state=NOT_SUBMITTED)


def states_of(suite: Suite, works: Sequence[Work], record: dict[str, Any],
              known: dict[str, RunState] | None = None) -> list[RunState]:
    """:func:`state_of` for each work; a run found done in ``known`` (earlier polls), or failed in the job it is
    still recorded with, is not looked at again (no checkpoint hashed per poll)."""
    known = {} if known is None else known
    states = []
    for work in works:
        previous = known.get(work.run_dir)
        entry = record["jobs"].get(work.run_dir)
        settled = previous is not None and (previous.state == DONE or previous.state == FAILED and entry is not None
                                            and previous.job_id == entry["job_id"])
        current = previous if settled else state_of(suite, work, record)
        known[work.run_dir] = current
        states.append(current)
    return states


def _progress(suite: Suite, work: Work, status: dict[str, Any]) -> str:
    """``step 312/600, ~40 s left (attempt 1/2, host)`` from the run's metrics.jsonl."""
    step, rate = logged_step(work.run_dir)
    total = _steps(suite, work)
    left = f", ~{_duration((total - step) / rate)} left" if rate and total and step else ""
    where = f"attempt {status.get('attempt', 1)}/{status.get('attempts', 1)} on {status.get('host', '?')}"
    return f"step {step}/{total or '?'}{left} ({where})"


_STEPS: dict[tuple[Any, ...], int | None] = {}  # a run's trainer.steps, read once per process


def logged_step(run_dir: str | Path) -> tuple[int, float | None]:
    """The last step a run logged (its metrics.jsonl) and its steps per second then."""
    from pgvg_core.training.run import METRICS_LOG

    try:
        lines = (Path(run_dir) / METRICS_LOG).read_text(encoding="utf-8").splitlines()
        last = json.loads(lines[-1]) if lines else {}
        return int(last.get("step", 0)), last.get("it_per_s")
    except (OSError, ValueError):
        return 0, None


def _method_of(suite: Suite, work: Work) -> Any:
    from pgvg_core.leaderboard.runner import find_method

    if work.helper is not None:
        return find_method(suite.helpers, work.helper, suite, "helper")
    return find_method(suite.methods, work.method, suite, "method")


def _steps(suite: Suite, work: Work) -> int | None:
    from pgvg_core.config import load_config

    key = (work.suite, work.sets, work.helper, work.method)
    if key not in _STEPS:
        method = _method_of(suite, work)
        try:
            _STEPS[key] = load_config(method.config, method.overrides).trainer.steps
        except PgvgError:
            _STEPS[key] = None
    return _STEPS[key]


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def scheduler_state(entry: dict[str, Any]) -> str | None:
    """The scheduler's word for a job that has not ended ("pending", "running", ...), None once it has."""
    if entry["launcher"] == "local":
        return "running" if _process_alive(int(entry["job_id"])) else None
    return _slurm_state(entry["job_id"])


def _process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")  # a zombie has ended


def _slurm_state(job_id: str) -> str | None:
    """squeue's state of a job (array task ``A_i`` too), lower case; None when squeue no longer lists it."""
    if shutil.which("squeue") is None:
        raise PgvgError("squeue is not on PATH: `pgvg bench status` of Slurm jobs runs where Slurm's commands do")
    done = subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%T"], capture_output=True, text=True)
    states = [line.strip().lower() for line in done.stdout.splitlines() if line.strip()]
    ended = {"completed", "failed", "cancelled", "timeout", "out_of_memory", "node_fail", "boot_fail", "deadline"}
    states = [state for state in states if state not in ended]
    return states[0] if states else None


def _scheduler_error(entry: dict[str, Any]) -> str:
    """The end of submitit's own log of a job that never started its work."""
    folder = Path(entry["folder"])
    logs = sorted(folder.glob(f"{entry['job_id']}_*_log.err")) + sorted(folder.glob(f"{entry['job_id']}_*_log.out"))
    text = "\n".join(jobs.last_lines(path) for path in logs).strip()
    return text or f"job {entry['job_id']} ended without a word (its logs: {folder})"


# ------------------------------------------------------------------------------------------ reporting


def summary(states: Sequence[RunState]) -> str:
    counts = {state: sum(s.state == state for s in states) for state in (DONE, RUNNING, QUEUED, PREEMPTED, FAILED)}
    running = [f"{s.work.name}: {s.detail.split(' (')[0]}" for s in states if s.state == RUNNING]
    line = f"{counts[DONE]}/{len(states)} done, " + ", ".join(f"{n} {k}" for k, n in counts.items() if n and k != DONE)
    return line.rstrip(", ") + (f"  [{'; '.join(running)}]" if running else "")


def status_table(states: Sequence[RunState]) -> str:
    """One line per run (helpers first): what, state, job, detail; a failed run's error below it."""
    rows = [(s.work.name, s.state, s.job_id or "-", s.detail.splitlines()[0] if s.state != FAILED and s.detail else "")
            for s in states]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for state, row in zip(states, rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3])
        if state.state == FAILED and state.detail:
            lines += ["    | " + line for line in state.detail.splitlines()]
    return "\n".join(line.rstrip() for line in lines)
