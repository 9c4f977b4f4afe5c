"""``pgvg run`` (one process, or several with torchrun) and ``pgvg metrics`` (a run's logged values)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from pgvg_core.cli.common import _plugins, key_values, launcher_options, only_with_a_launcher

log = logging.getLogger("pgvg")


@click.command("run")
@click.argument("config_file", required=False, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (TOML value).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder (default: runs/<experiment.name>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this folder from its latest checkpoint.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs only).")
@click.option("--from", "from_checkpoint", default=None, metavar="STEP_FILE",
              help="With --resume: start from this checkpoint (e.g. step-0000200.pt) instead of the latest.")
@click.option("--nproc", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Train on this many processes of this machine (torch.distributed.run; the same as `torchrun "
                   "--nproc_per_node N -m pgvg_core.cli run ...`). trainer.batch_size is the global batch.")
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default=None,
              help="Train as a scheduler's job (submitit): `slurm` submits and returns (--wait follows it), `local` "
                   "runs it here as a job; preempted, it checkpoints and is requeued.")
@click.option("--nodes", type=click.IntRange(1), default=1, show_default=True,
              help="With --launcher slurm: nodes of the job (torchrun on each, meeting at the first).")
@click.option("--gpus-per-node", type=click.IntRange(0), default=0, show_default=True,
              help="With --launcher: GPUs on each node (one process each).")
@click.option("--wait", is_flag=True, help="With --launcher slurm: follow the job to its end.")
@launcher_options
def run_command(config_file: str | None, overrides: tuple[str, ...], out: str | None, resume_dir: str | None,
                no_progress: bool, from_checkpoint: str | None, nproc: int, launcher: str | None, nodes: int,
                gpus_per_node: int, wait: bool, partition: str | None, account: str | None, time_min: int,
                slurm_sets: tuple[str, ...]) -> None:
    """Train the experiment in CONFIG_FILE (or continue one with --resume RUN_DIR)."""
    from pgvg_core.errors import PgvgError

    if from_checkpoint and not resume_dir:
        raise PgvgError("--from picks the checkpoint a resumed run starts from: use it with --resume RUN_DIR")
    if resume_dir and config_file:
        raise PgvgError("give either CONFIG_FILE or --resume RUN_DIR, not both (a resumed run uses the "
                        "config.toml saved in its folder; change it with --set)")
    if launcher is None:
        only_with_a_launcher({"--wait": wait, "--partition": partition, "--account": account, "--slurm": slurm_sets,
                              "--nodes": nodes > 1, "--gpus-per-node": gpus_per_node})
    else:
        if from_checkpoint:  # a job resumes from the run's latest checkpoint, as a requeued one must
            raise PgvgError("--from: not with --launcher (the job continues from the run's latest checkpoint)")
        raise SystemExit(submit_run(config_file, overrides, out, resume_dir, launcher=launcher, nodes=nodes,
                                    gpus_per_node=gpus_per_node, wait=wait or launcher == "local", partition=partition,
                                    account=account, time_min=time_min, slurm_sets=slurm_sets, nproc=nproc))
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        raise SystemExit(run_under_torchrun(nproc))

    from pgvg_core.training import distributed
    from pgvg_core.training.trainer import Trainer

    if resume_dir:
        trainer = Trainer.resume(resume_dir, overrides, from_checkpoint=from_checkpoint, progress=not no_progress)
    else:
        config, run_dir = new_run(config_file, overrides, out)
        trainer = Trainer(config, run_dir, progress=not no_progress)
    if trainer.world.main:  # one line, not one per process
        log.info("training %s on %s (%s) -> %s", trainer.config.experiment.name, trainer.device, trainer.precision,
                 trainer.run_dir)
    try:
        result = trainer.fit()
    finally:
        distributed.stop()
    if not trainer.world.main:
        return
    click.echo(f"finished step {result.step} in {result.seconds:.0f}s; run folder: {result.run_dir}")
    for name, values in result.metrics.items():
        shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items() if isinstance(v, float))
        click.echo(f"  {name}: {shown}")


def submit_run(config_file: str | None, overrides: tuple[str, ...], out: str | None, resume_dir: str | None, *,
               launcher: str, nodes: int, gpus_per_node: int, wait: bool, partition: str | None, account: str | None,
               time_min: int, slurm_sets: tuple[str, ...], nproc: int) -> int:
    """`pgvg run --launcher`: the run as one job; its exit code (1 when it failed)."""
    from pathlib import Path

    from pgvg_core.errors import PgvgError
    from pgvg_core.leaderboard.jobs import FAILED, Work
    from pgvg_core.leaderboard.launcher import LaunchOptions, launch_run
    from pgvg_core.training import checkpoint

    if nproc > 1:
        raise PgvgError("--nproc starts processes on this machine; with --launcher give --gpus-per-node (and --nodes)")
    if nodes > 1 and launcher == "local":
        raise PgvgError("--nodes: the local launcher runs on this machine only; use --launcher slurm")
    if resume_dir:
        if not checkpoint.list_checkpoints(Path(resume_dir)):
            raise PgvgError(f"--resume {resume_dir}: no checkpoint there to continue from")
        run_dir, config_file = Path(resume_dir), str(Path(resume_dir) / "config.toml")
    else:
        run_dir = new_run(config_file, overrides, out, f" --launcher {launcher}")[1]
    work = Work(suite="", out=str(run_dir.resolve().parent), run_dir=str(run_dir.resolve()),
                config=str(Path(config_file).resolve()), sets=tuple(overrides))
    options = LaunchOptions(launcher=launcher, gpus_per_run=gpus_per_node, nodes_per_run=nodes, time_min=time_min,
                            partition=partition, account=account, slurm=key_values(slurm_sets, "--slurm"))
    state = launch_run(work, options, wait=wait, report=click.echo)
    return 1 if state == FAILED else 0


def new_run(config_file: str | None, overrides: tuple[str, ...], out: str | None, resume_hint: str = "") -> tuple[Any, Path]:
    """The config of a new run and its folder (``--out``, default runs/<experiment.name>), which must not hold
    a run yet."""
    from pathlib import Path

    from pgvg_core.config import load_config
    from pgvg_core.errors import PgvgError
    from pgvg_core.training import checkpoint

    if not config_file:
        raise PgvgError("missing CONFIG_FILE: pgvg run experiments/psgan.toml (or --resume RUN_DIR)")
    config = load_config(config_file, overrides, registries=_plugins().registries)
    run_dir = Path(out or Path("runs") / config.experiment.name)
    if checkpoint.list_checkpoints(run_dir):
        raise PgvgError(f"{run_dir} already holds a run; continue it with --resume {run_dir}{resume_hint}, or "
                        "choose another --out")
    return config, run_dir


def run_under_torchrun(nproc: int) -> int:
    """This command line again under PyTorch's launcher, ``nproc`` processes on this machine (without
    ``--nproc``); its exit code."""
    import subprocess

    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if not arg.startswith("--nproc="):
            args.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "pgvg_core.cli", *args]
    log.info("starting %d processes: %s", nproc, " ".join(command))
    return subprocess.call(command)




@click.command("metrics")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--csv", "csv_file", default=None, type=click.Path(dir_okay=False),
              help="Write every logged row to this CSV file (one column per loss term).")
def metrics_command(run_dir: str, csv_file: str | None) -> None:
    """The loss terms a run logged (its metrics.jsonl): the last row, or all of them as CSV."""
    from pgvg_core.training.run import read_metrics, write_metrics_csv

    rows = read_metrics(run_dir)
    if csv_file:
        write_metrics_csv(run_dir, csv_file)
        click.echo(f"wrote {csv_file} ({len(rows)} rows, steps {rows[0]['step']} to {rows[-1]['step']})")
    else:
        click.echo(json.dumps(rows[-1]))
