"""The ``pgvg`` command line. Heavy imports (torch, plugins) live inside command bodies so ``--help`` is instant."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from typing import Any

import click

from pgvg_core import __version__

log = logging.getLogger("pgvg")


class UserError(click.ClickException):
    """Bad input: a short message, no traceback, exit code 2."""

    exit_code = 2


def _user_errors() -> tuple[type[BaseException], ...]:
    from pgvg_core.errors import PgvgError
    from registries import RegistryError

    return (PgvgError, RegistryError)


class PgvgGroup(click.Group):
    """Turns pgvg's own errors into short messages (exit 2), unless ``--debug`` asks for the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from pgvg_core.errors import Preempted

        try:
            return super().invoke(ctx)
        except Preempted as stopped:  # a scheduler's SIGTERM or a Ctrl-C, handled: exit as that signal would
            click.echo(f"pgvg: {stopped}", err=True)
            raise SystemExit(stopped.exit_code) from None
        except _user_errors() as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise UserError(str(error)) from None


def _setup_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="pgvg: %(levelname)s: %(message)s", stream=sys.stderr, force=True)
    # Our own progress and results are INFO; third-party chatter stays at WARNING unless --debug.
    logging.getLogger("pgvg").setLevel(logging.DEBUG if debug else logging.INFO)
    for name in ("pgvg_core", "registries"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)


@click.group(cls=PgvgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pgvg")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for more).")
@click.option(
    "--strict",
    is_flag=True,
    envvar="PGVG_STRICT_PLUGINS",
    help="Make a plugin that fails to load fatal (env PGVG_STRICT_PLUGINS=1).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: int, strict: bool) -> None:
    """pgvg: pose-guided human video generation (PSGAN + SCGAN), composed from plugins.

    \b
    Start here:
      pgvg demo                      train both stages on built-in data, write videos and metrics
      pgvg list                      every registered component
      pgvg run experiments/psgan.toml --set trainer.steps=2000
    Plugins named in PGVG_DISABLE_PLUGINS=a,b are not loaded.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _setup_logging(verbose, debug)
    if strict:
        os.environ["PGVG_STRICT_PLUGINS"] = "1"


def _plugins() -> Any:
    from pgvg_core.plugins import get_plugins

    return get_plugins()


def _echo_table(columns: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(soft_wrap=False).print(table)


@main.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {kind, name, plugin, summary}.")
def list_command(kind: str | None, as_json: bool) -> None:
    """List every registered component, by KIND (generators, discriminators, losses, ...)."""
    registries = _plugins().registries
    chosen = [registries[kind.replace("-", "_")]] if kind else list(registries)
    entries = [entry for registry in chosen for entry in registry.entries()]
    if as_json:
        payload = [{"kind": e.kind, "name": e.name, "plugin": e.plugin, "summary": e.summary} for e in entries]
        click.echo(json.dumps(payload, indent=2))
        return
    if not entries:
        click.echo("no components registered; see `pgvg plugins` for plugins that failed or are disabled")
        return
    _echo_table(["kind", "name", "plugin", "summary"], [[e.kind, e.name, e.plugin, e.summary] for e in entries])


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plugin reports.")
def plugins_command(as_json: bool) -> None:
    """List every plugin: distribution, version, status, error, and what it registered."""
    reports = _plugins().reports
    if as_json:
        click.echo(json.dumps([report.as_dict() for report in reports], indent=2))
        return
    rows = []
    for r in reports:
        status = {"ok": "[green]ok[/]", "failed": "[red]failed[/]"}.get(r.status, f"[yellow]{r.status}[/]")
        detail = r.error or ", ".join(r.registered) or "-"
        rows.append([r.name, r.distribution or "-", r.version or "-", status, detail])
    _echo_table(["plugin", "distribution", "version", "status", "registered / error"], rows)


@main.command("show-config")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key (TOML value).")
def show_config_command(config_file: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved, validated CONFIG_FILE (with --set overrides applied) as TOML."""
    from pgvg_core.config import config_to_toml, load_config

    config = load_config(config_file, overrides, registries=_plugins().registries)
    click.echo(config_to_toml(config), nl=False)


@main.command("run")
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
def run_command(config_file: str | None, overrides: tuple[str, ...], out: str | None, resume_dir: str | None,
                no_progress: bool, from_checkpoint: str | None, nproc: int) -> None:
    """Train the experiment in CONFIG_FILE (or continue one with --resume RUN_DIR)."""
    from pathlib import Path

    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        raise SystemExit(_torchrun(nproc))

    from pgvg_core.config import load_config
    from pgvg_core.errors import PgvgError
    from pgvg_core.training import checkpoint, distributed
    from pgvg_core.training.trainer import Trainer

    if from_checkpoint and not resume_dir:
        raise PgvgError("--from picks the checkpoint a resumed run starts from: use it with --resume RUN_DIR")
    if resume_dir:
        if config_file:
            raise PgvgError("give either CONFIG_FILE or --resume RUN_DIR, not both (a resumed run uses the "
                            "config.toml saved in its folder; change it with --set)")
        trainer = Trainer.resume(resume_dir, overrides, from_checkpoint=from_checkpoint, progress=not no_progress)
    else:
        if not config_file:
            raise PgvgError("missing CONFIG_FILE: pgvg run experiments/psgan.toml (or --resume RUN_DIR)")
        config = load_config(config_file, overrides, registries=_plugins().registries)
        run_dir = Path(out or Path("runs") / config.experiment.name)
        if checkpoint.list_checkpoints(run_dir):
            raise PgvgError(f"{run_dir} already holds a run; continue it with --resume {run_dir}, or choose "
                            "another --out")
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


def _torchrun(nproc: int) -> int:
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


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    from pgvg_core.config import apply_override, parse_override

    params: dict[str, Any] = {}
    for pair in pairs:
        apply_override(params, *parse_override(pair))
    return params


def _build_dataset(name: str, split: str | None, pairs: tuple[str, ...]) -> Any:
    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.errors import ConfigError

    params = _parse_params(pairs)
    if split is not None:
        params["split"] = split
    try:
        return build("datasets", ComponentSpec(name=name, params=params), path="data")
    except (ValueError, TypeError) as error:
        raise ConfigError(f"dataset '{name}': {error}") from None


@main.group("data")
def data_group() -> None:
    """Look at datasets: contact sheets, GIFs and statistics."""


_PARAM_OPTION = click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
    help="A dataset parameter (TOML value), e.g. -p resolution=128 or -p root=\"ucf101\".",
)


