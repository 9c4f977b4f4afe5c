"""A small pose estimator trained on synthetic-actions renders: frames -> keypoint heatmaps.

It lets PCK judge generated frames of synthetic people offline (MediaPipe is not trained on such renders).
Train it with ``pgvg run experiments/pose-estimator.toml --out runs/pose-estimator``; the pose source
``synthetic-estimator`` loads it from that run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pgvg_core.blocks import ResBlock2d, down2d, init_weights
from pgvg_core.config import LossTerm
from pgvg_core.errors import DataError
from pgvg_core.interfaces import Evaluator, PoseSource
from pgvg_core.objective import Objective
from pgvg_core.poses.keypoints import heatmaps_to_keypoints, render_heatmaps, rescale_keypoints
from pgvg_core.training import randomness


class PoseEstimatorNet(Evaluator):
    """Frames [B, 3, H, W] in [-1, 1] -> keypoint heatmaps [B, K, H/2, W/2] (for PCK on synthetic renders)."""

    def __init__(self, *, keypoints: int = 18, width: int = 32, n_res_blocks: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            down2d(3, width, norm=False), down2d(width, width * 2), down2d(width * 2, width * 4),  # H/8
            *[ResBlock2d(width * 4) for _ in range(n_res_blocks)],
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(width * 4, width * 2, 3, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(width * 2, width, 3, padding=1), nn.ReLU(inplace=True),  # H/2
            nn.Conv2d(width, keypoints, 3, padding=1),
        )
        init_weights(self)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # A linear output trained with MSE: a sigmoid here saturates at 0 on the mostly empty maps.
        return self.net(frames)


def to_half_pixels(keypoints: torch.Tensor) -> torch.Tensor:
    return rescale_keypoints(keypoints, 0.5)


def to_full_pixels(keypoints: torch.Tensor) -> torch.Tensor:
    return rescale_keypoints(keypoints, 2.0)


class PoseEstimatorObjective(Objective):
    """Trains the pose estimator: heatmap MSE against the exact poses of rendered frames."""

    evaluator_roles = ("estimator",)
    default_terms = {"heatmap": LossTerm(name="mse", weight=1000.0)}

    def __init__(self, *, sigma: float = 1.5, frames_per_clip: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sigma = sigma * self.data.resolution / 64 / 2  # heatmaps at half size
        self.frames_per_clip = frames_per_clip

    def training_frames(self, length: int, generator: torch.Generator) -> list[int]:
        """A training step reads ``frames_per_clip`` frames of each clip at random: the dataset makes only those."""
        return torch.randperm(length, generator=generator)[: self.frames_per_clip].tolist()

    def prepare(self, batch, device):
        frames, keypoints = batch["frames"].to(device), batch["keypoints"].to(device)  # [B, T, ...]
        pick = randomness.randperm(len(frames), frames.shape[1], device=device)[:, : self.frames_per_clip]  # [B, F]
        rows = torch.arange(len(frames), device=device)[:, None]
        images = frames[rows, pick].flatten(0, 1)  # [B*F, 3, H, W]
        points = keypoints[rows, pick].flatten(0, 1)  # [B*F, K, 3]
        size = self.data.resolution // 2
        return {"images": images, "keypoints": points,
                "heatmaps": render_heatmaps(to_half_pixels(points), size, self.sigma)}

    def generate(self, nets, batch):
        return {"heatmaps": nets["estimator"](batch["images"])}

    def discriminator_terms(self, nets, batch, fakes):
        return {}

    def generator_terms(self, nets, batch, fakes):
        return {"heatmap": self.term("heatmap", fakes["heatmaps"], batch["heatmaps"])}

    def evaluation_pairs(self, nets, batch):
        estimated = to_full_pixels(heatmaps_to_keypoints(nets["estimator"](batch["images"])))
        return {"real": batch["keypoints"], "fake": estimated, "is_keypoints": True}


class SyntheticEstimatorPoses(PoseSource):
    """Poses from the pose estimator trained on synthetic-actions renders (``run`` = its run folder)."""

    def __init__(self, *, run: str = "runs/pose-estimator", device: Any = "cpu") -> None:
        from pgvg_core.training import checkpoint
        from pgvg_core.training.run import load_run

        folder = Path(run)
        if not checkpoint.list_checkpoints(folder):
            raise DataError(f"no pose estimator at {folder}: train one on the frames it will read, with `pgvg run "
                            f"experiments/pose-estimator.toml --out {folder}` (synthetic-actions; for other data "
                            "add --set data.name=..., e.g. \"synthetic-faces\")")
        self.run = folder
        self.weights = checkpoint.latest(folder)
        self.net = load_run(folder, device=device).nets["estimator"]
        self.device = torch.device(device)

    @torch.no_grad()
    def estimate(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``[N, 3, H, W]`` in [-1, 1] -> keypoints ``[N, K, 3]`` in their pixels."""
        out = [to_full_pixels(heatmaps_to_keypoints(self.net(frames[i : i + 64].to(self.device).float())))
               for i in range(0, len(frames), 64)]
        return torch.cat(out).cpu()

    def __call__(self, frames: Any, *, clip_path: Path | None = None) -> np.ndarray:
        tensor = torch.from_numpy(np.asarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1
        return self.estimate(tensor).numpy()

    def settings(self) -> dict[str, Any]:
        return {"source": "synthetic-estimator", "weights": str(self.weights)}
