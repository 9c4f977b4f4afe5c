"""PSGAN's objective: adversarial (3D PatchGAN, class-conditioned) + heatmap L1 to the ground-truth sequence.

Two optional terms compare joints instead of pixels: ``keypoints`` (positions) and ``motion`` (frame-to-frame
displacements), both read from the generated heatmaps by a soft-argmax. Heatmap L1 between two narrow
Gaussians that do not overlap is the same however far apart they are, so it cannot pull a joint that is
more than a few pixels off; a position error can.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from pgvg_core.config import LossTerm
from pgvg_core.objective import Objective
from pgvg_core.pose import heatmaps_to_keypoints, render_heatmaps, rescale_keypoints, skeleton_image, soft_keypoints
from pgvg_core.sheets import animated_grid, grid


def sequence_heatmaps(keypoints: torch.Tensor, resolution: int, sigma: float) -> torch.Tensor:
    """``[B, T, K, 3|4]`` keypoints -> ``[B, K, T, H, W]`` heatmaps (time as the depth axis)."""
    return render_heatmaps(keypoints, resolution, sigma).permute(0, 2, 1, 3, 4).contiguous()


def sequence_keypoints(heatmaps: torch.Tensor) -> torch.Tensor:
    """``[B, K, T, H, W]`` heatmaps -> ``[B, T, K, 3]`` keypoints."""
    return heatmaps_to_keypoints(heatmaps.permute(0, 2, 1, 3, 4).float())


def skeleton_clip(keypoints: torch.Tensor, resolution: int) -> np.ndarray:
    """``[T, K, 3]`` -> uint8 ``[T, H, W, 3]`` skeleton drawings."""
    return np.stack([skeleton_image(k, resolution) for k in keypoints.cpu().numpy()])


class PSGANObjective(Objective):
    """PSGAN: first pose + action -> pose sequence; adversarial (3D PatchGAN) + heatmap L1.

    Optional (weight 0 by default): ``keypoints``, L1 between generated and true joint positions, and
    ``motion``, L1 between their frame-to-frame displacements; in heatmap widths, over joints visible in the
    true sequence.
    """

    generator_roles = ("generator",)
    discriminator_roles = ("discriminator",)
    default_terms = {
        "adversarial": LossTerm(name="gan-lsgan", weight=1.0),
        "reconstruction": LossTerm(name="heatmap-l1", weight=100.0),
        "keypoints": LossTerm(name="l1", weight=0.0),
        "motion": LossTerm(name="l1", weight=0.0),
    }

    def __init__(self, *, sigma: float = 1.5, heatmap_resolution: int | None = None, best_of: int = 1,
                 **kwargs) -> None:
        """
        :param sigma: heatmap Gaussian width in pixels of a 64-pixel frame (scaled with the frame size).
        :param heatmap_resolution: size of the heatmaps PSGAN works on; default half the frame size (at least 32).
        :param best_of: draw this many sequences (noises) per clip and give the reconstruction, keypoints and
            motion terms only the one closest to the true sequence (best-of-many, Bhattacharyya et al. 2018).
            One true sequence is one of many plausible ones (the same first pose can be on its way up or down):
            a single sample is pulled to their average, a still pose; the best of several is not.
        """
        super().__init__(**kwargs)
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        if best_of < 1:
            raise ValueError(f"best_of must be at least 1, got {best_of}")
        self.best_of = best_of
        self.heatmap_resolution = heatmap_resolution or max(32, self.data.resolution // 2)
        if self.heatmap_resolution % 16 or self.heatmap_resolution < 32:
            raise ValueError(f"heatmap_resolution must be a multiple of 16 and at least 32, got "
                             f"{self.heatmap_resolution}")
        self.scale = self.heatmap_resolution / self.data.resolution  # frame pixels -> heatmap pixels
        self.sigma = sigma * self.data.resolution / 64 * self.scale

    def to_heatmap_pixels(self, keypoints: torch.Tensor) -> torch.Tensor:
        """Keypoints in frame pixels -> heatmap pixels (pixel centres stay centres)."""
        return rescale_keypoints(keypoints, self.scale)

    def to_frame_pixels(self, keypoints: torch.Tensor) -> torch.Tensor:
        return rescale_keypoints(keypoints, 1 / self.scale)

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        keypoints = batch["keypoints"].to(device)  # [B, T, K, 3] in frame pixels
        sequence = sequence_heatmaps(self.to_heatmap_pixels(keypoints), self.heatmap_resolution, self.sigma)
        return {"keypoints": keypoints, "sequence": sequence, "first": sequence[:, :, 0],  # [B, K, T, h, w]
                "label": batch["label"].to(device)}

    def generate_keypoints(self, nets: Mapping[str, nn.Module], first_keypoints: torch.Tensor,
                           label: torch.Tensor) -> torch.Tensor:
        """Stage 1 as stage 2 uses it: first pose ``[B, K, 3]`` (frame pixels) + label -> ``[B, T, K, 3]``."""
        first = sequence_heatmaps(self.to_heatmap_pixels(first_keypoints[:, None]), self.heatmap_resolution,
                                  self.sigma)[:, :, 0]
        return self.to_frame_pixels(sequence_keypoints(nets["generator"](first, label)))

    def generate(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sequence": nets["generator"](batch["first"], batch["label"])}

    def discriminator_terms(self, nets, batch, fakes):
        if "adversarial" not in self.terms:
            return {}
        d, label = nets["discriminator"], batch["label"]
        real = self.term("adversarial", d(batch["sequence"], label), True)
        fake = self.term("adversarial", d(fakes["sequence"], label), False)
        return {"adversarial": 0.5 * (real + fake)}

    def generator_terms(self, nets, batch, fakes):
        terms = {}
        if "adversarial" in self.terms:
            logits = nets["discriminator"](fakes["sequence"], batch["label"])
            terms["adversarial"] = self.term("adversarial", logits, True, for_generator=True)
        sequence = fakes["sequence"]
        if {"reconstruction", "keypoints", "motion"} & set(self.terms) and self.best_of > 1:
            sequence = self.closest_of(nets, batch, sequence)
        if "reconstruction" in self.terms:
            terms["reconstruction"] = self.term("reconstruction", sequence, batch["sequence"])
        if "keypoints" in self.terms or "motion" in self.terms:
            fake = soft_keypoints(sequence.transpose(1, 2))[..., :2]  # [B, T, K, 2] heatmap pixels
            real = self.to_heatmap_pixels(batch["keypoints"])  # [B, T, K, 3]
            visible = (real[..., 2:] > 0).to(fake.dtype)
            fake, real = fake * visible / self.heatmap_resolution, real[..., :2] * visible / self.heatmap_resolution
            if "keypoints" in self.terms:
                terms["keypoints"] = self.term("keypoints", fake, real)
            if "motion" in self.terms:
                both = visible[:, 1:] * visible[:, :-1]
                terms["motion"] = self.term("motion", (fake[:, 1:] - fake[:, :-1]) * both,
                                            (real[:, 1:] - real[:, :-1]) * both)
        return terms

    def closest_of(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor],
                   sequence: torch.Tensor) -> torch.Tensor:
        """``sequence`` and ``best_of - 1`` more draws -> per clip the one whose joints are closest to the true
        ones ``[B, K, T, H, W]`` (chosen without gradient; the chosen one keeps its graph)."""
        draws = [sequence] + [nets["generator"](batch["first"], batch["label"]) for _ in range(self.best_of - 1)]
        stacked = torch.stack(draws, dim=1)  # [B, N, K, T, H, W]
        with torch.no_grad():
            real = self.to_heatmap_pixels(batch["keypoints"])[:, None]  # [B, 1, T, K, 3]
            fake = soft_keypoints(stacked.transpose(2, 3))[..., :2]  # [B, N, T, K, 2]
            visible = (real[..., 2] > 0).to(fake.dtype)
            error = ((fake - real[..., :2]).norm(dim=-1) * visible).sum((2, 3))  # [B, N]
        return stacked[torch.arange(len(stacked), device=stacked.device), error.argmin(dim=1)]

    def samples(self, nets, batch):
        fake = self.to_frame_pixels(sequence_keypoints(self.generate(nets, batch)["sequence"]))  # [B, T, K, 3]
        real = batch["keypoints"]
        size = self.data.resolution
        rows, labels, clips = [], [], []
        for b in range(len(real)):
            action = self.data.classes[int(batch["label"][b])]
            real_clip, fake_clip = skeleton_clip(real[b], size), skeleton_clip(fake[b], size)
            rows += [real_clip, fake_clip]
            labels += [f"{action} real", f"{action} PSGAN"]
            clips.append(np.concatenate([real_clip, fake_clip], axis=2))
        return {"poses": grid(rows, labels), "poses-anim": animated_grid(clips, columns=min(3, len(clips)))}

    def evaluation_pairs(self, nets, batch):
        fake = self.generate(nets, batch)["sequence"]
        return {"real": batch["sequence"], "fake": fake, "labels": batch["label"]}
