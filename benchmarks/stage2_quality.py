"""SCGAN against the pix2pix U-Net baseline on unseen test identities, with true and abnormal poses.

    python benchmarks/stage2_quality.py [--steps 400] [--seeds 0 1 2] [--clips 32] [--out runs/stage2-quality]
                                        [--models scgan pose2image scgan-nowarp] [--psgan MODEL]

Trains each model for each seed (the same steps, batch and data; the LPIPS loss term off in all, for CPU time)
and scores its frames on the test split: SSIM, shift-tolerant LPIPS and PCK (how well the frames follow the
pose, by the synthetic pose estimator, trained once into OUT/pose-estimator), twice: rendering the
ground-truth poses, and rendering abnormal poses (severity 0.5, fixed seed). Two references that learn
nothing put the numbers in scale: ``copy-source`` (every frame is the source image) and ``warp-only`` (the
source warped limb-wise into the pose, the starting point of SCGAN's generator). Prints means and standard
deviations over seeds and the SSIM each model loses to abnormal poses (the paper's robustness claim: SCGAN's
G2 should lose less). Writes everything to OUT/results.json.

``scgan-nowarp`` is SCGAN with the paper's generator (no warped source, hence no pose refiner either), the
ablation of that choice; ``scgan-nosc`` is SCGAN without semantic consistency (no consistency loss, no D_which),
the paper's own ablation. Besides all abnormal-pose errors at once, each kind is measured alone
(``CORRUPTIONS``): joints drawn bigger or smaller, joints missing, the pose shifted, rescaled, joints
displaced, left and right swapped. With ``--psgan MODEL`` (a bundle or a pipeline folder), also the poses that
model's stage 1 makes from each clip's first pose and action (``psgan``): does stage 2 keep the person
(LPIPS-ST to the true frames) and follow the poses it was given (PCK against them)?
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

MODELS = {
    "scgan": ("scgan.toml", ()),
    "pose2image": ("pose2image.toml", ()),
    "scgan-nowarp": ("scgan.toml", ("generators.g1.params.warp=false", "generators.g2.params.warp=false",
                                    "generators.g2.params.refine_pose=false")),
    # SCGAN in the NCHW layout (its default is NHWC): does the faster layout train as well?
    "scgan-nchw": ("scgan.toml", ("trainer.channels_last=false",)),
    # The paper's ablation: SCGAN without semantic consistency (no consistency loss, no D_which).
    "scgan-nosc": ("scgan.toml", ("losses.consistency.weight=0", "losses.which.weight=0")),
}
POSES = ("ground-truth", "abnormal")
# One corruption at a time (abnormal-pose's switches), at the same severity and seed: which errors cost what.
# "sizes" and "missing" are the paper's abnormal poses (joints drawn bigger or smaller; joints missing because
# of weak responses); the others are errors PSGAN makes.
CORRUPTIONS = {"sizes": "sigma", "missing": "drop", "shifted": "shift", "rescaled": "scale",
               "displaced": "displace", "swapped": "swap"}


def train(config_file: str, overrides: tuple[str, ...], run_dir: Path) -> None:
    from pgvg_core.app.pipeline import EXPERIMENTS as FOLDER
    from pgvg_core.config import load_config
    from pgvg_core.plugins import get_registries
    from pgvg_core.training import checkpoint
    from pgvg_core.training.trainer import Trainer

    if checkpoint.list_checkpoints(run_dir):
        return
    config = load_config(FOLDER / config_file, overrides, registries=get_registries())
    Trainer(config, run_dir, progress=True).fit()


class Scorer:
    """SSIM, LPIPS-ST and PCK of clips ``[B, T, 3, H, W]`` against the test clips, for any frame maker."""

    def __init__(self, clips: int, out: Path, psgan: str | None = None) -> None:
        from pgvg_augment.abnormal import AbnormalPose

        from pgvg_core.config import ComponentSpec, build

        estimator = out / "pose-estimator"
        train("pose-estimator.toml", ("trainer.steps=300", "trainer.checkpoint_every=300"), estimator)  # as in the demo
        self.estimator = estimator
        # The test split of experiments/scgan.toml's data (pose2image.toml's is the same).
        dataset = build("datasets", ComponentSpec(name="synthetic-actions",
                                                  params={"resolution": 64, "frames": 16, "split": "test"}))
        self.batch = torch.utils.data.default_collate([dataset[i] for i in range(min(clips, len(dataset)))])
        keypoints = self.batch["keypoints"][:, 1:]  # [B, T-1, K, 3]: every frame after the source
        # The same abnormal poses for every model (what the objectives' eval_pose="abnormal" renders).
        abnormal = AbnormalPose(severity=0.5, jitter=False)
        params = abnormal.sample(keypoints.shape, torch.Generator().manual_seed(1234))
        self.poses = {"ground-truth": keypoints, "abnormal": abnormal.apply(keypoints, params)}
        switches = dict.fromkeys(("sigma", "scale", "shift", "displace", "drop", "swap", "jitter"), False)
        for kind, switch in CORRUPTIONS.items():
            # Every clip corrupted in this way only; drops and swaps at their full rate (severity 1) so that the
            # kind is measured, not diluted by clips it left alone.
            only = AbnormalPose(severity=1.0 if switch in ("drop", "swap") else 0.5, **{**switches, switch: True})
            self.poses[kind] = only.apply(keypoints, only.sample(keypoints.shape, torch.Generator().manual_seed(1234)))
        if psgan:
            from pgvg_core.app.pipeline import Animator

            stage1 = Animator(psgan)
            first, labels = self.batch["keypoints"][:, 0], self.batch["label"]
            self.poses["psgan"] = torch.stack([stage1.poses(first[b], stage1.classes[int(labels[b])], seed=b)
                                               for b in range(len(labels))])[:, 1:]

    def score(self, make_frames: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, dict[str, float]]:
        """``make_frames(keypoints [B, T, K, 3|4]) -> [B, T, 3, H, W]``; PCK is against the poses rendered."""
        from pgvg_core.config import ComponentSpec, build

        real = self.batch["frames"][:, 1:]
        scores = {}
        for pose, keypoints in self.poses.items():
            torch.manual_seed(0)
            fake = make_frames(keypoints)
            values = {}
            # LPIPS-ST is the slow one: measured on true and abnormal poses, not per corruption kind.
            for name in ("ssim", "lpips-st", "pck") if pose in (*POSES, "psgan") else ("ssim", "pck"):
                params = {"pose_params": {"run": str(self.estimator)}} if name == "pck" else {}
                metric = build("metrics", ComponentSpec(name=name, params=params))
                metric.update(real, fake, keypoints=keypoints[..., :3] if name == "pck" else None)
                values[name] = next(iter(metric.compute().values()))
            scores[pose] = values
        return scores


def score_model(scorer: Scorer, name: str, seed: int, steps: int, out: Path) -> dict[str, dict[str, float]]:
    from pgvg_core.training.run import load_run

    config_file, extra = MODELS[name]
    run_dir = out / f"{name}-seed{seed}"
    train(config_file, (f"experiment.seed={seed}", f"trainer.steps={steps}", f"trainer.checkpoint_every={steps}",
                        f"trainer.sample_every={steps}", "trainer.log_every=50", "losses.perceptual.weight=0",
                        "trainer.eval_clips=8", *extra), run_dir)
    run = load_run(run_dir)
    generator = run.nets[run.objective.eval_generator]
    batch = scorer.batch
    return scorer.score(lambda keypoints: run.objective.render_clip(
        generator, batch["frames"][:, 0], batch["keypoints"][:, 0], keypoints))


def references(scorer: Scorer) -> dict[str, dict[str, dict[str, float]]]:
    from pgvg_scgan.warp import limb_warp, warp_image

    frames = scorer.batch["frames"]  # [B, T, 3, H, W]
    source, source_keypoints = frames[:, :1], scorer.batch["keypoints"][:, :1]

    def copy_source(keypoints: torch.Tensor) -> torch.Tensor:
        return source.expand(-1, keypoints.shape[1], -1, -1, -1)

    def warp_only(keypoints: torch.Tensor) -> torch.Tensor:
        size, length = keypoints.shape[:2]
        repeat = lambda t: t.expand(-1, length, *t.shape[2:]).flatten(0, 1)  # noqa: E731
        grid, _ = limb_warp(repeat(source_keypoints), keypoints.flatten(0, 1)[..., :3], tuple(frames.shape[-2:]))
        return warp_image(repeat(source), grid).view(size, length, *frames.shape[2:])

    return {"copy-source": scorer.score(copy_source), "warp-only": scorer.score(warp_only)}


def summary(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["scgan", "pose2image"])
    parser.add_argument("--out", type=Path, default=Path("runs/stage2-quality"))
    parser.add_argument("--psgan", default=None, help="also render this model's stage-1 poses (bundle or folder)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scorer = Scorer(args.clips, args.out, args.psgan)
    results = {name: [score] for name, score in references(scorer).items()}
    for name in args.models:  # results.json is rewritten after each model: an interrupted run keeps its part
        results[name] = [score_model(scorer, name, seed, args.steps, args.out) for seed in args.seeds]
        (args.out / "results.json").write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                                           "results": results}, indent=2))
    print("SSIM on [0, 1] (data range 1), as scikit-image computes it on uint8 images")
    print(f"test identities, {args.clips} clips x {scorer.batch['frames'].shape[1] - 1} frames, "
          f"{args.steps} steps, seeds {args.seeds} (references learn nothing: one value)")
    print(f"{'model':<13} {'poses':<13} {'SSIM ↑':>17} {'LPIPS-ST ↓':>17} {'PCK ↑':>17}")
    for name, runs in results.items():
        for pose in POSES:
            cells = [summary([r[pose][metric] for r in runs]) for metric in ("ssim", "lpips-st", "pck")]
            print(f"{name:<13} {pose:<13} {cells[0]:>17} {cells[1]:>17} {cells[2]:>17}")
        drop = [r["ground-truth"]["ssim"] - r["abnormal"]["ssim"] for r in runs]
        print(f"{name:<13} SSIM lost to abnormal poses: {summary(drop)}")
    if args.psgan:
        print(f"PSGAN's poses ({args.psgan}): SSIM and LPIPS-ST to the true frames, PCK to the poses given")
        for name, runs in results.items():
            cells = [summary([r["psgan"][metric] for r in runs]) for metric in ("ssim", "lpips-st", "pck")]
            print(f"{name:<13} {'psgan':<13} {cells[0]:>17} {cells[1]:>17} {cells[2]:>17}")
    print("SSIM lost to each kind of abnormal pose (ground truth minus corrupted; mean ± std over seeds):")
    print(f"{'model':<13} " + " ".join(f"{kind:>17}" for kind in CORRUPTIONS))
    for name, runs in results.items():
        cells = [summary([r["ground-truth"]["ssim"] - r[kind]["ssim"] for r in runs]) for kind in CORRUPTIONS]
        print(f"{name:<13} " + " ".join(f"{cell:>17}" for cell in cells))


if __name__ == "__main__":
    main()
