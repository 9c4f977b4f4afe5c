"""``pgvg bench`` (a suite, the real-footage reconstruction, importing results) and ``pgvg leaderboard``."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import click

from pgvg_core.cli.common import key_values, launcher_options, only_with_a_launcher
from pgvg_core.cli.training import run_under_torchrun

log = logging.getLogger("pgvg")


class BenchGroup(click.Group):
    """``pgvg bench SUITE ...`` runs a suite; ``pgvg bench import RUN_DIR ...`` gathers results."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)


@click.group("bench", cls=BenchGroup)
def bench_group() -> None:
    """Leaderboard runs: `pgvg bench SUITE` trains and measures each method x seed of a suite (a name in
    pgvg_core/suites/ or a file) and stores every result; `pgvg bench import RUN_DIR...` adds results made
    elsewhere. Show them with `pgvg leaderboard`."""


@bench_group.command("run")
@click.argument("suite")
@click.option("--methods", default=None, help="Comma-separated methods of the suite (default: all).")
@click.option("--seeds", type=click.IntRange(1), default=None, help="Only the first N seeds of the protocol.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config key of every method (e.g. --set trainer.steps=600): another config hash.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Results database (default: $PGVG_DATA_DIR/results.sqlite or ~/.local/share/pgvg/).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/bench", show_default=True,
              help="Where the runs go (OUT/SUITE/METHOD/seed-S; present runs are reused or resumed).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--nproc", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Train each run on this many processes of this machine (as `pgvg run --nproc`); process 0 "
                   "measures and stores.")
@click.option("--remeasure", is_flag=True,
              help="Measure runs again even where their folder holds a result of this protocol for their last "
                   "checkpoint (e.g. after a metric's code changed).")
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default=None,
              help="Run each method x seed as a job: `local` at most --max-parallel at once on this machine "
                   "(waits for them), `slurm` submitted to Slurm (returns, or follows them with --wait). Without "
                   "it, the runs go one after another in this process.")
@click.option("--max-parallel", type=click.IntRange(1), default=2, show_default=True,
              help="With --launcher: jobs running at once (Slurm: the job array's parallelism).")
@click.option("--gpus-per-run", type=click.IntRange(0), default=0, show_default=True,
              help="With --launcher: GPUs of each job (several: the run starts under torchrun, one process each).")
@click.option("--nodes-per-run", type=click.IntRange(1), default=1, show_default=True,
              help="With --launcher slurm: nodes of each job (torchrun on each, meeting at the first).")
@click.option("--retries", type=click.IntRange(0), default=1, show_default=True,
              help="With --launcher: how often a failed run is tried again (from its checkpoint) before it is "
                   "shown as failed.")
@click.option("--wait", is_flag=True, help="With --launcher slurm: follow the jobs to their end with a progress "
              "line, resubmit runs stopped without being requeued, and store the results.")
@launcher_options
def bench_run_command(suite: str, methods: str | None, seeds: int | None, sets: tuple[str, ...], db: str | None,
                      out: str, no_progress: bool, nproc: int, remeasure: bool, launcher: str | None,
                      max_parallel: int, gpus_per_run: int, nodes_per_run: int, retries: int, wait: bool,
                      partition: str | None, account: str | None, time_min: int, slurm_sets: tuple[str, ...]) -> None:
    """Train and measure every method x seed of SUITE."""
    from pathlib import Path

    from pgvg_core.errors import PgvgError

    if launcher is None:
        only_with_a_launcher({"--wait": wait, "--partition": partition, "--account": account, "--slurm": slurm_sets,
                              "--nodes-per-run": nodes_per_run > 1, "--gpus-per-run": gpus_per_run})
    else:
        if nproc > 1:
            raise PgvgError("--nproc is for runs in this process; with --launcher give --gpus-per-run")
        from pgvg_core.leaderboard.launcher import LaunchOptions

        options = LaunchOptions(launcher=launcher, max_parallel=max_parallel, gpus_per_run=gpus_per_run,
                                nodes_per_run=nodes_per_run, retries=retries, time_min=time_min, partition=partition,
                                account=account, slurm=key_values(slurm_sets, "--slurm"))
        raise SystemExit(launch_suite(suite, Path(out), options, methods=methods.split(",") if methods else None,
                                      seeds=seeds, sets=sets, remeasure=remeasure, db=db,
                                      wait=wait or launcher == "local"))
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        raise SystemExit(run_under_torchrun(nproc))

    from pgvg_core.leaderboard.board import format_table, leaderboard
    from pgvg_core.leaderboard.results import ResultsDatabase
    from pgvg_core.leaderboard.runner import run_suite
    from pgvg_core.leaderboard.suites import load_suite
    from pgvg_core.training import distributed

    loaded = load_suite(suite, sets)
    main_process = distributed.world_from_environment().main
    try:
        with ResultsDatabase(db) if main_process else contextlib.nullcontext() as database:
            results = run_suite(loaded, out=Path(out), database=database, seeds=seeds, progress=not no_progress,
                                methods=methods.split(",") if methods else None, remeasure=remeasure,
                                report=click.echo)
            if main_process:
                click.echo(f"{len(results)} results stored in {database.path}\n")
                click.echo(format_table(leaderboard(database.results(loaded.name), loaded)))
    finally:
        distributed.stop()


