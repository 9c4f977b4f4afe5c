"""An experiment: what a config names, built — the dataset, its description, the networks, the objective.

Building is pure: nothing process-wide changes. The networks are initialised from the experiment's seed inside
forked random streams (:func:`pgvg_core.training.randomness.seeded_streams`), so the same config gives the same weights
whatever the caller drew before, and the caller's streams are as they were. Optimisers, the run folder and the
loop belong to :class:`pgvg_core.training.trainer.Trainer`; loading a finished run for inference is
:func:`pgvg_core.training.run.load_run`, which uses the same builders without a dataset, loss terms or augmentations.

    config --Experiment.build--> dataset, data, nets, objective --Trainer--> run folder --load_run--> nets
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs
import torch
from torch import nn

from pgvg_core.config import ComponentSpec, ExperimentConfig, LossTerm, NetworkSpec, build
from pgvg_core.errors import ConfigError, DataError
from pgvg_core.interfaces import Dataset
from pgvg_core.objective import DataInfo, Objective, WeightedLoss
from pgvg_core.poses.skeleton import skeleton_by_name
from pgvg_core.training.randomness import derived_seed, seeded_streams
from pgvg_core.training.weights import initial_weights
from registries import RegistrySet

log = logging.getLogger("pgvg.experiment")

#: The kinds of network section in a config, in the order their networks are built.
NETWORK_KINDS = ("generators", "discriminators", "evaluators")


def default_registries(registries: RegistrySet | None) -> RegistrySet:
    if registries is not None:
        return registries
    from pgvg_core.plugins import get_registries

    return get_registries()


def build_dataset(config: ExperimentConfig, *, split: str | None = None,
                  registries: RegistrySet | None = None) -> Dataset:
    """The config's dataset, or another ``split`` of it (an error lists the dataset's splits)."""
    registries = default_registries(registries)
    params = dict(config.data.params)
    if split is not None:
        splits = dataset_splits(config, registries)
        if split not in splits:
            raise ConfigError(f"dataset '{config.data.name}' has no split '{split}'; its splits: "
                              f"{', '.join(splits) or '(none declared)'}", file=config.source, path="data.params.split")
        params["split"] = split
    return build("datasets", ComponentSpec(name=config.data.name, params=params), registries=registries,
                 file=config.source, path="data")


def dataset_splits(config: ExperimentConfig, registries: RegistrySet | None = None) -> tuple[str, ...]:
    factory = default_registries(registries)["datasets"].get(config.data.name).factory
    return tuple(getattr(factory, "splits", ()))


def evaluation_dataset(config: ExperimentConfig, registries: RegistrySet | None = None) -> Dataset:
    """What samples and metrics use: the ``test`` split (identities unseen in training) where the dataset has
    one with data in it, else the training data (a video folder of one person's clips, all for training)."""
    if "test" in dataset_splits(config, registries):
        try:
            return build_dataset(config, split="test", registries=registries)
        except DataError as error:
            log.warning("%s; samples and metrics use the training data instead", error)
    return build_dataset(config, registries=registries)


def data_info(dataset: Dataset, registries: RegistrySet | None = None) -> DataInfo:
    """What networks, objectives and metrics need to know of the data: classes, the skeleton its keypoints
    follow (``K`` is the skeleton's), frames per clip, resolution."""
    return DataInfo(
        num_classes=len(dataset.classes),
        classes=tuple(dataset.classes),
        skeleton=skeleton_by_name(getattr(dataset, "skeleton", "body-18"), default_registries(registries)),
        frames=int(getattr(dataset, "frames", 1)),
        resolution=int(getattr(dataset, "resolution", 64)),
    )


def network_specs(config: ExperimentConfig) -> list[tuple[str, str, NetworkSpec]]:
    """Every network of a config as (kind, role, spec)."""
    return [(kind, role, spec) for kind in NETWORK_KINDS for role, spec in getattr(config, kind).items()]


def objective_class(config: ExperimentConfig, registries: RegistrySet) -> type[Objective]:
    if config.objective is None:
        raise ConfigError("missing required key 'objective' (the training objective, e.g. "
                          '{name = "psgan"})', file=config.source, path="objective")
    return registries["objectives"].get(config.objective.name).factory


def check_roles(config: ExperimentConfig, objective_cls: type[Objective]) -> None:
    """Every network the objective trains is configured, and nothing else is."""
    for kind, expected in (("generators", objective_cls.generator_roles),
                           ("discriminators", objective_cls.discriminator_roles),
                           ("evaluators", objective_cls.evaluator_roles)):
        given = tuple(getattr(config, kind))
        missing = sorted(set(expected) - set(given) - set(objective_cls.optional_roles))
        extra = sorted(set(given) - set(expected))
        if missing or extra:
            what = f"missing [{kind}.{missing[0]}]" if missing else f"unexpected [{kind}.{extra[0]}]"
            raise ConfigError(f"{what}: objective '{config.objective.name}' trains {kind} "
                              f"{', '.join(expected) or '(none)'}", file=config.source,
                              path=f"{kind}.{(missing or extra)[0]}")


def network_context(data: DataInfo) -> dict[str, Any]:
    """What pgvg hands every network factory that takes it (a network need not take all of it)."""
    return dict(num_classes=data.num_classes, keypoints=data.keypoints, skeleton=data.skeleton,
                frames=data.frames, resolution=data.resolution)


def build_networks(config: ExperimentConfig, data: DataInfo, *, registries: RegistrySet,
                   device: torch.device) -> nn.ModuleDict:
    """Every configured network, initialised from the experiment's seed (the caller's streams untouched)."""
    context = network_context(data)
    nets = nn.ModuleDict()
    with seeded_streams(derived_seed(config.experiment.seed, "init"), device):
        for kind, role, spec in network_specs(config):
            nets[role] = build(kind, spec, registries=registries, file=config.source, path=f"{kind}.{role}",
                               **context).to(device)
    for kind, role, spec in network_specs(config):
        if spec.init:
            where = f"{kind}.{role}.init"
            state = initial_weights(spec.init, role, file=config.source, path=where)
            own = nets[role].state_dict()
            missing = sorted(set(own) - set(state))
            if missing:
                raise ConfigError(f"the weights of {spec.init!r} have no {', '.join(missing[:4])}"
                                  f"{' ...' if len(missing) > 4 else ''}: they are another network's", file=config.source,
                                  path=where)
            # Weights of parts this network does not have (G2's pose refiner, when G1 starts from G2) are left out.
            try:
                nets[role].load_state_dict({k: state[k].to(device) for k in own})
            except RuntimeError as error:
                raise ConfigError(f"the weights of {spec.init!r} do not fit this network ({str(error)[:300]}); give "
                                  "the same network and params as the weights were trained with",
                                  file=config.source, path=where) from None
    return nets


def build_terms(config: ExperimentConfig, objective_cls: type[Objective], *, registries: RegistrySet,
                device: torch.device) -> dict[str, WeightedLoss]:
    """The objective's loss terms with the config's choices merged in; a term of weight 0 is not built."""
    merged: dict[str, LossTerm] = dict(objective_cls.default_terms)
    for term, spec in config.losses.items():
        if term not in merged:
            raise ConfigError(f"objective '{config.objective.name}' has no loss term '{term}'; its terms: "
                              f"{', '.join(objective_cls.default_terms)}", file=config.source, path=f"losses.{term}")
        if not spec.name:  # only a weight (or params) given: the objective's default loss
            default = merged[term]
            spec = LossTerm(name=default.name, weight=spec.weight, params=spec.params or default.params)
        merged[term] = spec
    return {term: WeightedLoss(loss=build("losses", spec, registries=registries, file=config.source,
                                          path=f"losses.{term}").to(device), weight=spec.weight)
            for term, spec in merged.items() if spec.weight != 0}


def build_augmentations(config: ExperimentConfig, objective_cls: type[Objective], data: DataInfo, *,
                        registries: RegistrySet) -> dict[str, Any]:
    built = {}
    for slot, spec in config.augmentations.items():
        if slot not in objective_cls.augmentation_slots:
            raise ConfigError(f"objective '{config.objective.name}' has no augmentation slot '{slot}'; its slots: "
                              f"{', '.join(objective_cls.augmentation_slots) or '(none)'}",
                              file=config.source, path=f"augmentations.{slot}")
        built[slot] = build("augmentations", spec, registries=registries, file=config.source,
                            path=f"augmentations.{slot}", skeleton=data.skeleton)
    return built


def build_objective(config: ExperimentConfig, data: DataInfo, *, registries: RegistrySet, device: torch.device,
                    training: bool = True) -> Objective:
    """The config's objective; ``training=False`` (inference) builds no loss term and no augmentation."""
    objective_cls = objective_class(config, registries)
    terms = build_terms(config, objective_cls, registries=registries, device=device) if training else {}
    augmentations = build_augmentations(config, objective_cls, data, registries=registries) if training else {}
    # Loss networks (LPIPS, ...) and augmentations may draw while they are built: not from the caller's streams.
    with seeded_streams(derived_seed(config.experiment.seed, "objective"), device):
        return build("objectives", config.objective, registries=registries, file=config.source, path="objective",
                     terms=terms, augmentations=augmentations, data=data)


def check_optional_roles(config: ExperimentConfig, objective: Objective, nets: Mapping[str, nn.Module]) -> None:
    """An optional network left out of the config is an error only if the configured terms need it."""
    for role in objective.optional_roles:
        if role not in nets and objective.uses(role):
            kind = "generators" if role in objective.generator_roles else "discriminators"
            raise ConfigError(
                f"missing [{kind}.{role}]: objective '{config.objective.name}' needs it with the loss terms "
                f"configured ({', '.join(objective.terms)}); add it, or switch off the terms that use it "
                "(weight = 0)", file=config.source, path=f"{kind}.{role}")


@attrs.define
class Experiment:
    """A config's components, built and checked against each other, on ``device``."""

    config: ExperimentConfig
    registries: RegistrySet
    device: torch.device
    dataset: Dataset
    data: DataInfo
    nets: nn.ModuleDict
    objective: Objective

    @classmethod
    def build(cls, config: ExperimentConfig, *, device: torch.device,
              registries: RegistrySet | None = None) -> "Experiment":
        registries = default_registries(registries)
        objective_cls = objective_class(config, registries)
        check_roles(config, objective_cls)
        with seeded_streams(derived_seed(config.experiment.seed, "data"), device):
            dataset = build_dataset(config, registries=registries)
        data = data_info(dataset, registries)
        nets = build_networks(config, data, registries=registries, device=device)
        objective = build_objective(config, data, registries=registries, device=device)
        check_optional_roles(config, objective, nets)
        return cls(config=config, registries=registries, device=device, dataset=dataset, data=data, nets=nets,
                   objective=objective)

    def evaluation_dataset(self) -> Dataset:
        return evaluation_dataset(self.config, self.registries)
