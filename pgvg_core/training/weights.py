"""Trained weights on disk: inference bundle files (their format, reading and checking them, the bundles that
ship with pgvg) and the weights a network starts from (``init`` in an experiment). Writing and loading
bundles as models is :mod:`pgvg_core.app.bundle`'s."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from pgvg_core.errors import CheckpointError, ConfigError
from pgvg_core.media.files import shipped

BUNDLE_FORMAT = "pgvg-inference-bundle"
BUNDLE_VERSION = 1
STAGES = ("psgan", "scgan")  # the bundle's keys for the stage that provides poses and the one that renders frames
PROVIDES = {"psgan": "poses", "scgan": "frames"}
#: The bundles that ship with pgvg (see README, "A model that ships"): bodies (synthetic-actions) and faces
#: (synthetic-faces). ``--model body`` / ``--model face`` name them; ``shipped`` is the body model.
SHIPPED = shipped("models", "synthetic-actions-64.pt")
SHIPPED_FACE = shipped("models", "synthetic-faces-64.pt")
SHIPPED_MODELS = {"body": SHIPPED, "face": SHIPPED_FACE, "shipped": SHIPPED}


def model_path(model: str | Path) -> Path:
    """A model named by ``--model``: a shipped one by name (``body``, ``face``, ``shipped``), else the path."""
    if str(model) in SHIPPED_MODELS and not Path(model).exists():
        path = SHIPPED_MODELS[str(model)]
        if not path.is_file():
            raise CheckpointError(f"the shipped {model} model is missing ({path}); reinstall pgvg, or pass --model "
                                  "with a bundle from `pgvg export` or a pipeline folder from `pgvg demo`")
        return path
    return Path(model)


def weights_digest(states: dict[str, dict[str, torch.Tensor]]) -> str:
    """sha256 over every tensor's stage, name, dtype, shape and bytes, in a fixed order."""
    digest = hashlib.sha256()
    for stage in sorted(states):
        for name in sorted(states[stage]):
            tensor = states[stage][name].contiguous()
            digest.update(f"{stage}/{name}:{tensor.dtype}:{list(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def read_bundle(path: str | Path) -> dict[str, Any]:
    """The payload of a bundle file, checked: format, version, weights digest."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model bundle not found: {path} (write one with `pgvg export RUN_DIR --out {path}`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - unpickling refuses anything but plain data; say so
        raise CheckpointError(f"{path}: not a readable pgvg model bundle ({str(error).splitlines()[0]}); "
                              "bundles are written by `pgvg export`") from None
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise CheckpointError(f"{path}: not a pgvg model bundle (no format '{BUNDLE_FORMAT}')")
    if payload.get("version") != BUNDLE_VERSION:
        raise CheckpointError(f"{path}: bundle version {payload.get('version')}, this pgvg reads version "
                              f"{BUNDLE_VERSION}; export it again with this pgvg")
    states = {name: payload["stages"][name]["state"] for name in STAGES}
    if weights_digest(states) != payload["sha256"]:
        raise CheckpointError(f"{path}: the weights do not match the bundle's sha256 (a damaged or edited file); "
                              "export it again")
    return payload


def initial_weights(init: str, role: str, *, file: str | None = None, path: str = "init") -> dict[str, torch.Tensor]:
    """A network's starting weights (float32 state dict) named by ``init``: a shipped bundle (``"shipped"``,
    ``"body"``, ``"face"``) or a bundle file (``pgvg export``), optionally ``:psgan`` / ``:scgan`` (the stage
    whose generator; default ``scgan``), or a run folder, optionally ``:<role>`` (its last checkpoint's network
    of that role; default ``role``)."""
    from pgvg_core.training import checkpoint

    where, _, part = init.partition(":") if not Path(init).exists() else (init, "", "")
    source = model_path(Path(where).expanduser() if where not in ("shipped", "body", "face") else where)
    if source.is_file():
        stage = part or "scgan"
        if stage not in STAGES:
            raise ConfigError(f"a bundle's stages are {', '.join(STAGES)}, not {stage!r}", file=file, path=path)
        state = read_bundle(source)["stages"][stage]["state"]
    elif source.is_dir():
        found = checkpoint.list_checkpoints(source)
        if not found:
            raise ConfigError(f"{source} has no checkpoints (checkpoints/step-*.pt) to start from", file=file,
                              path=path)
        nets = checkpoint.load(found[-1])["nets"]
        if (part or role) not in nets:
            raise ConfigError(f"{source} has no network '{part or role}' (it has {', '.join(nets)})", file=file,
                              path=path)
        state = nets[part or role]
    else:
        raise ConfigError(f"no weights at {init!r}: give 'shipped', a bundle file from `pgvg export`, or a run "
                          "folder", file=file, path=path)
    return {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
