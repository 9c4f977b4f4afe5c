"""Stage-2 objectives: SCGAN (G1, G2 with semantic consistency; D1, D2, D_which) and the pose2image baseline.

A training pair is the first frame of a clip (the person's image, with its pose) and another frame of the same
clip (the target, with its pose). G1 renders the ground-truth target pose; G2 an abnormal version of it (the
``abnormal_pose`` augmentation, the errors PSGAN and pose estimators make). D1 judges (frame, target pose), D2
(frame, source image), D_which tells G1's frames from G2's, and the consistency loss ties G2's bottleneck to
G1's, so G2 learns to read an abnormal pose as the pose a person would see in it. With ``refine_pose`` G2
also reads it explicitly: its pose refiner is trained by the ``pose`` term against the true pose.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from pgvg_core.config import ComponentSpec, LossTerm, build
from pgvg_core.interfaces import clip_poses
from pgvg_core.measure.evaluation import PoseCondition, rendered_pairs
from pgvg_core.media.sheets import grid
from pgvg_core.media.video import to_uint8
from pgvg_core.objective import FrameRenderer, Objective, adam
from pgvg_core.poses.keypoints import (
    body_size,
    heatmaps_to_keypoints,
    render_heatmaps,
    rescale_keypoints,
    skeleton_image,
)
from pgvg_core.training import randomness
from pgvg_scgan.compositing import COMPOSITIONS, behind_the_person, draws_layers, far_limbs, person_layers, plate_for
from pgvg_scgan.models import upsampled

log = logging.getLogger(__name__)


def refines_pose(generator: nn.Module) -> bool:
    """Whether a generator reads its target pose with a pose refiner (``scgan`` with ``refine_pose``)."""
    return getattr(generator, "pose_refiner", None) is not None


class PairObjective(Objective, FrameRenderer):
    """What both stage-2 objectives share: (source, target) pairs, pose heatmaps, D augmentation, pictures."""

    augmentation_slots = ("abnormal_pose", "discriminator")
    eval_generator = "generator"

    def __init__(self, *, sigma: float = 1.5, eval_pose: str = "ground-truth", eval_severity: float = 0.5,
                 **kwargs: Any) -> None:
        """
        :param sigma: heatmap Gaussian width in pixels of a 64-pixel frame (scaled with the frame size).
        :param eval_pose: poses the generator renders at evaluation: ``ground-truth`` or ``abnormal``.
        :param eval_severity: severity of the abnormal poses at evaluation (fixed seed).
        """
        super().__init__(**kwargs)
        if eval_pose not in ("ground-truth", "abnormal"):
            raise ValueError(f"eval_pose must be 'ground-truth' or 'abnormal', got {eval_pose!r}")
        self.sigma = sigma * self.data.resolution / 64
        abnormal = None
        if eval_pose == "abnormal":  # through the registry, not another plugin's module: it is a component
            abnormal = build("augmentations", ComponentSpec(name="abnormal-pose",
                                                            params={"severity": eval_severity, "jitter": False}),
                             path="objective.params.eval_severity", skeleton=self.data.skeleton)
        self.eval_poses = PoseCondition(name=eval_pose, augmentation=abnormal)
        self._augment_cache: dict[Any, Any] = {}

    def heatmaps(self, keypoints: torch.Tensor) -> torch.Tensor:
        """``[..., K, 3|4]`` -> ``[..., K, H, W]``."""
        return render_heatmaps(keypoints, self.data.resolution, self.sigma)

    def training_frames(self, length: int, generator: torch.Generator) -> list[int]:
        """A training step reads the first frame (the source) and one other (the target): 2 of a clip's
        frames, so the dataset makes only those; :meth:`prepare` then takes the second as the target."""
        return [0, int(torch.randint(1, length, (1,), generator=generator))]

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        frames = batch["frames"].to(device)  # [B, T, 3, H, W]; in training T = 2 (see training_frames)
        keypoints = batch["keypoints"].to(device)  # [B, T, K, 3]
        size, length = frames.shape[0], frames.shape[1]
        rows = torch.arange(size, device=device)
        target = randomness.randint(1, length, size, device=device)  # one target frame per clip
        out = {
            "frames": frames, "keypoints": keypoints,
            "source_image": frames[:, 0], "source_keypoints": keypoints[:, 0],
            "target_image": frames[rows, target], "target_keypoints": keypoints[rows, target],
        }
        out["source_pose"] = self.heatmaps(out["source_keypoints"])  # [B, K, H, W]
        out["target_pose"] = self.heatmaps(out["target_keypoints"])
        if "abnormal_pose" in self.augmentations:
            abnormal = randomness.augment(self.augmentations["abnormal_pose"], out["target_keypoints"][:, None].cpu())[:, 0]
            out["abnormal_keypoints"] = abnormal.to(device)  # [B, K, 4]
            out["abnormal_pose"] = self.heatmaps(out["abnormal_keypoints"])
        return out

    def discriminate(self, d: nn.Module, frame: torch.Tensor, condition: torch.Tensor | None,
                     params: Any = None) -> torch.Tensor:
        """D on (frame, condition), both through the same discriminator augmentation (if any)."""
        return self.discriminate_each(d, [frame], condition, params)[0]

    def discriminate_each(self, d: nn.Module, frames: list[torch.Tensor], condition: torch.Tensor | None,
                          params: Any = None) -> list[torch.Tensor]:
        """D's logits for each batch of ``frames`` (all with the same ``condition``), through the discriminator
        augmentation (if any): in one call where D is ``batch_independent`` (see
        :class:`~pgvg_core.interfaces.Discriminator`; the same numbers, and a PatchGAN judges 3 batches of 8 in
        0.73x the time of 3 calls on a 2-core CPU), else one call each."""
        augment = self.augmentations.get("discriminator")
        if augment is not None and params is not None:
            frames = [self._augmented(augment, frame, params, pose_channels=False) for frame in frames]
            if condition is not None:
                is_pose = condition.shape[1] == self.data.keypoints
                condition = self._augmented(augment, condition, params, pose_channels=is_pose)
        if len(frames) == 1 or not getattr(d, "batch_independent", False):
            return [d(frame, condition) for frame in frames]
        conditions = None if condition is None else torch.cat([condition] * len(frames))
        return list(d(torch.cat(frames), conditions).chunk(len(frames)))

    def _augmented(self, augment: Any, x: torch.Tensor, params: Any, *, pose_channels: bool) -> torch.Tensor:
        """``augment.apply(x, params)``, computed once per tensor for one draw of ``params``: the same target
        pose, source image and fake frames meet up to three discriminators in a step (SCGAN: 9 augmentations a
        step instead of 26, ~60 ms of a 0.7 s step on 2 CPU cores). Reusing the result in several terms gives
        the same gradients as computing it again."""
        if self._augment_cache.get("params") is not params:
            self._augment_cache = {"params": params}  # a new draw: what was cached belongs to the last one
        key = (id(x), pose_channels)
        if key not in self._augment_cache:  # the input is kept with its result: its id cannot be reused meanwhile
            self._augment_cache[key] = (x, augment.apply(x, params, pose_channels=pose_channels))
        return self._augment_cache[key][1]

    def augment_params(self, batch: dict[str, torch.Tensor]) -> Any:
        augment = self.augmentations.get("discriminator")
        return randomness.sample_params(augment, batch["target_image"].shape) if augment is not None else None

    # -------------------------------------------------------------------------------- clips and pictures

    @property
    def compositions(self) -> tuple[str, ...]:
        """The layers and the warp over a plate follow a body's trunk and limbs: offered for body-18 data."""
        return COMPOSITIONS if draws_layers(self.data.skeleton) else ("network",)

    @torch.no_grad()
    def render_clip(self, generator: nn.Module, source_image: torch.Tensor, source_keypoints: torch.Tensor,
                    keypoints: torch.Tensor, *, detail: torch.Tensor | None = None,
                    composition: str | None = None, person: torch.Tensor | None = None) -> torch.Tensor:
        """Frames of a person: ``source_image [B, 3, H, W]``, poses ``[B, T, K, 3]`` -> ``[B, T, 3, H, W]``.

        With ``detail`` (the source image at a higher resolution, ``[B, 3, H', W']``), the frames come out at
        that size, one at a time, drawn as ``composition`` (:mod:`pgvg_scgan.compositing`): ``network``, the
        photo's detail carried through the warp (``render_detailed``) over a clean plate where the data are
        bodies; ``layers`` and ``warp``, from the photo alone (``render_layers``); ``person`` (the photo
        person's segmentation at ``detail``'s size, ``[B, 1, H', W']``) removes and moves them whole. A
        generator without ``render_detailed`` (not one of this plugin's) gives its frames upsampled.
        """
        size, length = keypoints.shape[:2]
        source_pose = self.heatmaps(source_keypoints)
        poses = self.heatmaps(keypoints).flatten(0, 1)  # [B*T, K, H, W]
        repeat = lambda t: t[:, None].expand(-1, length, *t.shape[1:]).flatten(0, 1)  # noqa: E731
        if detail is None:
            frames = generator(repeat(source_image), repeat(source_pose), poses)
            return frames.view(size, length, *frames.shape[1:])
        composition = composition or self.compositions[0]
        if composition not in self.compositions:
            raise ValueError(f"composition '{composition}' is not one this renderer draws for skeleton "
                             f"'{self.data.skeleton.name}': {', '.join(self.compositions)}")
        if not hasattr(generator, "render_detailed"):  # another plugin's network: its frames, upsampled
            frames = upsampled(generator(repeat(source_image), repeat(source_pose), poses), repeat(detail))
            return frames.view(size, length, *frames.shape[1:])
        to_detail = detail.shape[-1] / source_image.shape[-1]
        plate = behind = far = shares = trunks = None
        if draws_layers(self.data.skeleton):
            plate = plate_for(composition, detail, rescale_keypoints(source_keypoints, to_detail),
                              rescale_keypoints(keypoints, to_detail), person)  # [B, 3, H', W']
            far = far_limbs(source_keypoints)  # [B, L]: the limbs drawn behind the body
        if composition != "network":  # what is the same for every frame of a clip, made once: the background
            # behind the person and the person's parts, from the source pose as the generators read it
            read = heatmaps_to_keypoints(source_pose.float())
            behind = behind_the_person(read, source_image.shape[-1], plate, person)
            if person is not None:
                shares, trunks = person_layers(read, source_image.shape[-1], tuple(detail.shape[-2:]), person)
        images, sources, details = repeat(source_image), repeat(source_pose), repeat(detail)
        plates, behinds, people, fars, shares, trunks = (None if t is None else repeat(t)
                                                          for t in (plate, behind, person, far, shares, trunks))
        one = lambda t, i: None if t is None else t[i : i + 1]  # noqa: E731
        if composition == "network":
            frames = [generator.render_detailed(one(images, i), one(sources, i), one(poses, i), one(details, i),
                                                one(plates, i)) for i in range(len(poses))]
        else:
            frames = [generator.render_layers(one(sources, i), one(poses, i), source_image.shape[-1],
                                              one(details, i), one(plates, i), one(behinds, i), one(people, i),
                                              one(fars, i), None if shares is None else (one(shares, i),
                                                                                         one(trunks, i)))
                      for i in range(len(poses))]
        frames = torch.cat(frames)
        return frames.view(size, length, *frames.shape[1:])

    def evaluation_pairs(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        return rendered_pairs(self, nets, batch, self.eval_poses, classes=self.data.classes,
                              device=batch["frames"].device)

    def _skeleton(self, keypoints: torch.Tensor) -> np.ndarray:
        return np.stack([skeleton_image(k[:, :3], self.data.resolution, skeleton=self.data.skeleton) for k in keypoints.cpu().numpy()])

    def picture_rows(self, batch: dict[str, torch.Tensor], columns: list[tuple[str, np.ndarray]]) -> np.ndarray:
        """One row per sample: source, poses, generated frames, real target."""
        rows = np.stack([img for _, img in columns], axis=1)  # [B, columns, H, W, 3]
        names = " | ".join(name for name, _ in columns)
        return grid(list(rows), [f"{i}: {names}"[:16] for i in range(len(rows))], label_width=20)


class SCGANObjective(PairObjective):
    """SCGAN: G1 (true pose) and G2 (abnormal pose), semantic consistency; D1, D2, D_which; L1 + LPIPS; pose."""

    generator_roles = ("g1", "g2")
    discriminator_roles = ("d1", "d2", "d_which")
    eval_generator = "g2"
    default_terms = {
        "adversarial": LossTerm(name="gan-lsgan", weight=1.0),     # D1 (pose followed), D2 (appearance kept)
        "which": LossTerm(name="gan-lsgan", weight=0.5),           # D_which: G2's frames pass as G1's
        "reconstruction": LossTerm(name="l1", weight=10.0),
        "perceptual": LossTerm(name="lpips", weight=1.0),
        "consistency": LossTerm(name="l1", weight=1.0),            # G2's bottleneck -> G1's
        "pose": LossTerm(name="l1", weight=10.0),                  # G2's pose refiner -> the true pose
    }

    def __init__(self, *, refiner_warmup: int = 1000, refiner_lr: float = 1e-3, **kwargs: Any) -> None:
        """
        :param refiner_warmup: updates of G2's pose refiner on poses alone before the first step (cheap: an
            MLP on keypoints; 1,000 updates take seconds), 0 to skip. At a CPU budget the refiner otherwise
            gets one update per step and is still learning when training ends.
        :param refiner_lr: the learning rate of that warm start.
        """
        super().__init__(**kwargs)
        if refiner_warmup < 0 or refiner_lr <= 0:
            raise ValueError(f"refiner_warmup must be >= 0 and refiner_lr > 0, got {refiner_warmup}, {refiner_lr}")
        self.refiner_warmup, self.refiner_lr = refiner_warmup, refiner_lr

    def prepare(self, batch, device):
        out = super().prepare(batch, device)
        if "abnormal_pose" not in out:
            log.debug("no [augmentations.abnormal_pose]: G2 sees the ground-truth pose")
            out["abnormal_pose"], out["abnormal_keypoints"] = out["target_pose"], out["target_keypoints"]
        return out

    def generate(self, nets, batch):
        y1, f1 = nets["g1"](batch["source_image"], batch["source_pose"], batch["target_pose"], return_features=True)
        y2, f2 = nets["g2"](batch["source_image"], batch["source_pose"], batch["abnormal_pose"], return_features=True)
        return {"g1": y1, "g2": y2, "f1": f1, "f2": f2}

    def _judges(self, nets, batch):
        """The discriminators' shared inputs: augmentation parameters, the real frame, the target pose, and
        each of D1 (conditioned on the pose) and D2 (on the source image) with its condition."""
        pose, source = batch["target_pose"], batch["source_image"]
        return self.augment_params(batch), batch["target_image"], pose, ((nets["d1"], pose), (nets["d2"], source))

    def discriminator_terms(self, nets, batch, fakes):
        terms = {}
        params, real, pose, judges = self._judges(nets, batch)
        if "adversarial" in self.terms:
            total = 0
            for d, condition in judges:
                real_logits, *fake_logits = self.discriminate_each(d, [real, fakes["g1"], fakes["g2"]], condition,
                                                                   params)
                total = total + self.term("adversarial", real_logits, True)
                for logits in fake_logits:
                    total = total + 0.5 * self.term("adversarial", logits, False)
            terms["adversarial"] = total / 4  # two discriminators, each real + fake
        if "which" in self.terms:
            g1_logits, g2_logits = self.discriminate_each(nets["d_which"], [fakes["g1"], fakes["g2"]], pose, params)
            terms["which"] = 0.5 * (self.term("which", g1_logits, True) + self.term("which", g2_logits, False))
        return terms

    def generator_terms(self, nets, batch, fakes):
        terms = {}
        params, real, pose, judges = self._judges(nets, batch)
        if "adversarial" in self.terms:
            total = 0
            for d, condition in judges:
                for logits in self.discriminate_each(d, [fakes["g1"], fakes["g2"]], condition, params):
                    total = total + self.term("adversarial", logits, True, for_generator=True)
            terms["adversarial"] = total / 2
        if "which" in self.terms:
            logits = self.discriminate(nets["d_which"], fakes["g2"], pose, params)
            terms["which"] = self.term("which", logits, True, for_generator=True)
        for term in ("reconstruction", "perceptual"):
            if term in self.terms:
                terms[term] = self.term(term, fakes["g1"], real) + self.term(term, fakes["g2"], real)
        if "consistency" in self.terms:
            terms["consistency"] = self.term("consistency", fakes["f2"], fakes["f1"].detach())
        if "pose" in self.terms and "abnormal_pose" in self.augmentations and refines_pose(nets["g2"]):
            terms["pose"] = self.pose_term(nets["g2"], batch)
        return terms

    def pose_term(self, g2: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """How far G2's reading of abnormal poses is from the true ones, in body sizes, over true joints.

        Poses are cheap, so the refiner learns from every frame of each clip (fresh abnormal draws), not only
        from the one target frame the image terms use: ``B x (T - 1)`` pairs a step.
        """
        return self.term("pose", *self._refined_and_true(g2, batch["keypoints"]))

    def _refined_and_true(self, g2: nn.Module, keypoints: torch.Tensor,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips' keypoints ``[B, T, K, 3]`` -> G2's reading of abnormal versions of frames 1.. (given frame 0)
        and the truth, both ``[B * (T - 1), K, 2]`` in body sizes, zero where the true joint is missing."""
        truth = keypoints[:, 1:]  # [B, T-1, K, 3]
        corrupt = self.augmentations["abnormal_pose"]
        abnormal = (corrupt(truth.cpu(), generator) if generator is not None
                    else randomness.augment(corrupt, truth.cpu())).to(truth.device)[..., :3]
        source = keypoints[:, :1].expand_as(truth)
        refined = g2.pose_refiner(source.flatten(0, 1), abnormal.flatten(0, 1))  # [B*(T-1), K, 3]
        truth = truth.flatten(0, 1)
        seen = truth[..., 2:] > 0
        size = body_size(truth).clamp(min=1.0)[:, None, None]
        return refined[..., :2] * seen / size, truth[..., :2] * seen / size

    @torch.no_grad()
    def _pose_pool(self, dataset: Any, clips: int = 256) -> torch.Tensor:
        """Keypoints ``[N, T, K, 3]`` of the first ``clips`` training clips (poses only are used)."""
        return torch.stack([clip_poses(dataset, i)["keypoints"] for i in range(min(clips, len(dataset)))])

    def warm_start(self, nets, dataset, *, seed):
        """Train G2's pose refiner alone on pose pairs from the training clips (``refiner_warmup`` updates)."""
        g2 = nets["g2"]
        if not (self.refiner_warmup and refines_pose(g2) and "abnormal_pose" in self.augmentations
                and "pose" in self.terms):
            return {}
        generator = torch.Generator().manual_seed(seed * 1_000_003 + 7)  # this warm start's own stream
        device = next(g2.parameters()).device
        pool = self._pose_pool(dataset).to(device)  # [N, T, K, 3]
        optimizer = adam(g2.pose_refiner.parameters(), device, lr=self.refiner_lr)  # fused: ~1 s of ~6 s less
        losses = []
        for _ in range(self.refiner_warmup):
            clips = pool[torch.randint(len(pool), (16,), generator=generator).to(device)]  # 16 x (T-1) pairs
            refined, truth = self._refined_and_true(g2, clips, generator)
            loss = torch.nn.functional.l1_loss(refined, truth)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        head, tail = np.mean(losses[:50]), np.mean(losses[-50:])
        return {"refiner_updates": float(self.refiner_warmup), "refiner_l1_first_50": head,
                "refiner_l1_last_50": tail}

    def samples(self, nets, batch):
        fakes = self.generate(nets, batch)
        columns = [
            ("source", to_uint8(batch["source_image"])),
            ("pose", self._skeleton(batch["target_keypoints"])),
            ("abnormal", self._skeleton(batch["abnormal_keypoints"])),
            *([("read as", self._skeleton(nets["g2"].warp_keypoints(batch["source_pose"], batch["abnormal_pose"])[1]))]
              if refines_pose(nets["g2"]) else []),
            ("G1", to_uint8(fakes["g1"])),
            ("G2", to_uint8(fakes["g2"])),
            ("real", to_uint8(batch["target_image"])),
        ]
        return {"frames": self.picture_rows(batch, columns)}


class Pose2ImageObjective(PairObjective):
    """Baseline: one generator on the ground-truth pose, D1 only; L1 + LPIPS."""

    generator_roles = ("generator",)
    discriminator_roles = ("d1",)
    default_terms = {
        "adversarial": LossTerm(name="gan-lsgan", weight=1.0),
        "reconstruction": LossTerm(name="l1", weight=10.0),
        "perceptual": LossTerm(name="lpips", weight=1.0),
    }

    def generate(self, nets, batch):
        return {"generator": nets["generator"](batch["source_image"], batch["source_pose"], batch["target_pose"])}

    def discriminator_terms(self, nets, batch, fakes):
        if "adversarial" not in self.terms:
            return {}
        params = self.augment_params(batch)
        d, pose = nets["d1"], batch["target_pose"]
        real = self.term("adversarial", self.discriminate(d, batch["target_image"], pose, params), True)
        fake = self.term("adversarial", self.discriminate(d, fakes["generator"], pose, params), False)
        return {"adversarial": 0.5 * (real + fake)}

    def generator_terms(self, nets, batch, fakes):
        terms = {}
        if "adversarial" in self.terms:
            logits = self.discriminate(nets["d1"], fakes["generator"], batch["target_pose"], self.augment_params(batch))
            terms["adversarial"] = self.term("adversarial", logits, True, for_generator=True)
        for term in ("reconstruction", "perceptual"):
            if term in self.terms:
                terms[term] = self.term(term, fakes["generator"], batch["target_image"])
        return terms

    def samples(self, nets, batch):
        fake = self.generate(nets, batch)["generator"]
        columns = [("source", to_uint8(batch["source_image"])), ("pose", self._skeleton(batch["target_keypoints"])),
                   ("generated", to_uint8(fake)), ("real", to_uint8(batch["target_image"]))]
        return {"frames": self.picture_rows(batch, columns)}
