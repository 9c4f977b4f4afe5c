"""Experiment configs: TOML files -> frozen attrs objects, ``--set`` overrides, building components by name.

:mod:`.schema` holds the sections, :mod:`.checks` the type checks, :mod:`.structure` reading and writing
configs, :mod:`.components` building what they name; everything public is imported from ``pgvg_core.config``.

A component is written ``{name = "...", params = {...}}``. Every error names the file and the TOML path
(``generators.g1.params.ngf``) and says how to fix it.

The schema::

    [experiment]   name, seed, description
    [data]         the dataset component (registry ``datasets``)
    [trainer]      steps, batch size, device, precision, logging and checkpoint cadence
    [objective]    the training objective (registry ``objectives``): how the networks below are trained
    [generators.<role>]      networks (registry ``generators``), plus their optimiser settings
    [discriminators.<role>]  networks (registry ``discriminators``)
    [evaluators.<role>]      networks that metrics use to judge outputs (registry ``evaluators``)
    [losses.<term>]          weighted loss terms the objective uses (registry ``losses``); weight 0 switches off
    [augmentations.<slot>]   augmentations the objective uses (registry ``augmentations``)
    [[metrics]]              metrics computed at evaluation (registry ``metrics``)
"""

from pgvg_core.config.checks import matches_type
from pgvg_core.config.components import build, check_params, iter_components, validate_components
from pgvg_core.config.schema import (
    DEVICES,
    LR_SCHEDULES,
    PRECISIONS,
    ComponentSpec,
    ExperimentConfig,
    ExperimentSection,
    FieldError,
    LossTerm,
    NetworkSpec,
    TrainerConfig,
)
from pgvg_core.config.structure import (
    apply_override,
    config_from_dict,
    config_to_toml,
    load_config,
    parse_override,
    read_toml,
    save_config,
    structure,
    unstructure,
)

__all__ = [
    "ComponentSpec",
    "DEVICES",
    "ExperimentConfig",
    "ExperimentSection",
    "FieldError",
    "LR_SCHEDULES",
    "LossTerm",
    "NetworkSpec",
    "PRECISIONS",
    "TrainerConfig",
    "apply_override",
    "build",
    "check_params",
    "config_from_dict",
    "config_to_toml",
    "iter_components",
    "load_config",
    "matches_type",
    "parse_override",
    "read_toml",
    "save_config",
    "structure",
    "unstructure",
    "validate_components",
]
