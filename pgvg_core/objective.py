"""The training objective: how a set of named generators and discriminators learns from a batch.

The trainer is the same for every experiment; an objective (registered in ``losses``) says what the networks
are called, what loss terms exist, and how to compute them. One training step is::

    fakes = objective.generate(nets, batch)                               # generators forward, once
    d_terms = objective.discriminator_terms(nets, batch, detach(fakes))   # update every discriminator
    g_terms = objective.generator_terms(nets, batch, fakes)               # update every generator

so any number of networks (PSGAN: 1 + 1; SCGAN: G1, G2 + D1, D2, D_which) trains without trainer changes.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from pgvg_core.config import LossTerm
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton


def adam(parameters: Any, device: torch.device, **hyperparameters: Any) -> torch.optim.Adam:
    """Adam, fused (one kernel over all the parameters) where the device has the kernel: on a CPU the default,
    a Python loop over parameters, took 48 ms of SCGAN's ~470 ms step, fused 10 ms; the same update up to
    float rounding. The trainer's optimisers and an objective's warm start make theirs here."""
    fused = True if device.type in ("cpu", "cuda") else None
    return torch.optim.Adam(parameters, fused=fused, **hyperparameters)


def _keypoints_of_skeleton(data: DataInfo, attribute: attrs.Attribute, keypoints: int) -> None:
    if keypoints != data.skeleton.num_keypoints:
        raise ValueError(f"the data has keypoints={keypoints}, but its skeleton '{data.skeleton.name}' has "
                         f"{data.skeleton.num_keypoints}")


@attrs.frozen(kw_only=True)
class DataInfo:
    """What networks and objectives need to know about the data.

    ``skeleton`` is what the keypoints follow (a :class:`~pgvg_core.poses.skeleton.Skeleton`; a registered name or
    :meth:`~pgvg_core.poses.skeleton.Skeleton.as_dict` data is converted), ``keypoints`` its ``K`` (by default
    taken from it; a different number is an error).
    """

    num_classes: int
    classes: tuple[str, ...]
    skeleton: Skeleton = attrs.field(default=BODY_18, converter=as_skeleton)
    keypoints: int = attrs.field(default=attrs.Factory(lambda self: self.skeleton.num_keypoints, takes_self=True),
                                 validator=_keypoints_of_skeleton)
    frames: int
    resolution: int


@attrs.frozen(kw_only=True)
class WeightedLoss:
    """A built loss term and its weight."""

    loss: nn.Module
    weight: float


class PoseSequenceModel(abc.ABC):
    """Stage 1 as the pipeline (``pgvg animate``, ``pgvg demo``, the benchmarks) uses it: implemented by the
    objective of a stage-1 run, with that run's networks."""

    #: the role of the network that makes sequences at test time (what an inference bundle keeps)
    sequence_generator: str = "generator"

    @abc.abstractmethod
    def generate_keypoints(self, nets: Mapping[str, nn.Module], first_keypoints: torch.Tensor,
                           label: torch.Tensor) -> torch.Tensor:
        """``first_keypoints [B, K, 3]`` (pixels of the data's frames) + action ``label [B]`` ->
        ``[B, T, K, 3]`` in the same pixels, frame 0 the given pose; noise from the global torch stream."""


class FrameRenderer(abc.ABC):
    """Stage 2 as the pipeline uses it: implemented by the objective of a stage-2 run, with the network named
    by ``eval_generator``."""

    #: the role of the generator that renders frames at test time (``nets[eval_generator]``)
    eval_generator: str = "generator"
    #: How the renderer can draw frames at a photo's own resolution (``render_clip(detail=...)``), best first:
    #: ``pgvg animate --compose`` offers these and takes the first by default. ``"network"``, the network's
    #: frames at the detail's size, is what every renderer can do; a renderer may offer its own (SCGAN's
    #: ``"layers"`` and ``"warp"`` draw a body from the photo itself).
    compositions: tuple[str, ...] = ("network",)

    @abc.abstractmethod
    def render_clip(self, generator: nn.Module, source_image: torch.Tensor, source_keypoints: torch.Tensor,
                    keypoints: torch.Tensor, *, detail: torch.Tensor | None = None,
                    composition: str | None = None, person: torch.Tensor | None = None) -> torch.Tensor:
        """A person's ``source_image [B, 3, H, W]`` in [-1, 1] and pose ``source_keypoints [B, K, 3]`` +
        poses ``[B, T, K, 3]`` (pixels of ``source_image``) -> frames ``[B, T, 3, H, W]``; with ``detail``, the
        same picture at a higher resolution ``[B, 3, H', W']``, frames at its size ``[B, T, 3, H', W']``,
        drawn as ``composition`` (one of :attr:`compositions`; None: the first). ``person``, where the pose
        source segments people, is where the person is in ``detail`` (``[B, 1, H', W']`` in [0, 1]: hair, hands,
        clothes), for a renderer that clears or moves them whole; a renderer may ignore it."""


