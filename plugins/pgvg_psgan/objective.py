"""PSGAN's objective: adversarial (3D PatchGAN, class-conditioned) + heatmap L1 to the ground-truth sequence.

Two optional terms compare joints instead of pixels: ``keypoints`` (positions) and ``motion`` (frame-to-frame
displacements), both read from the generated heatmaps by a soft-argmax. Heatmap L1 between two narrow
Gaussians that do not overlap is the same however far apart they are, so it cannot pull a joint that is
more than a few pixels off; a position error can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from pgvg_core.config import LossTerm
from pgvg_core.interfaces import PoseSequenceGenerator
from pgvg_core.media.sheets import animated_grid, grid
from pgvg_core.objective import Objective, PoseSequenceModel
from pgvg_core.poses.keypoints import (
    body_size,
    heatmaps_to_keypoints,
    render_heatmaps,
    rescale_keypoints,
    skeleton_image,
    soft_keypoints,
)
from pgvg_core.poses.skeleton import BODY_18, Skeleton
from pgvg_core.training import randomness


def with_posture(posture: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``batch`` with its clips' keypoints ``[B, T, K, 3]`` moved to other postures (or as it is without one)."""
    return batch if posture is None else {**batch, "keypoints": randomness.augment(posture, batch["keypoints"])}


def sequence_heatmaps(keypoints: torch.Tensor, resolution: int, sigma: float) -> torch.Tensor:
    """``[B, T, K, 3|4]`` keypoints -> ``[B, K, T, H, W]`` heatmaps (time as the depth axis)."""
    return render_heatmaps(keypoints, resolution, sigma).permute(0, 2, 1, 3, 4).contiguous()


def sequence_keypoints(heatmaps: torch.Tensor) -> torch.Tensor:
    """``[B, K, T, H, W]`` heatmaps -> ``[B, T, K, 3]`` keypoints."""
    return heatmaps_to_keypoints(heatmaps.permute(0, 2, 1, 3, 4).float())


def skeleton_clip(keypoints: torch.Tensor, resolution: int, skeleton: Skeleton = BODY_18) -> np.ndarray:
    """``[T, K, 3]`` -> uint8 ``[T, H, W, 3]`` skeleton drawings."""
    return np.stack([skeleton_image(k, resolution, skeleton=skeleton) for k in keypoints.cpu().numpy()])


#: The ``timing`` term's frame differences: steps over 1, 2 and 4 frames. Their spread says how fast and how
#: often a joint moves: a mouth opening and closing twice in a clip and one that flickers every frame have the
#: same one-frame steps, not the same two- and four-frame ones.
TIMING_LAGS = (1, 2, 4)


