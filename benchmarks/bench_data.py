"""How fast the datasets make training data, against what pgvg's trainer consumes at its default settings.

    python benchmarks/bench_data.py [--clips 64] [--video-clips 8]

Producers, in the training process (``trainer.num_workers = 0``, the default), one thread:
- ``synthetic-actions`` rendering frames (what SCGAN trains on), and poses only (``render = false``, what
  PSGAN trains on), each read twice: the second pass shows what the dataset keeps between epochs;
- ``video-folder`` over MP4 clips whose poses are cached (written here from synthetic clips, 192x192, 48
  frames each, with ``.npz`` keypoints beside them; the pose cache is filled before timing).

Consumers: SCGAN (``experiments/scgan.toml``, no LPIPS term, as the demo trains it) and the demo's PSGAN
(``experiments/psgan-keypoints.toml``) timed on one prepared batch in the same run: clips/s x frames per clip.

``ratio`` is a producer's frames/s over the consumer's (the issue's bar: at least 20x, so that data costs at
most 5 % of a step). Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def frames_per_second(dataset, clips: int) -> float:
    """Frames/s of reading ``clips`` items of ``dataset`` (each ``frames`` long) in order."""
    started = time.perf_counter()
    for index in range(clips):
        dataset[index % len(dataset)]
    return clips * dataset.frames / (time.perf_counter() - started)


def consumed_frames_per_second(experiment: str, overrides: tuple[str, ...], steps: int = 6) -> tuple[float, int]:
    """What a trainer consumes: steps/s on one prepared batch x batch size x frames per clip, and the batch."""
    from pgvg_core.config import load_config
    from pgvg_core.trainer import Trainer

    config = load_config(ROOT / "experiments" / experiment, (*overrides, "trainer.device=cpu", "metrics=[]"))
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(config, Path(folder) / "run", progress=False)
        batch = config.trainer.batch_size
        raw = torch.utils.data.default_collate([trainer.dataset[i] for i in range(batch)])
        for _ in range(2):
            trainer.train_step(raw)
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(raw)
        rate = steps / (time.perf_counter() - started)
        return rate * batch * trainer.data.frames, batch


def video_folder(root: Path, clips: int, frames: int = 48, size: int = 192):
    """``clips`` MP4s in two class folders with ``.npz`` keypoints beside them, and the dataset over them."""
    from pgvg_core.video import write_video
    from pgvg_data.synthetic import SyntheticActions
    from pgvg_data.video_folder import VideoFolder

    source = SyntheticActions(split="train", resolution=size, frames=frames, clips=clips)
    for index in range(clips):
        clip = source.sample(index)
        folder = root / "videos" / source.classes[clip["label"]]
        folder.mkdir(parents=True, exist_ok=True)
        write_video(folder / f"clip{index:03d}.mp4", clip["frames"], fps=25)
        np.savez(folder / f"clip{index:03d}.npz", keypoints=clip["keypoints"])
    return VideoFolder(root=str(root / "videos"), resolution=64, frames=16, stride=2,
                       cache_dir=str(root / "cache"), progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=64, help="clips read per producer and pass")
    parser.add_argument("--video-clips", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    from pgvg_data.synthetic import SyntheticActions

    producers = {}
    frames = SyntheticActions(split="train", resolution=64, frames=16)
    producers["synthetic-actions frames, 1st pass"] = frames_per_second(frames, args.clips)
    producers["synthetic-actions frames, 2nd pass"] = frames_per_second(frames, args.clips)
    poses = SyntheticActions(split="train", resolution=64, frames=16, render=False)
    producers["synthetic-actions poses, 1st pass"] = frames_per_second(poses, 8 * args.clips)
    producers["synthetic-actions poses, 2nd pass"] = frames_per_second(poses, 8 * args.clips)
    with tempfile.TemporaryDirectory() as folder:
        videos = video_folder(Path(folder), args.video_clips)
        producers["video-folder (MP4, cached poses)"] = frames_per_second(videos, 4 * args.video_clips)

    torch.set_num_threads(threads)  # the trainer as it runs here
    consumers = {
        "scgan": consumed_frames_per_second("scgan.toml", ("losses.perceptual.weight=0",)),
        "psgan-keypoints": consumed_frames_per_second("psgan-keypoints.toml", ()),
    }

    def consumer_of(producer: str) -> str:  # poses feed stage 1; frames, stage 2
        return "psgan-keypoints" if producer.startswith("synthetic-actions poses") else "scgan"

    rows = []
    print(f"{'producer (1 thread)':36s} {'frames/s':>9s} {'consumer (2 threads)':>22s} {'frames/s':>9s} {'ratio':>7s}")
    for name, rate in producers.items():
        consumer = consumer_of(name)
        consumed, batch = consumers[consumer]
        rows.append({"producer": name, "frames_per_s": round(rate, 1), "consumer": consumer,
                     "consumer_batch": batch, "consumed_frames_per_s": round(consumed, 1),
                     "ratio": round(rate / consumed, 2)})
        print(f"{name:36s} {rate:9.0f} {consumer:>22s} {consumed:9.0f} {rate / consumed:6.1f}x")
    print(json.dumps({"benchmark": "bench_data", "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