@data_group.command("preview")
@click.argument("name")
@click.option("--split", default=None, help="Split to show (default: the dataset's first).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="FILE.png (contact sheet) or FILE.gif (animation); default NAME-SPLIT.png.")
@click.option("--clips", type=click.IntRange(1, 64), default=10, show_default=True, help="Clips to show.")
@click.option("--start", type=click.IntRange(0), default=0, show_default=True, help="First clip index.")
@_PARAM_OPTION
def data_preview_command(name: str, split: str | None, out: str | None, clips: int, start: int,
                         params: tuple[str, ...]) -> None:
    """A contact sheet (PNG) or animation (GIF) of dataset NAME, poses drawn over the frames."""
    from pathlib import Path

    import numpy as np

    from pgvg_core.errors import PgvgError
    from pgvg_core.media.sheets import animated_grid, grid, overlay_poses, save_png
    from pgvg_core.media.video import to_uint8, write_video
    from pgvg_core.poses.skeleton import skeleton_by_name

    dataset = _build_dataset(name, split, params)
    split = split or getattr(dataset, "split", "all")
    path = Path(out or f"{name}-{split}.png")
    if path.suffix.lower() not in (".png", ".gif"):
        raise PgvgError(f"--out {path}: use a .png (contact sheet) or .gif (animation) file name")
    indices = range(start, min(start + clips, len(dataset)))
    items = [dataset[i] for i in indices]
    frames = [to_uint8(item["frames"]) for item in items]  # [T, H, W, 3] each
    skeleton = skeleton_by_name(getattr(dataset, "skeleton", "body-18"))
    overlays = [overlay_poses(f, item["keypoints"].numpy(), skeleton=skeleton) for f, item in zip(frames, items)]
    labels = [dataset.classes[int(item["label"])] for item in items]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        clips_side_by_side = [np.concatenate([f, o], axis=2) for f, o in zip(frames, overlays)]
        write_video(path, animated_grid(clips_side_by_side, columns=min(5, len(items))))
    else:
        step = max(1, len(frames[0]) // 8)
        rows, row_labels = [], []
        for f, o, label in zip(frames, overlays, labels):
            rows += [f[::step], o[::step]]
            row_labels += [label, "  + pose"]
        save_png(path, grid(rows, row_labels), scale=2 if frames[0].shape[1] <= 64 else 1)
    click.echo(f"wrote {path} ({len(items)} clips of {type(dataset).__name__}, split {split})")


@data_group.command("stats")
@click.argument("name")
@_PARAM_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_stats_command(name: str, params: tuple[str, ...], as_json: bool) -> None:
    """Classes, clips and frames per split of dataset NAME."""
    from pgvg_core.plugins import get_registries

    factory = get_registries()["datasets"].get(name).factory
    rows = []
    classes: tuple[str, ...] = ()
    for split in getattr(factory, "splits", (None,)):
        dataset = _build_dataset(name, split, params)
        classes = dataset.classes
        frames = getattr(dataset, "frames", None)
        rows.append({"split": split or "-", "classes": len(dataset.classes), "clips": len(dataset),
                     "frames": len(dataset) * frames if frames else None,
                     "identities": getattr(dataset, "num_identities", None)})
    if as_json:
        click.echo(json.dumps({"dataset": name, "classes": list(classes), "splits": rows}, indent=2))
        return
    _echo_table(["split", "classes", "clips", "frames", "identities"],
                [[str(r[k]) if r[k] is not None else "-" for k in ("split", "classes", "clips", "frames", "identities")]
                 for r in rows], title=f"{name}: {', '.join(classes)}")


@main.command("score")
@click.argument("real", type=click.Path(exists=False), required=False)
@click.argument("fake", type=click.Path(exists=False), required=False)
@click.option("--metric", "metrics", multiple=True, help="A metric by name (repeat for more).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--json", "as_json", is_flag=True, help='Print {"<metric>": value, ..., "provenance": {...}}.')
@click.option("--no-cache", is_flag=True, help="Recompute the features of REAL (FID, KID) instead of using the cache.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--conformance", is_flag=True,
              help="Compare each metric (default: every frame metric) with its reference implementation on the "
                   "same files (REAL FAKE, or real photos and degraded copies when they are left out); exit 1 "
                   "when one differs beyond its tolerance.")
def score_command(real: str | None, fake: str | None, metrics: tuple[str, ...], device: str, as_json: bool,
                  no_cache: bool, no_progress: bool, conformance: bool) -> None:
    """Metrics between REAL and FAKE: folders of images, video files, or folders of videos."""
    from pgvg_core.errors import PgvgError

    if (real is None) != (fake is None):
        raise PgvgError("give both REAL and FAKE (or neither, with --conformance)")
    if conformance:
        _conformance(real, fake, list(metrics), device=device, as_json=as_json)
        return
    if real is None or not metrics:
        raise PgvgError("usage: pgvg score REAL FAKE --metric NAME [--metric NAME ...] (see `pgvg list metrics`); "
                        "`pgvg score --conformance` checks the metrics against their reference implementations")
    from pgvg_core.measure.score import score

    result = score(real, fake, list(metrics), device=device, progress=not no_progress, use_cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    inputs = result["provenance"]["inputs"]
    _echo_table(["metric", "value"], [[k, f"{v:.6g}"] for k, v in result.items() if k != "provenance"],
                title=f"{inputs['fake_frames']} fake vs {inputs['real_frames'] or 'cached'} real frames")


def _conformance(real: str | None, fake: str | None, metrics: list[str], *, device: str, as_json: bool) -> None:
    import tempfile
    from pathlib import Path

    from pgvg_core.measure.conformance import run_conformance, write_conformance_set

    with tempfile.TemporaryDirectory(prefix="pgvg-conformance-set-") as folder:
        if real is None:
            real_dir, fake_dir = write_conformance_set(Path(folder))
            source = "scikit-image's sample photos, 128x128 crops, and degraded copies (blur, noise, JPEG, brighter)"
        else:
            real_dir, fake_dir, source = Path(real), Path(fake), f"{real} vs {fake}"
        rows = run_conformance(real_dir, fake_dir, metrics, device=device)
    failed = [row for row in rows if row["status"] == "FAIL"]
    if as_json:
        click.echo(json.dumps({"inputs": source, "checks": rows, "ok": not failed}, indent=2))
    else:
        _echo_table(["metric", "check", "pgvg", "reference", "difference", "tolerance", "status"],
                    [[r["metric"], r["key"], f"{r['pgvg']:.8g}", f"{r['reference_value']:.8g}",
                      f"{r['difference']:.2g}", r["tolerance"], r["status"]]
                     if r["status"] != "skipped" else [r["metric"], "-", "-", "-", "-", "-", "skipped"]
                     for r in rows], title=f"conformance on {source}")
        for reference in dict.fromkeys(r["reference"] for r in rows if "reference" in r):
            click.echo(f"reference: {reference}")
        for row in rows:
            if row["status"] == "skipped":
                click.echo(f"skipped {row['metric']}: {row['reason']}")
    if failed:
        raise SystemExit(1)


@main.command("demo")
@click.option("--out", type=click.Path(file_okay=False), default="demo", show_default=True, help="Output folder.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--quick", is_flag=True, hidden=True, help="A few steps per stage (checks the path, not quality).")
@click.option("--steps-factor", type=click.FloatRange(0.01, 100), default=1.0, show_default=True,
              help="Train the pose and frame stages this many times longer (a finished shorter demo is continued).")
@click.option("--pipeline", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A pipeline file naming the stages to train (default: pgvg's experiments/demo.toml, or "
                   "demo-face.toml with --domain face); a stage 'provides' poses or frames, so a plugin's model "
                   "takes PSGAN's or SCGAN's place.")
@click.option("--domain", type=click.Choice(["body", "face"]), default="body", show_default=True,
              help="body: people doing actions (synthetic-actions); face: faces making expressions, driven by "
                   "68 landmarks (synthetic-faces), the paper's second domain.")
def demo_command(out: str, no_progress: bool, quick: bool, steps_factor: float, pipeline: str | None,
                 domain: str) -> None:
    """Train both stages on synthetic-actions (or, with --domain face, synthetic-faces), then write into OUT:
    per action an MP4 and a GIF (input | generated poses | generated frames | ground truth) for an unseen test
    identity, a contact sheet, loss curves and metrics.json. A second run reuses the trained stages."""
    from pathlib import Path

    from pgvg_core.app.demo import run_demo
    from pgvg_core.app.pipeline import DEMO_PIPELINES
    from pgvg_core.errors import PgvgError

    if pipeline and domain != "body":
        raise PgvgError("give either --pipeline FILE or --domain, not both (a pipeline file names its own data)")
    written = run_demo(Path(out), progress=not no_progress, quick=quick, steps_factor=steps_factor,
                       pipeline=Path(pipeline) if pipeline else DEMO_PIPELINES[domain])
    click.echo(f"pgvg demo: everything is in {out}/")
    for name in ("sheet", "losses", "metrics"):
        click.echo(f"  {name:<10} {written[name]}")
    videos = sorted(p for key, p in written.items() if key.endswith(".mp4"))
    click.echo(f"  videos     {len(videos)} MP4 + {len(videos)} GIF, e.g. {videos[0]}")
    click.echo(f"  models     {out}/psgan, {out}/scgan, {out}/action-classifier (pgvg animate PHOTO --action ACTION --model {out})")
    timing = json.loads(Path(written["metrics"]).read_text())
    stages = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in timing["stage_seconds"].items())
    click.echo(f"  time       {timing['seconds'] / 60:.1f} min ({stages})")


@main.command("animate")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--action", default=None, help="Action to perform (see the model's classes).")
@click.option("--drive", type=click.Path(), default=None,
              help="Move like the person in this video (or folder of frames): frame i of the output follows "
                   "frame i of the video, at its frame rate.")
@click.option("--poses", "poses_file", type=click.Path(), default=None,
              help="Move as this keypoint sequence moves: .npz [T, K, 3] (or [T, P, K, 3]), a folder of OpenPose "
                   "JSON, COCO JSON with several frames, OpenFace .csv (faces).")
@click.option("--motion", type=click.Choice(["relative", "absolute"]), default="relative", show_default=True,
              help="relative: each joint's displacement from the driving first pose, scaled by the body sizes, "
                   "added to the photo's pose; absolute: the driving pose with the photo's bone lengths, placed "
                   "where the photo's person stands.")
@click.option("--drive-person", type=click.IntRange(0), default=0, show_default=True,
              help="Which person of the driving video (0 = the largest in its first frame), tracked over time.")
@click.option("--stride", type=click.IntRange(1), default=1, show_default=True,
              help="Use every S-th frame of the driving video.")
@click.option("--max-frames", type=click.IntRange(2), default=None, help="At most N driven frames.")
@click.option("--fps", type=click.FloatRange(min=0.1), default=None,
              help="Frame rate of the driving sequence (default: the video's; 25 for a keypoints file).")
@click.option("--drive-pose-source", default=None,
              help="Pose source for the driving video (default: as for the photo).")
@click.option("--refine-poses/--poses-as-given", default=None,
              help="Whether stage 2's pose refiner reads the poses (default: PSGAN's yes, a driving video's no: "
                   "measured poses are followed as given).")
@click.option("--canvas", type=click.Choice(["view", "photo"]), default="view", show_default=True,
              help="view: the photo around the person, at the render size; photo: frames of exactly the photo's "
                   "size and place.")
@click.option("--model", "--run", "model", default=None, type=click.Path(),
              help="A bundle from `pgvg export`, or a pipeline folder with psgan/ and scgan/ runs (e.g. the "
                   "demo's --out). Default: the bundle that ships with pgvg.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="FILE.mp4 or FILE.gif.")
@click.option("--frames", type=click.IntRange(2), default=None, help="Frames to write with --action (default: "
              "PSGAN's T).")
@click.option("--pose-source", default=None,
              help="Pose source for the photo (default: mediapipe for a body model, mediapipe-face for a face "
                   "model).")
@click.option("--keypoints", type=click.Path(dir_okay=False), default=None,
              help="The photo's pose as a keypoints file (.npz, OpenPose or COCO .json; a face's 68 landmarks "
                   "as .npz or OpenFace .csv) instead.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed of PSGAN.")
@click.option("--person", type=click.IntRange(0), default=None,
              help="Which person to animate when the keypoints file has several (0 = the largest).")
@click.option("--panels", is_flag=True, help="Also write FILE-panels.mp4: person crop | poses | frames.")
@click.option("--render-size", type=click.IntRange(64, 2048), default=512, show_default=True,
              help="Pixels of the rendered person crop (the person is about 60% of it tall).")
@click.option("--compose", type=click.Choice(["layers", "network", "warp"]), default="layers", show_default=True,
              help="layers: the frames from the photo's own pixels (arms and legs warped over the photo without "
                   "them); network: stage 2's blend of the warped photo and the pixels its network paints (what "
                   "a face model always uses); warp: the layers without removing the moved limbs first.")
def animate_command(image: str, action: str | None, drive: str | None, poses_file: str | None, motion: str,
                    drive_person: int, stride: int, max_frames: int | None, fps: float | None,
                    drive_pose_source: str | None, refine_poses: bool | None, canvas: str, model: str | None,
                    out: str, frames: int | None,
                    pose_source: str | None, keypoints: str | None, seed: int, person: int | None, panels: bool,
                    render_size: int, compose: str) -> None:
    """Animate the person in IMAGE doing ACTION (or, with a face model, the face making the expression ACTION),
    or moving like the person in a video (--drive VIDEO) or a keypoint sequence (--poses FILE)."""
    from pgvg_core.app.animate import animate_photo

    result = animate_photo(image, action=action, model=model, out=out, frames=frames,
                           pose_source=pose_source, keypoints_file=keypoints, seed=seed, person=person,
                           panels=panels, render_size=render_size, compose=compose, drive=drive,
                           poses_file=poses_file, motion=motion, drive_person=drive_person, stride=stride,
                           max_frames=max_frames, canvas=canvas, fps=fps, drive_pose_source=drive_pose_source,
                           refine_poses=refine_poses)
    width, height = result["view"].size
    click.echo(f"wrote {result['video']} ({result['frames']} frames at {result['fps']:g} fps, {width}x{height}; "
               f"crop and poses: {result['crop_file']})")
    driving = result["driving"]
    if driving is not None and driving.lost_frames:
        click.echo(f"note: the driving person was lost in {len(driving.lost_frames)} of {result['frames']} frames; "
                   "their poses were interpolated (see the JSON)")
    if "panels" in result:
        click.echo(f"wrote {result['panels']}")
    for warning in result["warnings"]:
        click.echo(f"note: {warning}")


@main.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The bundle file to write (.pt).")
@click.option("--from", "base", default=None, type=click.Path(dir_okay=False),
              help="A bundle to take a stage from where RUN_DIR has no run of it (e.g. your own psgan/ beside "
                   "the shipped SCGAN).")
def export_command(run_dir: str, out: str, base: str | None) -> None:
    """Write an inference bundle of a pipeline folder (psgan/ and scgan/ runs): both generators in half
    precision, their configs, the classes, the skeleton and provenance, in one file that loads with
    torch.load(weights_only=True). `pgvg animate --model FILE` uses it."""
    from pgvg_core.app.bundle import export_bundle

    written = export_bundle(run_dir, out, base=base)
    steps = ", ".join(f"{name} {count} steps" for name, count in written["steps"].items())
    click.echo(f"wrote {written['file']} ({written['bytes'] / 1e6:.1f} MB; {steps}; sha256 of the weights "
               f"{written['sha256'][:16]}...)")



class BenchGroup(click.Group):
    """``pgvg bench SUITE ...`` runs a suite; ``pgvg bench import RUN_DIR ...`` gathers results."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)


@main.group("bench", cls=BenchGroup)
def bench_group() -> None:
    """Leaderboard runs: `pgvg bench SUITE` trains and measures each method x seed of a suite (a name in
    pgvg_core/suites/ or a file) and stores every result; `pgvg bench import RUN_DIR...` adds results made
    elsewhere. Show them with `pgvg leaderboard`."""


@bench_group.command("run")
@click.argument("suite")
@click.option("--methods", default=None, help="Comma-separated methods of the suite (default: all).")
@click.option("--seeds", type=click.IntRange(1), default=None, help="Only the first N seeds of the protocol.")
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
def bench_run_command(suite: str, methods: str | None, seeds: int | None, db: str | None, out: str,
                      no_progress: bool, nproc: int, remeasure: bool) -> None:
    """Train and measure every method x seed of SUITE."""
    from pathlib import Path

    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        raise SystemExit(_torchrun(nproc))

    from pgvg_core.leaderboard.bench import format_table, leaderboard, load_suite, run_suite
    from pgvg_core.leaderboard.results import ResultsDatabase
    from pgvg_core.training import distributed

    loaded = load_suite(suite)
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


@bench_group.command("real-reconstruction")
@click.option("--videos", required=True, type=click.Path(file_okay=False),
              help="A folder of real clips (video files or folders of frames, at any depth; video-folder's layout "
                   "too).")
@click.option("--model", default=None, type=click.Path(),
              help="A bundle from `pgvg export` or a pipeline folder (default: the bundle that ships with pgvg).")
@click.option("--methods", default=",".join(("copy-first", "warp", "layers", "network")), show_default=True,
              help="Comma-separated: copy-first, warp, layers, network.")
@click.option("--frames", type=click.IntRange(2), default=16, show_default=True, help="Frames measured per clip.")
@click.option("--seconds", type=click.FloatRange(min=0.01), default=1.6, show_default=True,
              help="The time the frames span (the stride follows each clip's frame rate).")
@click.option("--size", type=click.IntRange(32, 1024), default=256, show_default=True,
              help="Pixels of the square person crop the frames are compared on.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/real-reconstruction", show_default=True,
              help="Contact sheets, table.md, clips.json and the result files.")
@click.option("--label", default="", help="Put before each method's name in the results (e.g. 'person-'), so "
              "several models measured on the same clips stand in one table.")
@click.option("--pose-source", default="mediapipe", show_default=True,
              help="Where the clips' own poses come from (keypoints-file: a clip.npz / clip.json beside each clip).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="Results database (default as for bench).")
@click.option("--no-db", is_flag=True, help="Write the result files only, no database row.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def bench_reconstruction_command(videos: str, model: str | None, methods: str, frames: int, seconds: float,
                                 size: int, label: str, pose_source: str, out: str, db: str | None, no_db: bool,
                                 no_progress: bool) -> None:
    """The reconstruction protocol on real clips: each clip's first frame is the photo, the clip's own poses
    drive it, and the frames made are compared with the real ones (L1, SSIM, PSNR, LPIPS-ST, AKD, MKR) on one
    person crop per clip, for each method. `pgvg leaderboard real-reconstruction` shows the stored results."""
    from pgvg_core.leaderboard.reconstruction import Protocol, run_reconstruction
    from pgvg_core.leaderboard.results import ResultsDatabase

    protocol = Protocol(frames=frames, seconds=seconds, size=size, pose_source=pose_source)
    with contextlib.nullcontext() if no_db else ResultsDatabase(db) as database:
        done = run_reconstruction(videos, model=model, methods=[m for m in methods.split(",") if m],
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


@main.command("leaderboard")
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
    from pgvg_core.leaderboard.bench import format_table, leaderboard, load_suite
    from pgvg_core.leaderboard.results import ResultsDatabase

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

        from pgvg_core.leaderboard.bench import regressions

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
    from pgvg_core.leaderboard.bench import SUITES

    return (SUITES / f"{name}.toml").is_file()


@main.command("metrics")
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
