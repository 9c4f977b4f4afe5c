"""A run folder, and loading one for inference.

A run folder holds ``config.toml`` (the resolved config), ``checkpoints/step-*.pt`` (the last N; each has the
networks, optimisers, random streams, the loop's callbacks and the data description), ``metrics.jsonl`` (one
JSON object per log step, appended; :func:`read_metrics`, ``pgvg metrics RUN --csv FILE``), ``metrics.json``
(the last evaluation), ``samples/`` (sheets and GIFs) and ``tb/`` (TensorBoard).

:func:`load_run` returns what inference needs — the networks in eval mode, the objective (no loss terms, no
augmentations), the data description, the config — and touches no random stream, dataset or optimiser.
"""

from __future__ import annotations

import csv
import json
import logging
import tomllib
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from pgvg_core.config import ExperimentConfig, apply_override, config_from_dict, parse_override, read_toml
from pgvg_core.errors import CheckpointError, PgvgError
from pgvg_core.interfaces import Dataset
from pgvg_core.objective import DataInfo, Objective
from pgvg_core.training import checkpoint
from pgvg_core.training.experiment import (
    build_dataset,
    build_networks,
    build_objective,
    data_info,
    default_registries,
    evaluation_dataset,
)
from registries import RegistrySet

log = logging.getLogger("pgvg.run")

CONFIG_FILE = "config.toml"
METRICS_LOG = "metrics.jsonl"
EVALUATION_FILE = "metrics.json"
SAMPLES_DIR = "samples"


@attrs.define
class LoadedRun:
    """A trained stage for inference: its networks (eval mode), objective, data description and config.

    Built by :func:`load_run` from a run folder, or from an inference bundle (``run_dir`` is then ``None``)."""

    config: ExperimentConfig
    data: DataInfo
    nets: nn.ModuleDict
    objective: Objective
    step: int = 0
    run_dir: Path | None = None
    registries: RegistrySet | None = None

    def dataset(self, split: str | None = None) -> Dataset:
        """The data this stage learned from (``split``: another split of it, e.g. ``test``, ``unseen-pose``);
        built when asked for, never by loading."""
        return build_dataset(self.config, split=split, registries=self.registries)

    def evaluation_dataset(self) -> Dataset:
        return evaluation_dataset(self.config, self.registries)


def saved_config(run_dir: Path, state: dict[str, Any] | None = None, overrides: tuple[str, ...] = (), *,
                 registries: RegistrySet) -> ExperimentConfig:
    """A run's config: its ``config.toml`` (with ``overrides``), else the copy inside its checkpoint."""
    config_file = Path(run_dir) / CONFIG_FILE
    if config_file.exists():
        data = read_toml(config_file)
    elif state is not None:
        data = tomllib.loads(state["config"])
    else:
        raise CheckpointError(f"{run_dir}: no {CONFIG_FILE}; not a pgvg run folder")
    _evaluators_in_their_section(data, registries, run_dir)
    for text in overrides:
        apply_override(data, *parse_override(text))
    return config_from_dict(data, file=str(config_file), registries=registries)


def _evaluators_in_their_section(data: dict[str, Any], registries: RegistrySet, run_dir: Path) -> None:
    """Runs written before evaluation helpers were their own kind list the action classifier under
    ``[discriminators]`` and the pose estimator under ``[generators]``: move such a network to
    ``[evaluators]`` (the checkpoint's weights are keyed by role, which does not change)."""
    evaluators = set(registries["evaluators"].list())
    for kind in ("generators", "discriminators"):
        for role, spec in list(data.get(kind, {}).items()):
            name = spec.get("name") if isinstance(spec, dict) else None
            if name in evaluators and name not in registries[kind].list():
                data.setdefault("evaluators", {})[role] = data[kind].pop(role)
                log.info("%s: [%s.%s] (%s) read as [evaluators.%s]", run_dir, kind, role, name, role)


def saved_data_info(state: dict[str, Any], config: ExperimentConfig, registries: RegistrySet) -> DataInfo:
    """The data description a checkpoint records (one written before it did: read from the dataset)."""
    if "data" in state:
        return DataInfo(**{**state["data"], "classes": tuple(state["data"]["classes"])})
    return data_info(build_dataset(config, registries=registries), registries)


def load_run(run_dir: str | Path, *, device: str | torch.device = "cpu",
             registries: RegistrySet | None = None) -> LoadedRun:
    """A finished (or interrupted) run's latest checkpoint, for inference on ``device``."""
    registries = default_registries(registries)
    run_dir, device = Path(run_dir), torch.device(device)
    state = checkpoint.load(checkpoint.latest(run_dir))
    config = saved_config(run_dir, state, registries=registries)
    data = saved_data_info(state, config, registries)
    nets = build_networks(config, data, registries=registries, device=device)
    try:
        for role, net in nets.items():
            net.load_state_dict(state["nets"][role])
    except (KeyError, RuntimeError) as error:
        raise PgvgError(f"{run_dir}: its checkpoint does not fit its config's networks: {error}") from None
    objective = build_objective(config, data, registries=registries, device=device, training=False)
    return LoadedRun(config=config, data=data, nets=nets.eval(), objective=objective, step=int(state["step"]),
                     run_dir=run_dir, registries=registries)


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """The logged rows of a run, by step: ``metrics.jsonl`` (a run resumed from a checkpoint logs the steps
    after it again; the last row of a step wins), or a ``metrics.csv`` of an older run."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS_LOG
    if path.exists():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif (run_dir / "metrics.csv").exists():
        with open(run_dir / "metrics.csv", newline="") as file:
            rows = [{k: float(v) for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(file)]
    else:
        raise CheckpointError(f"{run_dir} has no {METRICS_LOG}: not a pgvg run folder, or it never logged a step")
    by_step = {int(row["step"]): row for row in rows}
    return [{**by_step[step], "step": step} for step in sorted(by_step)]


def write_metrics_csv(run_dir: str | Path, path: str | Path) -> Path:
    """A run's logged rows as CSV (one column per term; a row without a term leaves its cell empty)."""
    rows = read_metrics(run_dir)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as file:
        out = csv.DictWriter(file, fieldnames=fields)
        out.writeheader()
        out.writerows(rows)
    return Path(path)
