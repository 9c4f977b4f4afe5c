"""The experiment config's schema: frozen attrs classes, one per section, with their defaults and checks."""

from __future__ import annotations

from typing import Any

import attrs

# ---------------------------------------------------------------------------------------------- schema


class FieldError(ValueError):
    """A bad value of one field of a config section: the error names the field's TOML path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _kind(kind: str) -> dict[str, str]:
    """Field metadata: the registry kind of a component field."""
    return {"kind": kind}


@attrs.frozen(kw_only=True)
class ComponentSpec:
    """A named component and its parameters: ``{name = "scgan", params = {ngf = 32}}``."""

    name: str
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class NetworkSpec:
    """A network, its parameters and its optimiser (Adam, as in the paper)."""

    name: str
    params: dict[str, Any] = attrs.field(factory=dict)
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    # Start from trained weights instead of the seed's: "shipped" (pgvg's bundle), a bundle file, or a run
    # folder, optionally ":<stage or role>" (a bundle's "scgan" / "psgan" stage, by default "scgan"; a run's
    # network role, by default this one's). See pgvg_core.training.experiment.initial_weights.
    init: str = ""


@attrs.frozen(kw_only=True)
class LossTerm:
    """A weighted loss term; ``weight = 0`` switches it off. No ``name``: the objective's default loss."""

    name: str = ""
    weight: float = 1.0
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ExperimentSection:
    name: str = "experiment"
    seed: int = 0
    description: str = ""


DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
LR_SCHEDULES = ("constant", "cosine")


@attrs.frozen(kw_only=True)
class TrainerConfig:
    steps: int = 1000
    batch_size: int = 8
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False  # convolution weights (and so activations) in NHWC: oneDNN's fast layout on a CPU
    compile: bool = False  # torch.compile each network (the first steps wait for the compiler)
    num_workers: int = 0
    log_every: int = 25
    sample_every: int = 250
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    eval_every: int = 0
    eval_clips: int = 200
    samples: int = 6
    grad_clip: float = 0.0
    threads: int = 0
    lr_schedule: str = "constant"  # "cosine": every network's lr decays from its `lr` to 0 over `steps`

    def __attrs_post_init__(self) -> None:
        positive = ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                    "eval_clips", "samples")
        for field in positive:
            if getattr(self, field) <= 0:
                raise FieldError(field, f"{field} must be > 0, got {getattr(self, field)}")
        for field, allowed in (("device", DEVICES), ("precision", PRECISIONS), ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, field) not in allowed:
                raise FieldError(field, f"{field} must be one of {', '.join(allowed)}, got {getattr(self, field)!r}")
        for field in ("num_workers", "eval_every", "threads"):
            if getattr(self, field) < 0:
                raise FieldError(field, f"{field} must be >= 0, got {getattr(self, field)}")


@attrs.frozen(kw_only=True)
class ExperimentConfig:
    experiment: ExperimentSection = attrs.field(factory=ExperimentSection)
    data: ComponentSpec = attrs.field(metadata=_kind("datasets"))
    trainer: TrainerConfig = attrs.field(factory=TrainerConfig)
    objective: ComponentSpec | None = attrs.field(default=None, metadata=_kind("objectives"))
    generators: dict[str, NetworkSpec] = attrs.field(factory=dict, metadata=_kind("generators"))
    discriminators: dict[str, NetworkSpec] = attrs.field(factory=dict, metadata=_kind("discriminators"))
    evaluators: dict[str, NetworkSpec] = attrs.field(factory=dict, metadata=_kind("evaluators"))
    losses: dict[str, LossTerm] = attrs.field(factory=dict, metadata=_kind("losses"))
    augmentations: dict[str, ComponentSpec] = attrs.field(factory=dict, metadata=_kind("augmentations"))
    metrics: list[ComponentSpec] = attrs.field(factory=list, metadata=_kind("metrics"))
    # Where this config came from; not part of the TOML.
    source: str | None = attrs.field(default=None, metadata={"internal": True})