def launch_suite(suite: str, out: Any, options: Any, *, methods: list[str] | None, seeds: int | None,
                 sets: tuple[str, ...], remeasure: bool, db: str | None, wait: bool) -> int:
    """`pgvg bench --launcher`: submit what is not done, follow it (``wait``), store the results; the exit code
    (1 when a run failed)."""
    from pgvg_core.leaderboard.board import format_table, leaderboard
    from pgvg_core.leaderboard.jobs import DONE, FAILED
    from pgvg_core.leaderboard.launcher import collect, launch, plan
    from pgvg_core.leaderboard.results import ResultsDatabase
    from pgvg_core.leaderboard.suites import load_suite
    from pgvg_core.leaderboard.tracking import record_path, status_table

    loaded = load_suite(suite, sets)
    helpers, runs = plan(loaded, out, methods=methods, seeds=seeds, sets=sets, remeasure=remeasure)
    click.echo(f"{loaded.name}: {len(helpers)} helper(s) and {len(runs)} run(s) through the {options.launcher} "
               f"launcher, at most {options.max_parallel} at once; jobs in {record_path(loaded, out)}")
    states = launch(loaded, out, helpers, runs, options, wait=wait, report=click.echo)
    if not wait:
        click.echo(status_table(states))
        click.echo(f"follow them with `pgvg bench status {out}`; run this command again to store their results "
                   "(and to resubmit what failed)")
        return 0
    with ResultsDatabase(db) as database:
        stored = collect(states, database)
        click.echo(f"{stored} result(s) stored in {database.path}")
        if all(s.state == DONE for s in states):
            click.echo("\n" + format_table(leaderboard(database.results(loaded.name), loaded)))
            return 0
    click.echo(status_table([s for s in states if s.state != DONE]))
    return 1 if any(s.state == FAILED for s in states) else 0


@bench_group.command("status")
@click.argument("out", type=click.Path(file_okay=False, exists=True))
@click.option("--suite", "suite_name", default=None, help="Only this suite of OUT (default: every one launched).")
def bench_status_command(out: str, suite_name: str | None) -> None:
    """Each run launched into OUT with `pgvg bench --launcher`: queued, running (step, time left), done, or
    failed (the last lines of its log)."""
    from pathlib import Path

    from pgvg_core.errors import PgvgError
    from pgvg_core.leaderboard.suites import load_suite
    from pgvg_core.leaderboard.tracking import RECORD, read_record, recorded_works, states_of, status_table, summary

    records = sorted(Path(out).glob(f"*/{RECORD}"))
    if suite_name:
        records = [path for path in records if path.parent.name == suite_name]
    if not records:
        raise PgvgError(f"no jobs launched into {out}{' for suite ' + repr(suite_name) if suite_name else ''}; "
                        "start them with `pgvg bench SUITE --out OUT --launcher local|slurm`")
    for path in records:
        record = read_record(path)
        helpers, runs = recorded_works(record)
        sets = (runs or helpers)[0].sets if (runs or helpers) else ()
        loaded = load_suite(record["suite"], sets)
        states = states_of(loaded, [*helpers, *runs], record)
        click.echo(f"{loaded.name} ({path.parent}): {summary(states)}")
        click.echo(status_table(states) + "\n")


@bench_group.command("job", hidden=True)
@click.argument("suite")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--method", default=None)
@click.option("--helper", default=None)
@click.option("--seed", type=int, default=0)
@click.option("--set", "sets", multiple=True)
@click.option("--no-progress", is_flag=True)
@click.option("--remeasure", is_flag=True)
def bench_job_command(suite: str, out: str, method: str | None, helper: str | None, seed: int,
                      sets: tuple[str, ...], no_progress: bool, remeasure: bool) -> None:
    """One job of `pgvg bench --launcher` (started by the job's supervisor): a helper trained, or a method x seed
    trained and measured into its result file."""
    from pathlib import Path

    from pgvg_core.leaderboard.runner import run_job
    from pgvg_core.leaderboard.suites import load_suite

    folder = run_job(load_suite(suite, sets), out=Path(out), method=method, helper=helper, seed=seed,
                     progress=not no_progress, remeasure=remeasure)
    click.echo(f"done: {folder}")


@bench_group.command("real-reconstruction")
@click.option("--videos", required=True, type=click.Path(file_okay=False),
              help="A folder of real clips (video files or folders of frames, at any depth; video-folder's layout "
                   "too).")
@click.option("--model", default=None, type=click.Path(),
              help="A bundle from `pgvg export` or a pipeline folder (default: the bundle that ships with pgvg).")
@click.option("--methods", default=None,
              help="Comma-separated: copy-first, warp, layers, network (default: copy-first and every composition "
                   "the model draws: all four for a body model, copy-first and network for a face model).")
