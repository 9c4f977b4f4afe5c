"""`pgvg animate` latency for a 16-frame video, per phase: pose estimation, stage 1, stage 2, encoding.

    python benchmarks/bench_animate.py [--resolutions 64 128] [--repeats 3] [--model PATH] [--photo PATH]

For each resolution a two-stage pipeline is made here (``psgan-keypoints`` and ``scgan`` trained for one step:
the latency does not depend on the weights' values, only on the networks) and loaded once. The photo is a
real one of a whole person (by default the woman walking in Sports2D's demo video, fetched with ``pip
download`` as the tests do; ``--photo`` to give another), its pose found by MediaPipe (needed). Each phase
is the median over ``--repeats`` calls of :func:`pgvg_core.app.animate.animate_photo`, model loading excluded;
``--model`` times a trained pipeline or bundle as well. The issue's bar: under 2 s for 128x128 on the CPU.
``--drive VIDEO`` times motion transfer instead (16 frames of the video driving the photo at 512 px, the
driving poses cached by the untimed first call; the bar: under 3 s). Prints a table and, as its last line,
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("pose", "stage1", "stage2", "encode")
DRIVE_PHASES = ("pose", "driving poses", "stage2", "encode")


def photo(folder: Path) -> Path:
    """A real photo of a whole person: the woman walking in Sports2D's demo video (fetched with pip, as the
    tests fetch it; see tests/media.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from media import MediaUnavailable, real_people

    try:
        return real_people(folder, ["sports2d-woman-walking"])["sports2d-woman-walking"]
    except MediaUnavailable as error:
        raise SystemExit(f"bench_animate needs a real photo; give one with --photo ({error})") from None


def one_step_pipeline(folder: Path, resolution: int) -> Path:
    """A pipeline folder (``psgan/``, ``scgan/``) with networks of ``resolution``, trained one step."""
    from pgvg_core.config import load_config
    from pgvg_core.training.trainer import Trainer

    common = (f"data.params.resolution={resolution}", "trainer.steps=1", "trainer.device=cpu", "metrics=[]",
              "trainer.eval_clips=1", "trainer.checkpoint_every=1", "trainer.sample_every=1000")
    stages = {"psgan": ("psgan-keypoints.toml", ()),
              "scgan": ("scgan.toml", ("losses.perceptual.weight=0", "objective.params.refiner_warmup=0"))}
    for name, (experiment, extra) in stages.items():
        config = load_config(ROOT / "experiments" / experiment, (*common, *extra))
        Trainer(config, folder / name, progress=False).fit()
    return folder


def latency(model: Path, image: Path, out: Path, repeats: int, action: str,
            drive: str | None = None) -> dict[str, float]:
    """Median seconds per phase of ``repeats`` animate calls (after one untimed call), and their total."""
    from pgvg_core.app.animate import animate_photo
    from pgvg_core.app.pipeline import Animator

    animator = Animator(model)
    how = dict(drive=drive, max_frames=16) if drive else dict(action=action, frames=16)
    animate_photo(str(image), out=str(out), animator=animator, **how)  # warm (and the driving poses cached)
    runs = [animate_photo(str(image), out=str(out), animator=animator, **how)["seconds"] for _ in range(repeats)]
    medians = {phase: statistics.median(run.get(phase, 0.0) for run in runs)
               for phase in (DRIVE_PHASES if drive else PHASES)}
    return {**medians, "total": statistics.median(sum(run.values()) for run in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolutions", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--action", default="wave-both")
    parser.add_argument("--model", help="also time this trained pipeline folder or bundle")
    parser.add_argument("--photo", help="a photo of a whole person (default: one from Sports2D's demo video)")
    parser.add_argument("--drive", help="time `--drive VIDEO` (16 frames of it) instead of an action")
    parser.add_argument("--media", default=str(Path.home() / ".cache" / "pgvg" / "bench-media"),
                        help="where the default photo is fetched to")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        raise SystemExit("bench_animate needs MediaPipe for the photo's pose: install it as README's 'Pose "
                         "sources' says (pip install --no-deps mediapipe==0.10.21, then its dependencies)")

    image = Path(args.photo) if args.photo else photo(Path(args.media))
    rows = []
    phases = DRIVE_PHASES if args.drive else PHASES
    print(f"{'model':22s} " + " ".join(f"{p[:8]:>8s}" for p in (*phases, "total")) + "   (seconds, 16 frames)")
    with tempfile.TemporaryDirectory() as folder:
        models = {f"untrained {r}x{r}": one_step_pipeline(Path(folder) / f"p{r}", r) for r in args.resolutions}
        if args.model:
            models[Path(args.model).name] = Path(args.model)
        for name, model in models.items():
            seconds = latency(model, image, Path(folder) / "out.mp4", args.repeats, args.action, args.drive)
            rows.append({"model": name, **{k: round(v, 3) for k, v in seconds.items()}})
            print(f"{name:22s} " + " ".join(f"{seconds[p]:8.2f}" for p in (*phases, "total")), flush=True)
    print(json.dumps({"benchmark": "bench_animate", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "image": image.name, "frames": 16, "drive": args.drive, "rows": rows}))


if __name__ == "__main__":
    main()
