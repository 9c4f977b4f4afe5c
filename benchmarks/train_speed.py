"""Training speed of pgvg's stages on one device: steps/s of PSGAN (paper and keypoint-space) and SCGAN, per
precision, with the batch prepared once (the data pipeline is not timed).

    python benchmarks/train_speed.py [--device cpu|cuda] [--steps 20] [--precisions fp32 bf16]

Prints a table and, as its last line, one JSON object with the figures. ``speedup`` is a precision's steps/s
over fp32's for the same experiment in the same process.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import torch

EXPERIMENTS = {
    # name -> (experiment file, overrides)
    "psgan (paper)": ("psgan.toml", ()),
    "psgan-keypoints": ("psgan-keypoints.toml", ()),
    "scgan": ("scgan.toml", ("losses.perceptual.weight=0",)),
}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(experiment: str, overrides: tuple[str, ...], *, device: str, precision: str, batch: int,
                     steps: int, warmup: int) -> float:
    from pgvg_core.config import load_config
    from pgvg_core.trainer import Trainer

    config = load_config(Path("experiments") / experiment,
                         (*overrides, f"trainer.device={device}", f"trainer.precision={precision}",
                          f"trainer.batch_size={batch}", "metrics=[]"))
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(config, Path(folder) / "run", progress=False)
        raw = torch.utils.data.default_collate([trainer.dataset[i] for i in range(batch)])
        for _ in range(warmup):
            trainer.train_step(raw)
        _synchronize(trainer.device)
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(raw)
        _synchronize(trainer.device)
        return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    device = torch.device(args.device)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    rows = []
    for name in args.experiments:
        experiment, overrides = EXPERIMENTS[name]
        baseline = None
        for precision in args.precisions:
            rate = steps_per_second(experiment, overrides, device=args.device, precision=precision,
                                    batch=args.batch, steps=args.steps, warmup=args.warmup)
            baseline = baseline or rate
            rows.append({"experiment": name, "precision": precision, "steps_per_s": round(rate, 2),
                         "speedup": round(rate / baseline, 3)})
            print(f"{name:18s} {precision:5s} {rate:8.2f} steps/s  x{rate / baseline:.2f} of fp32", flush=True)
    print(json.dumps({"device": machine, "torch": torch.__version__, "batch": args.batch, "rows": rows}))


if __name__ == "__main__":
    main()