@click.option("--frames", type=click.IntRange(2), default=16, show_default=True, help="Frames measured per clip.")
@click.option("--seconds", type=click.FloatRange(min=0.01), default=1.6, show_default=True,
              help="The time the frames span (the stride follows each clip's frame rate).")
@click.option("--size", type=click.IntRange(32, 1024), default=256, show_default=True,
              help="Pixels of the square person crop the frames are compared on.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/real-reconstruction", show_default=True,
              help="Contact sheets, table.md, clips.json and the result files.")
@click.option("--label", default="", help="Put before each method's name in the results (e.g. 'person-'), so "
              "several models measured on the same clips stand in one table.")
@click.option("--pose-source", default=None,
              help="Where the clips' own poses come from (default: the model skeleton's own, mediapipe for bodies "
                   "and mediapipe-face for faces; keypoints-file: a clip.npz / clip.json beside each clip).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="Results database (default as for bench).")
@click.option("--no-db", is_flag=True, help="Write the result files only, no database row.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def bench_reconstruction_command(videos: str, model: str | None, methods: str | None, frames: int, seconds: float,
                                 size: int, label: str, pose_source: str | None, out: str, db: str | None, no_db: bool,
                                 no_progress: bool) -> None:
    """The reconstruction protocol on real clips: each clip's first frame is the photo, the clip's own poses
    drive it, and the frames made are compared with the real ones (L1, SSIM, PSNR, LPIPS-ST, AKD, MKR) on one
    person crop per clip, for each method. `pgvg leaderboard real-reconstruction` shows the stored results."""
    from pgvg_core.leaderboard.reconstruction import Protocol, run_reconstruction
    from pgvg_core.leaderboard.results import ResultsDatabase

    protocol = Protocol(frames=frames, seconds=seconds, size=size, pose_source=pose_source)
    with contextlib.nullcontext() if no_db else ResultsDatabase(db) as database:
        done = run_reconstruction(videos, model=model, methods=[m for m in methods.split(",") if m] if methods else None,
                                  protocol=protocol, out=out, database=database, report=click.echo, label=label,
                                  progress=not no_progress)
    click.echo("\n" + done["table"])
    click.echo(f"protocol {done['protocol_hash'][:16]}; contact sheets, table.md and clips.json in {done['out']}"
               + ("" if no_db else f"; {len(done['results'])} results stored in {database.path}"))


@bench_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="Results database (default as for bench).")
def bench_import_command(paths: tuple[str, ...], db: str | None) -> None:
    """Add the results under run folders (their results/*.json), e.g. made on other machines."""
    from pgvg_core.leaderboard.results import ResultsDatabase, import_result_files

    with ResultsDatabase(db) as database:
        count = import_result_files(paths, database)
    click.echo(f"{count} result(s) imported into {database.path}")


@click.command("leaderboard")
@click.argument("suite", required=False)
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="Results database (default as for bench).")
@click.option("--format", "form", type=click.Choice(["table", "markdown", "csv", "json", "html"]), default="table",
              show_default=True, help="html: one self-contained page (tables, sample GIFs, each metric per seed).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@click.option("--check", "baseline", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A leaderboard saved with --format json: exit 1 when a metric is worse than there (for CI).")
@click.option("--tolerance", type=click.FloatRange(0), default=0.02, show_default=True,
              help="With --check: how much worse than the baseline, as a fraction of its value, is allowed.")
def leaderboard_command(suite: str | None, db: str | None, form: str, out: str | None, baseline: str | None,
                        tolerance: float) -> None:
    """Per method and metric of SUITE (default: every suite stored): mean ± std over seeds, best marked; results
    of different protocols are never in one table."""
    from pathlib import Path

    from pgvg_core.errors import PgvgError
    from pgvg_core.leaderboard.board import format_table, leaderboard
    from pgvg_core.leaderboard.results import ResultsDatabase
    from pgvg_core.leaderboard.suites import load_suite

    loaded = load_suite(suite) if suite and (suite.endswith(".toml") or _is_suite(suite)) else None
    name = loaded.name if loaded else suite
    with ResultsDatabase(db) as database:
        results = database.results(name)
    if not results:
        raise PgvgError(f"no results{' of suite ' + repr(name) if name else ''} in {database.path}; run "
                         "`pgvg bench SUITE` first")
    board = leaderboard(results, loaded)
    if form == "html":
        from pgvg_core.leaderboard.report import html_page

        text = html_page(board, results)
        out = out or "leaderboard.html"
    else:
        text = format_table(board, form)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)
    if baseline:
        import json

        from pgvg_core.leaderboard.board import regressions

        try:
            reference = json.loads(Path(baseline).read_text(encoding="utf-8"))
        except ValueError as error:
            raise PgvgError(f"--check {baseline}: not a leaderboard saved with --format json ({error})") from None
        worse = regressions(board, reference, tolerance)
        for line in worse:
            click.echo(f"regression: {line}", err=True)
        if worse:
            raise SystemExit(1)
        click.echo(f"no regression against {baseline} (tolerance {tolerance:.0%})")


def _is_suite(name: str) -> bool:
    from pgvg_core.leaderboard.suites import SUITES

    return (SUITES / f"{name}.toml").is_file()
