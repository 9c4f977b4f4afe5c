"""How fast the datasets make training data, against what pgvg's trainer consumes at its default settings.

    python benchmarks/bench_data.py [--clips 64] [--video-clips 8]

Producers, in the training process (``trainer.num_workers = 0``, the default), one thread, reading items the
way the training loader asks for them:
- ``synthetic-actions`` with frames, as SCGAN's step asks (the first frame and one other, drawn by
  ``Objective.training_frames``, made alone by ``Dataset.frames_of``), and whole 16-frame clips for comparison;
  poses only (``render = false``, what PSGAN reads, whole clips), read twice: the second pass shows what the
  dataset keeps between epochs;
- ``video-folder`` over MP4 clips (written here from synthetic clips, 192x192, 48 frames each, with ``.npz``
  keypoints beside them): making the dataset (it caches each clip's poses and the window of frames it reads,
  decoded and letterboxed: once per clip and settings, kept on disk across runs); then reading as SCGAN
  asks, twice (the first read from the frame cache, the second from memory: ``keep_mb``); and without the
  frame cache and with ``keep_mb = 0`` (each read decodes up to the last frame asked for), also whole clips.

Consumers: SCGAN (``experiments/scgan.toml``, no LPIPS term, as the demo trains it) and the demo's PSGAN
(``experiments/psgan-keypoints.toml``) timed on one prepared batch in the same run: clips/s.

``ratio`` is a producer's clips/s over its consumer's (the issue's bar: at least 20x, so that data costs at
most 5 % of a step). Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def clips_per_second(dataset, clips: int, frames_of: Callable[[int], Sequence[int]] | None = None) -> float:
    """Items/s of reading ``clips`` items of ``dataset`` in order: whole clips, or the frames ``frames_of(i)``
    of clip ``i`` as the training loader asks for them."""
    started = time.perf_counter()
    for index in range(clips):
        index %= len(dataset)
        if frames_of is None:
            dataset[index]
        else:
            dataset.frames_of(index, frames_of(index))
    return clips / (time.perf_counter() - started)


def consumed_clips_per_second(experiment: str, overrides: tuple[str, ...], steps: int = 6
                              ) -> tuple[float, int, Callable[[int], Sequence[int]] | None]:
    """What a trainer consumes: steps/s on one prepared batch x batch size (clips/s), the batch size, and the
    frames its step reads of clip ``i`` (``None``: whole clips), drawn as the trainer draws them."""
    from pgvg_core.config import load_config
    from pgvg_core.training.trainer import Trainer

    config = load_config(ROOT / "experiments" / experiment, (*overrides, "trainer.device=cpu", "metrics=[]"))
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(config, Path(folder) / "run", progress=False)
        batch = config.trainer.batch_size
        choice = trainer._sampler().frame_choice
        frames_of = None if choice is None else (lambda i: choice(torch.Generator().manual_seed(i)))
        items = [trainer.dataset[i] if frames_of is None else trainer.dataset.frames_of(i, frames_of(i))
                 for i in range(batch)]
        raw = torch.utils.data.default_collate(items)
        for _ in range(2):
            trainer.train_step(raw)
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(raw)
        return steps / (time.perf_counter() - started) * batch, batch, frames_of


def write_video_folder(root: Path, clips: int, frames: int = 48, size: int = 192) -> Path:
    """``clips`` MP4s in two class folders under ``root / "videos"``, with ``.npz`` keypoints beside them."""
    from pgvg_data.synthetic import SyntheticActions

    from pgvg_core.media.video import write_video

    source = SyntheticActions(split="train", resolution=size, frames=frames, clips=clips)
    for index in range(clips):
        clip = source.sample(index)
        folder = root / "videos" / source.classes[clip["label"]]
        folder.mkdir(parents=True, exist_ok=True)
        write_video(folder / f"clip{index:03d}.mp4", clip["frames"], fps=25)
        np.savez(folder / f"clip{index:03d}.npz", keypoints=clip["keypoints"])
    return root / "videos"


def video_folder(videos: Path, cache: Path, **params):
    """The dataset over ``videos`` as the training configs make it (64 px, 16 frames at stride 2)."""
    from pgvg_data.video_folder import VideoFolder

    return VideoFolder(root=str(videos), resolution=64, frames=16, stride=2, cache_dir=str(cache), progress=False,
                       **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=64, help="clips read per producer and pass")
    parser.add_argument("--video-clips", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    threads = torch.get_num_threads()  # the trainer as it runs here
    from pgvg_data.synthetic import SyntheticActions

    consumers = {
        "scgan": consumed_clips_per_second("scgan.toml", ("losses.perceptual.weight=0",)),
        "psgan-keypoints": consumed_clips_per_second("psgan-keypoints.toml", ()),
    }
    scgan_frames = consumers["scgan"][2]
    torch.set_num_threads(1)

    producers = {}  # name -> (clips/s, frames a clip, consumer)
    frames = SyntheticActions(split="train", resolution=64, frames=16)
    producers["synthetic-actions, SCGAN's 2 frames"] = (clips_per_second(frames, args.clips, scgan_frames), 2, "scgan")
    producers["synthetic-actions, whole clips"] = (clips_per_second(frames, args.clips), 16, "scgan")
    poses = SyntheticActions(split="train", resolution=64, frames=16, render=False)
    for rank in ("1st", "2nd"):
        producers[f"synthetic-actions poses, {rank} pass"] = (clips_per_second(poses, 8 * args.clips), 16,
                                                              "psgan-keypoints")
    with tempfile.TemporaryDirectory() as folder:
        videos = write_video_folder(Path(folder), args.video_clips)
        started = time.perf_counter()
        dataset = video_folder(videos, Path(folder) / "cache")  # caches poses and frames
        producers["video-folder (MP4), making the dataset: poses and frames cached"] = (
            args.video_clips / (time.perf_counter() - started), 16, "scgan")
        for rank in ("1st", "2nd"):
            producers[f"video-folder (MP4), SCGAN's 2, {rank} pass"] = (
                clips_per_second(dataset, args.video_clips, scgan_frames), 2, "scgan")
        # No frame cache and nothing kept: decodes at every read.
        fresh = video_folder(videos, Path(folder) / "cache", keep_mb=0, cache_frames=False)
        producers["video-folder, no frame cache, keep_mb=0, SCGAN's 2"] = (
            clips_per_second(fresh, 4 * args.video_clips, scgan_frames), 2, "scgan")
        producers["video-folder, no frame cache, keep_mb=0, whole clips"] = (
            clips_per_second(fresh, 4 * args.video_clips), 16, "scgan")
    torch.set_num_threads(threads)

    rows = []
    width = max(len(name) for name in producers)
    print(f"{'producer (1 thread)':{width}s} {'frames':>6s} {'clips/s':>8s} {'consumer (2 threads)':>21s} "
          f"{'clips/s':>8s} {'ratio':>7s}")
    for name, (rate, per_clip, consumer) in producers.items():
        consumed, batch, _ = consumers[consumer]
        rows.append({"producer": name, "frames_per_clip": per_clip, "clips_per_s": round(rate, 1),
                     "consumer": consumer, "consumer_batch": batch, "consumed_clips_per_s": round(consumed, 1),
                     "ratio": round(rate / consumed, 2)})
        print(f"{name:{width}s} {per_clip:6d} {rate:8.0f} {consumer:>21s} {consumed:8.1f} {rate / consumed:6.1f}x")
    print(json.dumps({"benchmark": "bench_data", "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
