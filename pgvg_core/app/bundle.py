"""Inference bundles: both stages of a pipeline in one file, to animate photos without training.

``pgvg export RUN_DIR --out FILE.pt`` writes, as one ``torch.save`` file that ``torch.load(weights_only=True)``
reads (plain dicts, lists, strings, numbers and tensors; nothing else is pickled):

* per stage (``psgan``, ``scgan``): the resolved experiment config (TOML text), the data description, the
  role of the generator used at inference, and its weights in half precision;
* the action classes, the skeleton (keypoint names, limbs), how the training data frames people, and which
  joints each action moves (what ``pgvg animate`` checks a photo against);
* provenance: the run folders, their steps, pgvg / torch versions, the git commit where known, the time;
* ``sha256``: a digest of every weight tensor (names, shapes, dtypes, bytes), checked on load.

Loading builds only the two generators and their objectives (no dataset, optimiser, loss network or random
stream is touched).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import logging
import tomllib
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from pgvg_core.errors import CheckpointError, DataError
from pgvg_core.media.files import atomic_write
from pgvg_core.objective import DataInfo
from pgvg_core.poses.framing import Framing
from pgvg_core.poses.skeleton import BODY_18
from pgvg_core.training.run import LoadedRun
from pgvg_core.training.weights import (  # noqa: F401 (bundle files are read there; these names stay importable here)
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    PROVIDES,
    SHIPPED,
    SHIPPED_FACE,
    SHIPPED_MODELS,
    STAGES,
    model_path,
    read_bundle,
    weights_digest,
)

log = logging.getLogger("pgvg.bundle")

def export_bundle(pipeline_dir: str | Path, out: str | Path, *, base: str | Path | None = None) -> dict[str, Any]:
    """Write the inference bundle of a pipeline folder (``psgan/`` and ``scgan/`` runs) to ``out``.

    With ``base`` (a bundle), a stage the folder has no run of is taken from ``base`` as it is: a new stage 1
    beside a shipped stage 2, say. Its provenance says where each stage came from."""
    from pgvg_core.app.stages import check_contract, moved_joints_of, stage_folders
    from pgvg_core.config import config_to_toml
    from pgvg_core.leaderboard.results import code_version
    from pgvg_core.poses.framing import framing_of
    from pgvg_core.training import checkpoint
    from pgvg_core.training.run import load_run

    pipeline_dir = Path(pipeline_dir)
    if pipeline_dir.is_file():
        raise DataError(f"{pipeline_dir} is already a bundle; export a pipeline folder (psgan/ and scgan/)")
    base = model_path(base) if base is not None else None
    inherited = read_bundle(base) if base is not None else None
    stages, runs, sources = {}, {}, {}
    folders = stage_folders(pipeline_dir)
    for name in STAGES:
        folder = pipeline_dir / folders[PROVIDES[name]]
        if checkpoint.list_checkpoints(folder):
            run = runs[name] = load_run(folder, device="cpu")
            check_contract(run, PROVIDES[name], folder)
            objective = run.objective
            role = objective.eval_generator if name == "scgan" else objective.sequence_generator
            state = {key: value.detach().to("cpu", torch.float16 if value.is_floating_point() else value.dtype)
                     for key, value in run.nets[role].state_dict().items()}
            stages[name] = {"config": config_to_toml(run.config), "role": role, "data": attrs.asdict(run.data),
                            "steps": int(run.step), "run_dir": str(run.run_dir), "state": state}
            sources[name] = str(folder.resolve())
        elif inherited is not None:
            stages[name] = inherited["stages"][name]
            sources[name] = f"{Path(base).resolve()} (sha256 {inherited['sha256'][:16]})"
        else:
            raise CheckpointError(
                f"{pipeline_dir} has no {PROVIDES[name]} run ({folder.name}/checkpoints/step-*.pt); train it with `pgvg demo --out "
                f"{pipeline_dir}`, or take that stage from a bundle with --from BUNDLE")
    classes = tuple(stages["psgan"]["data"]["classes"])
    framing = framing_of(runs["scgan"].dataset()) if "scgan" in runs else Framing.from_dict(inherited["framing"])
    if "psgan" in runs:
        moved = moved_joints_of(runs["psgan"].dataset(), classes, framing)
    else:
        moved = {action: set(joints) for action, joints in inherited["moved_joints"].items()}
    states = {name: stage["state"] for name, stage in stages.items()}
    payload = {
        "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
        "classes": list(classes), "resolution": int(stages["scgan"]["data"]["resolution"]),
        "skeleton": runs["scgan"].data.skeleton.as_dict() if "scgan" in runs
                     else inherited.get("skeleton", BODY_18.as_dict()),  # bundles before skeletons: body-18
        "framing": framing.as_dict(),
        "moved_joints": {action: sorted(joints) for action, joints in moved.items()},
        "stages": stages,
        "provenance": {"pgvg": importlib.metadata.version("pgvg"), "torch": str(torch.__version__),
                       "git_commit": code_version()["git_commit"], "created": datetime.datetime.now(datetime.UTC).isoformat(),
                       "source": str(pipeline_dir.resolve()), "stage_sources": sources, "weights_dtype": "float16"},
        "sha256": weights_digest(states),
    }
    atomic_write(Path(out), lambda file: torch.save(payload, file))
    size = Path(out).stat().st_size
    log.info("wrote %s (%.1f MB, sha256 of weights %s)", out, size / 1e6, payload["sha256"][:16])
    return {"file": Path(out), "bytes": size, "sha256": payload["sha256"],
            "steps": {name: stage["steps"] for name, stage in stages.items()}}


def load_stage(entry: dict[str, Any], *, device: torch.device) -> LoadedRun:
    """Build one stage's generator and objective from a bundle entry (the caller's random streams untouched)."""
    from pgvg_core.config import build, config_from_dict
    from pgvg_core.plugins import get_registries
    from pgvg_core.training.experiment import build_objective, network_context
    from pgvg_core.training.randomness import streams_kept

    registries = get_registries()
    config = config_from_dict(tomllib.loads(entry["config"]), file="bundle", registries=registries)
    data = DataInfo(**{**entry["data"], "classes": tuple(entry["data"]["classes"])})
    role = entry["role"]
    with streams_kept(device):  # the random initialisation is overwritten by the weights
        generator = build("generators", config.generators[role], registries=registries, file="bundle",
                          path=f"generators.{role}", **network_context(data))
    generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in entry["state"].items()})
    nets = nn.ModuleDict({role: generator}).to(device).eval()
    objective = build_objective(config, data, registries=registries, device=device, training=False)
    return LoadedRun(config=config, data=data, nets=nets, objective=objective, step=int(entry["steps"]),
                     registries=registries)


def load_bundle(path: str | Path, *, device: torch.device) -> tuple[dict[str, LoadedRun], dict[str, Any]]:
    """Both stages of a bundle and its metadata (classes, framing, moved joints, provenance)."""
    payload = read_bundle(path)
    stages = {name: load_stage(payload["stages"][name], device=device) for name in STAGES}
    framing = Framing.from_dict(payload["framing"])
    meta = {"classes": tuple(payload["classes"]), "resolution": int(payload["resolution"]), "framing": framing,
            "moved_joints": {action: set(joints) for action, joints in payload["moved_joints"].items()},
            "provenance": payload["provenance"], "sha256": payload["sha256"]}
    return stages, meta
