"""``pgvg demo``, ``pgvg animate`` and ``pgvg export``: the two stages put to use."""

from __future__ import annotations

import json
import logging

import click

log = logging.getLogger("pgvg")


@click.command("demo")
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


@click.command("animate")
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
@click.option("--compose", default=None, metavar="NAME",
              help="How stage 2 draws the person at the photo's resolution: one its renderer offers (default its "
                   "first). SCGAN for bodies: layers (default; the frames from the photo's own pixels, arms and "
                   "legs warped over the photo without them), network (stage 2's blend of the warped photo and "
                   "the pixels its network paints; a face model's only one), warp (the layers without removing "
                   "the moved limbs first).")
def animate_command(image: str, action: str | None, drive: str | None, poses_file: str | None, motion: str,
                    drive_person: int, stride: int, max_frames: int | None, fps: float | None,
                    drive_pose_source: str | None, refine_poses: bool | None, canvas: str, model: str | None,
                    out: str, frames: int | None,
                    pose_source: str | None, keypoints: str | None, seed: int, person: int | None, panels: bool,
                    render_size: int, compose: str | None) -> None:
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


@click.command("export")
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
