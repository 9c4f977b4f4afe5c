"""`pgvg score --metric fid` against pytorch-fid's command line on the same images, in one run.

    python benchmarks/bench_fid.py [--images 2000] [--size 64] [--workers 2]

Writes two folders of PNG frames (synthetic-actions train and test identities), makes pytorch-fid's cache hold
the same weights pgvg uses (so both compute the same number), then times, end to end as subprocesses:
pytorch-fid's CLI, `pgvg score` with a cold statistics cache, and `pgvg score` again (real statistics cached).
Prints both FIDs, their relative difference, and the time ratios against pytorch-fid.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_frames(folder: Path, split: str, count: int, size: int) -> None:
    from PIL import Image

    from pgvg_data.synthetic import SyntheticActions

    folder.mkdir(parents=True)
    dataset = SyntheticActions(split=split, resolution=size, frames=16, clips=count // 16 + 1)
    written = 0
    for clip in range(len(dataset)):
        for frame in dataset.sample(clip)["frames"]:
            if written == count:
                return
            Image.fromarray(frame).save(folder / f"{written:05d}.png")
            written += 1


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import torch

    from pgvg_metrics.fid import PYTORCH_FID_FILE, resolve_weights

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "TORCH_HOME": str(root / "torch"), "PGVG_CACHE_DIR": str(root / "cache")}
        os.environ.update(env)
        write_frames(root / "real", "train", args.images, args.size)
        write_frames(root / "fake", "test", args.images, args.size)
        state, info = resolve_weights()
        (root / "torch" / "hub" / "checkpoints").mkdir(parents=True)
        torch.save(state, root / "torch" / "hub" / "checkpoints" / PYTORCH_FID_FILE)

        reference, out = timed([sys.executable, "-m", "pytorch_fid", str(root / "real"), str(root / "fake"),
                                "--device", "cpu", "--num-workers", str(args.workers)], env)
        reference_fid = float(out.strip().split()[-1])
        pgvg = [sys.executable, "-m", "pgvg_core.cli", "score", str(root / "real"), str(root / "fake"),
                "--metric", "fid", "--json", "--no-progress"]
        cold, out = timed(pgvg, env)
        ours = json.loads(out)["fid"]
        warm, _ = timed(pgvg, env)

    print(f"{args.images} + {args.images} PNG frames of {args.size}x{args.size}, CPU, torch threads "
          f"{torch.get_num_threads()}")
    print(f"  pytorch-fid CLI        : {reference:7.1f} s   FID {reference_fid:.4f}")
    print(f"  pgvg score (cold cache): {cold:7.1f} s   FID {ours:.4f}   {reference / cold:.2f}x faster")
    print(f"  pgvg score (warm cache): {warm:7.1f} s                    {reference / warm:.2f}x faster")
    print(f"  relative difference of the FIDs: {abs(ours - reference_fid) / reference_fid:.2e}")


if __name__ == "__main__":
    main()