def timeless(fake: torch.Tensor, real: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the ``timing`` term compares: each joint coordinate's values over the clip and its differences over
    ``TIMING_LAGS`` frames, each sorted in time, around the skeleton's centre in every frame. ``fake``,
    ``real`` ``[B, T, K, 2]`` (masked by ``visible`` ``[B, T, K, 1]``) -> two ``[B, T', K, 2]``.

    L1 between sorted values is the 1-D Wasserstein distance between their distributions over time: it asks
    that the generated clip pass through the true clip's poses at the true speeds, whenever it does. A brief
    event at a random time (a blink, a syllable) averages to nothing under a frame-by-frame loss; here it
    costs the same wherever it happens, so it must happen."""
    def centred(xy: torch.Tensor) -> torch.Tensor:
        centre = (xy * visible).sum(2, keepdim=True) / visible.sum(2, keepdim=True).clamp(min=1)
        return (xy - centre) * visible

    def sorted_in_time(xy: torch.Tensor) -> torch.Tensor:
        parts = [xy]
        for lag in TIMING_LAGS:
            if lag < xy.shape[1]:
                parts.append((xy[:, lag:] - xy[:, :-lag]) * visible[:, lag:] * visible[:, :-lag])
        return torch.cat([part.sort(dim=1).values for part in parts], dim=1)

    return sorted_in_time(centred(fake)), sorted_in_time(centred(real))


class PSGANObjective(Objective, PoseSequenceModel):
    """PSGAN: first pose + action -> pose sequence; adversarial (3D PatchGAN) + heatmap L1.

    Optional (weight 0 by default): ``keypoints``, L1 between generated and true joint positions, ``motion``,
    L1 between their frame-to-frame displacements, and ``timing``, L1 between both sorted in time (around the
    skeleton's centre; see :func:`timeless`); in body sizes (of the true first pose), over joints visible in
    the true sequence.

    With a keypoint-space generator (a ``PoseSequenceGenerator`` such as ``psgan-keypoints``) the joints come
    from the generator itself, exactly; heatmaps are drawn only for the terms that compare heatmaps
    (``reconstruction``, ``adversarial``). With ``adversarial`` off, the discriminator may be left out of the
    config.
    """

    generator_roles = ("generator",)
    discriminator_roles = ("discriminator",)
    optional_roles = ("discriminator",)
    #: ``posture``: training clips moved to other postures (``augmentations.posture``, e.g. ``posture``).
    augmentation_slots = ("posture",)
    default_terms = {
        "adversarial": LossTerm(name="gan-lsgan", weight=1.0),
        "reconstruction": LossTerm(name="heatmap-l1", weight=100.0),
        "keypoints": LossTerm(name="l1", weight=0.0),
        "motion": LossTerm(name="l1", weight=0.0),
        "timing": LossTerm(name="l1", weight=0.0),
    }

    def __init__(self, *, sigma: float = 1.5, heatmap_resolution: int | None = None, best_of: int = 1,
                 **kwargs) -> None:
        """
        :param sigma: heatmap Gaussian width in pixels of a 64-pixel frame (scaled with the frame size).
        :param heatmap_resolution: size of the heatmaps PSGAN works on; default half the frame size (at least 32).
        :param best_of: draw this many sequences (noises) per clip and give the reconstruction, keypoints and
            motion terms only the one closest to the true sequence (best-of-many, Bhattacharyya et al. 2018).
            One true sequence is one of many plausible ones (the same first pose can be on its way up or down,
            fast or slow): a single sample is pulled to their average, a pose that barely moves; the best of
            several is not, and the other draws are free to cover the other performances.
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
        self.compares_heatmaps = bool({"reconstruction", "adversarial"} & set(self.terms))

    def uses(self, role: str) -> bool:
        return role != "discriminator" or "adversarial" in self.terms

    def to_heatmap_pixels(self, keypoints: torch.Tensor) -> torch.Tensor:
        """Keypoints in frame pixels -> heatmap pixels (pixel centres stay centres)."""
        return rescale_keypoints(keypoints, self.scale)

    def to_frame_pixels(self, keypoints: torch.Tensor) -> torch.Tensor:
        return rescale_keypoints(keypoints, 1 / self.scale)

    def heatmaps(self, keypoints: torch.Tensor) -> torch.Tensor:
        """``[B, T, K, 3]`` in heatmap pixels -> ``[B, K, T, h, w]``."""
        return sequence_heatmaps(keypoints, self.heatmap_resolution, self.sigma)

    def training_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return with_posture(self.augmentations.get("posture"), batch)

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        keypoints = batch["keypoints"].to(device)  # [B, T, K, 3] in frame pixels
        joints = self.to_heatmap_pixels(keypoints)
        prepared = {"keypoints": keypoints, "joints": joints, "label": batch["label"].to(device),
                    "first": self.heatmaps(joints[:, :1])[:, :, 0]}  # [B, K, h, w]
        if self.compares_heatmaps:
            prepared["sequence"] = self.heatmaps(joints)  # [B, K, T, h, w]
        return prepared

    def generate_keypoints(self, nets: Mapping[str, nn.Module], first_keypoints: torch.Tensor,
                           label: torch.Tensor) -> torch.Tensor:
        """Stage 1 as stage 2 uses it: first pose ``[B, K, 3]`` (frame pixels) + label -> ``[B, T, K, 3]``."""
        generator = nets["generator"]
        first = self.to_heatmap_pixels(first_keypoints)
        if isinstance(generator, PoseSequenceGenerator):
            joints = generator.keypoint_sequence(first, label, size=(self.heatmap_resolution,) * 2)
        else:
            joints = sequence_keypoints(generator(self.heatmaps(first[:, None])[:, :, 0], label))
        sequence = self.to_frame_pixels(joints)
        sequence[:, 0] = first_keypoints[..., :3]  # the contract: frame 0 is the given pose, exactly
        return sequence

    def generate(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``sequence``: heatmaps ``[B, K, T, h, w]``; a keypoint-space generator also gives ``joints``
        ``[B, T, K, 3]`` (heatmap pixels) and, with ``best_of``, every draw as ``draws`` ``[B, N, T, K, 3]``
        (and, from a generator with ``noise_dim``, the noise of each as ``noise`` ``[B, N, Z]``)."""
        generator = nets["generator"]
        if not isinstance(generator, PoseSequenceGenerator):
            return {"sequence": generator(batch["first"], batch["label"])}
        first, label = batch["joints"][:, 0], batch["label"]
        size = (self.heatmap_resolution,) * 2
        draws = self.best_of if self.uses_draws else 1
        noise_dim = getattr(generator, "noise_dim", 0)
        if draws > 1 and noise_dim:
            # Only the closest draw gets the joint terms, so only it needs a graph: the N draws run without
            # one and `closest_of` runs the generator again on the chosen noise. The backward pass then sees
            # B sequences instead of B x N (the same gradient; PSGAN's keypoint step 1.6x faster at N = 8).
            noise = randomness.randn(draws * len(first), noise_dim, device=first.device)  # [N * B, Z], draw-major
            with torch.no_grad():
                joints = generator.keypoint_sequence(first.repeat(draws, 1, 1), label.repeat(draws), noise,
                                                     size=size)
            joints = joints.view(draws, len(first), *joints.shape[1:]).transpose(0, 1)  # [B, N, T, K, 3]
            fakes = {"draws": joints, "noise": noise.view(draws, len(first), -1).transpose(0, 1)}
            fakes["joints"] = (generator.keypoint_sequence(first, label, noise[:len(first)], size=size)
                               if "adversarial" in self.terms else joints[:, 0])  # draw 0 is the one D judges
        else:
            # All draws in one batch: one forward of B x N is much cheaper than N forwards of B.
            joints = generator.keypoint_sequence(first.repeat(draws, 1, 1), label.repeat(draws), size=size)
            joints = joints.view(draws, len(first), *joints.shape[1:]).transpose(0, 1)  # [B, N, T, K, 3]
            fakes = {"joints": joints[:, 0], "draws": joints}
        if self.compares_heatmaps:
            fakes["sequence"] = self.heatmaps(fakes["joints"])
        return fakes

    @property
    def uses_draws(self) -> bool:
        return self.best_of > 1 and bool({"reconstruction", "keypoints", "motion", "timing"} & set(self.terms))

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
        sequence, joints = fakes.get("sequence"), fakes.get("joints")
        if self.uses_draws:
            sequence, joints = self.closest_of(nets, batch, fakes)
        if "reconstruction" in self.terms:
            terms["reconstruction"] = self.term("reconstruction", sequence, batch["sequence"])
        if {"keypoints", "motion", "timing"} & set(self.terms):
            fake = (joints if joints is not None else soft_keypoints(sequence.transpose(1, 2)))[..., :2]
            real, visible, size = self._truth(batch)
            fake, real = fake * visible / size, real * visible / size  # [B, T, K, 2] in body sizes
            if "keypoints" in self.terms:
                terms["keypoints"] = self.term("keypoints", fake, real)
            if "motion" in self.terms:
                both = visible[:, 1:] * visible[:, :-1]
                terms["motion"] = self.term("motion", (fake[:, 1:] - fake[:, :-1]) * both,
                                            (real[:, 1:] - real[:, :-1]) * both)
            if "timing" in self.terms:
                terms["timing"] = self.term("timing", *timeless(fake, real, visible))
        return terms

    @staticmethod
    def _truth(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """True joints ``[B, T, K, 2]`` (heatmap pixels), their visibility ``[B, T, K, 1]`` and the true first
        pose's body size ``[B, 1, 1, 1]``, the unit of the joint terms."""
        joints = batch["joints"]
        size = body_size(joints[:, 0]).clamp(min=1.0)[:, None, None, None]
        return joints[..., :2], (joints[..., 2:] > 0).to(joints.dtype), size

    def closest_of(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor],
                   fakes: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Per clip, of ``best_of`` draws, the one whose joints are closest to the true ones (chosen without
        gradient; the chosen one has its graph): ``(heatmaps [B, K, T, h, w] | None, joints [B, T, K, 3] |
        None)``. A keypoint-space generator's draws are in ``fakes`` (drawn without a graph where their
        ``noise`` is there too: the chosen noise is run again here); a heatmap generator draws again here."""
        real, visible, size = self._truth(batch)
        pick = torch.arange(len(real), device=real.device)
        if "draws" in fakes:
            draws = fakes["draws"]  # [B, N, T, K, 3]
            closest = self._distances(draws[..., :2], real, visible).argmin(dim=1)  # [B]
            if "noise" in fakes:  # the draws have no graph: the chosen one is drawn again, with its graph
                chosen = nets["generator"].keypoint_sequence(batch["joints"][:, 0], batch["label"],
                                                             fakes["noise"][pick, closest],
                                                             size=(self.heatmap_resolution,) * 2)
            else:
                chosen = draws[pick, closest]
            return (self.heatmaps(chosen) if "reconstruction" in self.terms else None), chosen
        generator = nets["generator"]
        extra = [generator(batch["first"], batch["label"]) for _ in range(self.best_of - 1)]
        stacked = torch.stack([fakes["sequence"], *extra], dim=1)  # [B, N, K, T, h, w]
        with torch.no_grad():
            fake = soft_keypoints(stacked.transpose(2, 3))[..., :2]  # [B, N, T, K, 2]
        return stacked[pick, self._distances(fake, real, visible).argmin(dim=1)], None

    @staticmethod
    @torch.no_grad()
    def _distances(draws: torch.Tensor, real: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """L1 distance ``[B, N]`` of each draw ``[B, N, T, K, 2]`` to the true joints ``[B, T, K, 2]``, over the
        joints visible ``[B, T, K, 1]`` in the true sequence."""
        return ((draws - real[:, None]).abs() * visible[:, None]).sum((2, 3, 4))

    def _fake_joints(self, nets, batch) -> torch.Tensor:
        """One draw per clip: ``[B, T, K, 3]`` in heatmap pixels."""
        fakes = self.generate(nets, batch)
        return fakes["joints"] if "joints" in fakes else sequence_keypoints(fakes["sequence"])

    def samples(self, nets, batch):
        fake = self.to_frame_pixels(self._fake_joints(nets, batch))  # [B, T, K, 3]
        real = batch["keypoints"]
        size = self.data.resolution
        rows, labels, clips = [], [], []
        for b in range(len(real)):
            action = self.data.classes[int(batch["label"][b])]
            real_clip, fake_clip = (skeleton_clip(real[b], size, self.data.skeleton),
                                    skeleton_clip(fake[b], size, self.data.skeleton))
            rows += [real_clip, fake_clip]
            labels += [f"{action} real", f"{action} PSGAN"]
            clips.append(np.concatenate([real_clip, fake_clip], axis=2))
        return {"poses": grid(rows, labels), "poses-anim": animated_grid(clips, columns=min(3, len(clips)))}

    def evaluation_pairs(self, nets, batch):
        """Heatmaps for a heatmap generator (the metric reads their peaks, as for real ones); joints for a
        keypoint-space generator, beside the true joints."""
        if isinstance(nets["generator"], PoseSequenceGenerator):
            return {"real": batch["joints"], "fake": self._fake_joints(nets, batch), "labels": batch["label"]}
        real = batch["sequence"] if "sequence" in batch else self.heatmaps(batch["joints"])
        return {"real": real, "fake": self.generate(nets, batch)["sequence"], "labels": batch["label"]}
