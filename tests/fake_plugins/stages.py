"""A third-party plugin with a deliberately simple model for each stage contract: stage 1 learns each action's
mean motion, stage 2 repeats the source image through a learned colour gain. The pipeline, ``pgvg demo``,
``pgvg animate`` and ``pgvg export`` must take them by name, knowing nothing of them but the contracts."""

from __future__ import annotations

import torch
from torch import nn

from pgvg_core import hookimpl
from pgvg_core.config import LossTerm
from pgvg_core.interfaces import Generator
from pgvg_core.objective import FrameRenderer, Objective, PoseSequenceModel


class MeanMotion(Generator):
    """First pose ``[B, K, 3]`` + action ``[B]`` -> ``[B, T, K, 3]``: the pose moved by the action's learned
    mean displacement per frame (in pixels)."""

    def __init__(self, *, num_classes: int, keypoints: int, frames: int) -> None:
        super().__init__()
        self.offsets = nn.Parameter(torch.zeros(num_classes, frames, keypoints, 2))

    def forward(self, first: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        xy = first[:, None, :, :2] + self.offsets[label]  # [B, T, K, 2]
        confidence = first[:, None, :, 2:3].expand(-1, xy.shape[1], -1, -1)
        return torch.cat([xy, confidence], dim=-1)


class MeanMotionObjective(Objective, PoseSequenceModel):
    """Fits MeanMotion to the true clips by L1 on the joints."""

    generator_roles = ("generator",)
    default_terms = {"joints": LossTerm(name="l1")}

    def prepare(self, batch, device):
        return {"keypoints": batch["keypoints"].to(device), "label": batch["label"].to(device)}

    def generate(self, nets, batch):
        return {"sequence": nets["generator"](batch["keypoints"][:, 0], batch["label"])}

    def discriminator_terms(self, nets, batch, fakes):
        return {}

    def generator_terms(self, nets, batch, fakes):
        return {"joints": self.term("joints", fakes["sequence"][..., :2], batch["keypoints"][..., :2])}

    def generate_keypoints(self, nets, first_keypoints, label):
        sequence = nets["generator"](first_keypoints, label)
        sequence[:, 0] = first_keypoints
        return sequence


class ColourGain(Generator):
    """An image ``[B, 3, H, W]`` times a learned gain per channel."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image * self.gain).clamp(-1, 1)


class RepeatSourceObjective(Objective, FrameRenderer):
    """Every frame is the source image through the colour gain, whatever the pose."""

    generator_roles = ("generator",)
    default_terms = {"reconstruction": LossTerm(name="l1")}

    def prepare(self, batch, device):
        return {key: batch[key].to(device) for key in ("frames", "keypoints")}

    def generate(self, nets, batch):
        return {"frame": nets["generator"](batch["frames"][:, 0])}

    def discriminator_terms(self, nets, batch, fakes):
        return {}

    def generator_terms(self, nets, batch, fakes):
        return {"reconstruction": self.term("reconstruction", fakes["frame"], batch["frames"][:, 1])}

    def render_clip(self, generator, source_image, source_keypoints, keypoints, *, detail=None,
                    composition=None, person=None):
        image = generator(detail if detail is not None else source_image)  # [B, 3, H, W]
        return image[:, None].expand(-1, keypoints.shape[1], -1, -1, -1)

    def evaluation_pairs(self, nets, batch):
        fake = self.render_clip(nets["generator"], batch["frames"][:, 0], batch["keypoints"][:, 0],
                                batch["keypoints"][:, 1:])
        return {"real": batch["frames"][:, 1:], "fake": fake}


@hookimpl
def pgvg_register_generators(register):
    register("mean-motion", MeanMotion)
    register("colour-gain", ColourGain)


@hookimpl
def pgvg_register_objectives(register):
    register("mean-motion", MeanMotionObjective)
    register("repeat-source", RepeatSourceObjective)
