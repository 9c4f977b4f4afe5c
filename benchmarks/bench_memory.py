"""Peak memory of training per experiment, resolution and batch size: the process's peak RSS, and CUDA's max
allocated where a GPU is used.

    python benchmarks/bench_memory.py [--experiments scgan psgan] [--resolutions 64 128] [--batches 4 8 16]

Each row trains ``--steps`` steps of ``Trainer.fit`` (data, evaluation and checkpoints off) in a fresh
process, so that its peak RSS is that configuration's alone; the reference row is the same process importing
pgvg and building the experiment without training (what a run holds before its first step). Prints a table
and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = {"psgan": ("psgan.toml", ()), "scgan": ("scgan.toml", ("losses.perceptual.weight=0",))}

CHILD = """
import json, resource, sys, tempfile, torch
from pathlib import Path
from pgvg_core.config import load_config
from pgvg_core.training.trainer import Trainer
experiment, steps, device, *overrides = sys.argv[1:]
config = load_config(Path(experiment), (*overrides, f"trainer.steps={max(int(steps), 1)}", f"trainer.device={device}",
                     "metrics=[]", "trainer.eval_clips=1", "trainer.sample_every=1000000",
                     "trainer.checkpoint_every=1000000", "trainer.log_every=1000000"))
with tempfile.TemporaryDirectory() as folder:
    trainer = Trainer(config, Path(folder) / "run", progress=False)
    if int(steps):
        trainer.fit()
cuda = torch.cuda.max_memory_allocated() if torch.cuda.is_available() and device == "cuda" else None
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "cuda_max_allocated_mb": None if cuda is None else cuda / 2**20}))
"""


def peak(experiment: str, steps: int, device: str, overrides: tuple[str, ...]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "experiments" / experiment), str(steps), device,
                           *overrides], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"{experiment} {' '.join(overrides)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--resolutions", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--batches", nargs="+", type=int, default=[4, 8, 16])
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    rows = []
    print(f"{'experiment':10s} {'res':>4s} {'batch':>5s} {'peak RSS MB':>12s} {'over built':>11s} {'CUDA max MB':>12s}")
    for name in args.experiments:
        experiment, overrides = EXPERIMENTS[name]
        for resolution in args.resolutions:
            common = (*overrides, f"data.params.resolution={resolution}")
            built = peak(experiment, 0, args.device, common)["peak_rss_mb"]
            for batch in args.batches:
                result = peak(experiment, args.steps, args.device, (*common, f"trainer.batch_size={batch}"))
                row = {"experiment": name, "resolution": resolution, "batch": batch, "built_rss_mb": round(built),
                       "peak_rss_mb": round(result["peak_rss_mb"]),
                       "cuda_max_allocated_mb": result["cuda_max_allocated_mb"]}
                rows.append(row)
                cuda = "-" if row["cuda_max_allocated_mb"] is None else f"{row['cuda_max_allocated_mb']:.0f}"
                print(f"{name:10s} {resolution:4d} {batch:5d} {row['peak_rss_mb']:12d} "
                      f"{row['peak_rss_mb'] - row['built_rss_mb']:11d} {cuda:>12s}", flush=True)
    print(json.dumps({"benchmark": "bench_memory", "device": args.device, "torch": torch.__version__, "steps": args.steps,
                      "rows": rows}))


if __name__ == "__main__":
    main()
