"""Frames per second of the synthetic-actions generator on one core, against a reference in the same run.

    python benchmarks/bench_synthetic_data.py [--clips 200] [--resolution 64]

The reference is the cost of only copying the frames into a torch tensor of the same size (the least any data
pipeline does), so the ratio says how much dearer generating a clip is than moving it. The issue's bar:
at least 2,000 frames/s at 64x64 on one core.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pgvg_data.synthetic import SyntheticActions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = SyntheticActions(split="train", clips=args.clips, resolution=args.resolution, frames=args.frames)
    dataset[0]  # warm the identity cache and imports

    start = time.perf_counter()
    for i in range(args.clips):
        dataset[i]
    generate = time.perf_counter() - start

    frames = np.zeros((args.frames, args.resolution, args.resolution, 3), np.uint8)
    start = time.perf_counter()
    for _ in range(args.clips):
        torch.from_numpy(frames.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    reference = time.perf_counter() - start

    total = args.clips * args.frames
    print(f"synthetic-actions {args.resolution}x{args.resolution}, T={args.frames}, {args.clips} clips, 1 thread")
    print(f"  generate + to tensor: {total / generate:8.0f} frames/s")
    print(f"  to tensor only      : {total / reference:8.0f} frames/s (reference)")
    print(f"  ratio generate/reference time: {generate / reference:.1f}x")
    verdict = "meets" if total / generate >= 2000 else "MISSES"
    print(f"  {verdict} the 2,000 frames/s bar")


if __name__ == "__main__":
    main()
