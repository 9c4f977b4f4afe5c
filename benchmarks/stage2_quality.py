"""SCGAN against the pix2pix U-Net baseline on unseen test identities, with true and abnormal poses.

    python benchmarks/stage2_quality.py [--steps 400] [--seeds 0 1 2] [--clips 48] [--out runs/stage2-quality]

Trains experiments/scgan.toml and experiments/pose2image.toml for each seed (the same steps, batch and data;
the LPIPS loss term off in both, for CPU time), then scores each model's frames on the test split with SSIM
and shift-tolerant LPIPS twice: rendering the ground-truth poses, and rendering abnormal poses (severity 0.5,
fixed seed). Prints means and standard deviations over seeds, and the SSIM each model loses to abnormal poses
(the paper's robustness claim: SCGAN's G2 should lose less). Writes everything to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

EXPERIMENTS = {"scgan": "scgan.toml", "pose2image": "pose2image.toml"}


def train_and_score(name: str, seed: int, steps: int, clips: int, out: Path) -> dict[str, dict[str, float]]:
    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.pipeline import EXPERIMENTS as FOLDER
    from pgvg_core.plugins import get_registries
    from pgvg_core.trainer import Trainer, load_run

    from pgvg_core import checkpoint
    from pgvg_core.config import load_config

    run_dir = out / f"{name}-seed{seed}"
    if not checkpoint.list_checkpoints(run_dir):
        overrides = [f"experiment.seed={seed}", f"trainer.steps={steps}", f"trainer.checkpoint_every={steps}",
                     f"trainer.sample_every={steps}", "trainer.log_every=50", "losses.perceptual.weight=0",
                     "trainer.eval_clips=8"]
        config = load_config(FOLDER / EXPERIMENTS[name], overrides, registries=get_registries())
        Trainer(config, run_dir, progress=True).fit()
    run = load_run(run_dir)
    dataset = run.eval_dataset()
    batch = torch.utils.data.default_collate([dataset[i] for i in range(min(clips, len(dataset)))])
    scores = {}
    for pose in ("ground-truth", "abnormal"):
        run.objective.eval_pose = pose
        torch.manual_seed(0)
        prepared = run.objective.prepare(batch, run.device)
        pairs = run.objective.evaluation_pairs(run.nets, prepared)
        values = {}
        for metric_name in ("ssim", "lpips-st"):
            metric = build("metrics", ComponentSpec(name=metric_name))
            metric.update(pairs["real"], pairs["fake"])
            values[metric_name] = next(iter(metric.compute().values()))
        scores[pose] = values
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--out", type=Path, default=Path("runs/stage2-quality"))
    args = parser.parse_args()
    results = {name: [train_and_score(name, seed, args.steps, args.clips, args.out) for seed in args.seeds]
               for name in EXPERIMENTS}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                                       "results": results}, indent=2))
    print(f"test identities, {args.clips} clips x 15 frames, {args.steps} steps, seeds {args.seeds}")
    print(f"{'model':<11} {'poses':<13} {'SSIM':>15} {'LPIPS-ST':>15}")
    for name, runs in results.items():
        for pose in ("ground-truth", "abnormal"):
            ssim = [r[pose]["ssim"] for r in runs]
            lpips = [r[pose]["lpips-st"] for r in runs]
            print(f"{name:<11} {pose:<13} {np.mean(ssim):.4f} ± {np.std(ssim):.4f} "
                  f"{np.mean(lpips):.4f} ± {np.std(lpips):.4f}")
        drop = [r["ground-truth"]["ssim"] - r["abnormal"]["ssim"] for r in runs]
        print(f"{name:<11} SSIM lost to abnormal poses: {np.mean(drop):.4f} ± {np.std(drop):.4f}")


if __name__ == "__main__":
    main()