class Objective(abc.ABC):
    """Base class of training objectives; subclasses set the class attributes and the three methods."""

    #: roles of the networks in ``[generators.<role>]`` and ``[discriminators.<role>]``.
    generator_roles: tuple[str, ...] = ()
    discriminator_roles: tuple[str, ...] = ()
    #: roles of evaluation helpers this objective trains, ``[evaluators.<role>]`` (an action classifier): they
    #: are updated with the generators, by the terms of :meth:`generator_terms`.
    evaluator_roles: tuple[str, ...] = ()
    #: roles the config may leave out: those for which ``uses(role)`` is false with the configured terms.
    optional_roles: tuple[str, ...] = ()
    #: loss terms and their defaults; the config's ``[losses.<term>]`` overrides them, weight 0 turns one off.
    default_terms: Mapping[str, LossTerm] = {}
    #: augmentation slots, ``[augmentations.<slot>]``, all optional.
    augmentation_slots: tuple[str, ...] = ()

    def __init__(self, *, terms: Mapping[str, WeightedLoss], augmentations: Mapping[str, Any], data: DataInfo,
                 **_: Any) -> None:
        self.terms = dict(terms)
        self.augmentations = dict(augmentations)
        self.data = data

    def uses(self, role: str) -> bool:
        """Whether the configured terms need the network ``role`` (only asked for ``optional_roles``)."""
        return True

    def weight(self, term: str) -> float:
        return self.terms[term].weight if term in self.terms else 0.0

    def term(self, name: str, *args: Any, **kwargs: Any) -> torch.Tensor:
        """A term's weighted value."""
        entry = self.terms[name]
        return entry.weight * entry.loss(*args, **kwargs)

    def training_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A dataset batch as a training step sees it, before :meth:`prepare`: where training-only
        augmentations go (those that make new training data; samples and evaluation see the data as it is)."""
        return batch

    def training_frames(self, length: int, generator: torch.Generator) -> Sequence[int] | None:
        """The frames of a ``length``-frame clip that one training step reads, drawn with ``generator`` (a
        stream of its own for each sample and step, so a resumed run draws the same); ``None``: the whole clip.
        Where an objective reads a few frames, the trainer asks the dataset for those alone
        (:meth:`Dataset.frames_of <pgvg_core.interfaces.Dataset.frames_of>`), which renders or decodes less, and
        :meth:`prepare` sees clips of those frames, in the order given."""
        return None

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        """Move a dataset batch to ``device`` and derive what the networks need (heatmaps, ...)."""
        return {key: value.to(device, non_blocking=True) for key, value in batch.items()}

    @abc.abstractmethod
    def generate(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every generator's output for the batch."""

    @abc.abstractmethod
    def discriminator_terms(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor],
                            fakes: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted loss terms that the discriminators minimise (``fakes`` are detached)."""

    @abc.abstractmethod
    def generator_terms(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor],
                        fakes: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted loss terms that the generators minimise."""

    def warm_start(self, nets: Mapping[str, nn.Module], dataset: Any, *, seed: int) -> dict[str, float]:
        """Called once before the first step of a new run (never on resume): train cheap parts of the networks
        (a pose-only module, say) on their own, from ``dataset`` and random streams derived from ``seed`` only.
        Returns numbers worth logging; the default does nothing."""
        return {}

    def samples(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Pictures for the run folder: ``name -> uint8 [H, W, 3]`` (a sheet) or ``[T, H, W, 3]`` (a GIF)."""
        return {}

    def evaluation_pairs(self, nets: Mapping[str, nn.Module], batch: dict[str, torch.Tensor]
                         ) -> dict[str, Any]:
        """``{"real": ..., "fake": ..., **context}`` for the metrics at evaluation time."""
        fakes = self.generate(nets, batch)
        return {"real": batch, "fake": fakes}
