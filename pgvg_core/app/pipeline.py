"""The two stages together: training them in order (``pgvg demo``) and animating a person (``pgvg animate``).

A pipeline run folder holds one run folder per stage: ``action-classifier/`` and ``pose-estimator/`` (the
helpers that metrics use), ``psgan/`` and ``scgan/``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from pgvg_core.app.stages import (  # noqa: F401 (these names stay importable from here)
    CONTRACTS,
    DEFAULT_PROVIDERS,
    PIPELINE_RECORD,
    check_contract,
    moved_joints_of,
    stage_folders,
)
from pgvg_core.config import ComponentSpec, ExperimentConfig, build, load_config
from pgvg_core.errors import CheckpointError, PgvgError
from pgvg_core.interfaces import helper_params_of
from pgvg_core.measure.evaluation import update_sharing_features
from pgvg_core.media.files import shipped
from pgvg_core.plugins import get_registries
from pgvg_core.poses.framing import Framing, framing_of
from pgvg_core.poses.keypoints import rescale_keypoints
from pgvg_core.poses.skeleton import BODY_18
from pgvg_core.training import checkpoint
from pgvg_core.training.randomness import seeded_streams
from pgvg_core.training.run import LoadedRun, load_run, read_metrics
from pgvg_core.training.trainer import Trainer

log = logging.getLogger("pgvg.pipeline")

EXPERIMENTS = shipped("experiments")


@attrs.frozen(kw_only=True)
class Stage:
    name: str  # the run folder's name inside the pipeline folder
    config: Path  # its experiment file
    overrides: tuple[str, ...] = ()
    provides: str | None = None  # "poses" (stage 1), "frames" (stage 2), or None (a helper that metrics use)


def experiment_file(name: str, pipeline_file: Path, where: str) -> Path:
    """An experiment file named by a pipeline or suite file: next to it, else one of pgvg's (``experiments/``)."""
    for candidate in (pipeline_file.parent / name, EXPERIMENTS / name):
        if candidate.is_file():
            return candidate.resolve()
    raise PgvgError(f"{where}.config: no experiment file '{name}' next to {pipeline_file} or among pgvg's "
                    f"({', '.join(sorted(p.name for p in EXPERIMENTS.glob('*.toml')))})")


def pipeline_stages(path: Path) -> tuple[Stage, ...]:
    """The stages of a pipeline file, in order: ``[[stages]]`` with ``name`` (its run folder), ``config`` (an
    experiment file), optionally ``set`` (overrides) and ``provides`` (``"poses"``: stage 1, ``"frames"``:
    stage 2; exactly one stage each). An error names the file and the stage's key when one is malformed."""
    import tomllib

    path = Path(path)
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("stages", [])
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PgvgError(f"{path}: not a readable pipeline file ({error})") from None
    stages = []
    for index, entry in enumerate(entries):
        where = f"{path}, at 'stages[{index}]'"
        unknown = sorted(set(entry) - {"name", "config", "set", "provides"})
        if unknown or not isinstance(entry.get("name"), str) or not isinstance(entry.get("config"), str):
            raise PgvgError(f"{where}: a stage has a name and a config (an experiment file) and may have a list "
                            f"'set' of overrides and 'provides'"
                            f"{'; unknown keys: ' + ', '.join(unknown) if unknown else ''}")
        overrides = entry.get("set", [])
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise PgvgError(f"{where}.set: a list of KEY=VALUE strings")
        provides = entry.get("provides")
        if provides is not None and provides not in CONTRACTS:
            raise PgvgError(f"{where}.provides: {provides!r}; a stage provides one of {', '.join(CONTRACTS)} "
                            "(or nothing: a helper)")
        stages.append(Stage(name=entry["name"], config=experiment_file(entry["config"], path, where),
                            overrides=tuple(overrides), provides=provides))
    if not stages:
        raise PgvgError(f"{path}: no [[stages]]")
    for what in CONTRACTS:
        providers = [stage.name for stage in stages if stage.provides == what]
        if len(providers) != 1:
            raise PgvgError(f"{path}: {len(providers)} stages provide '{what}' ({', '.join(providers) or 'none'}); "
                            f"exactly one stage must (provides = \"{what}\")")
    return tuple(stages)


def record_pipeline(stages: Sequence[Stage], pipeline_dir: Path) -> Path:
    """The stages as trained, in the pipeline folder (what :func:`stage_folders` reads back)."""
    import tomli_w

    entries = [{"name": stage.name, "config": str(stage.config), "set": list(stage.overrides),
                **({"provides": stage.provides} if stage.provides else {})} for stage in stages]
    path = pipeline_dir / PIPELINE_RECORD
    path.write_text(tomli_w.dumps({"stages": entries}), encoding="utf-8")
    return path


# The demo's stages and their budget: experiments/demo.toml.
DEMO_PIPELINE = EXPERIMENTS / "demo.toml"
DEMO_PIPELINES = {"body": DEMO_PIPELINE, "face": EXPERIMENTS / "demo-face.toml"}  # pgvg demo --domain
DEMO_STAGES = pipeline_stages(DEMO_PIPELINE)
DEMO_METRIC_CLIPS = 16


def stage_config(stage: Stage, pipeline_dir: Path, extra: Sequence[str] = ()) -> ExperimentConfig:
    from pgvg_core.plugins import get_registries

    config = load_config(stage.config, (*stage.overrides, *extra), registries=get_registries())
    # Metrics that need the action classifier use the one of this pipeline.
    metrics = [
        attrs.evolve(m, params={**m.params, "classifier": str(pipeline_dir / "action-classifier")})
        if "classifier" in m.params else m
        for m in config.metrics
    ]
    return attrs.evolve(config, metrics=metrics)


def train_stage(stage: Stage, pipeline_dir: Path, *, extra: Sequence[str] = (), progress: bool = True) -> Path:
    """Train one stage into ``pipeline_dir / stage.name``; a finished stage is reused, an interrupted one resumed."""
    return Trainer.train_or_continue(stage_config(stage, pipeline_dir, extra), pipeline_dir / stage.name,
                                     overrides=extra, progress=progress)


class Animator:
    """Both trained stages: a first pose + an action -> a pose sequence (PSGAN) -> frames (SCGAN's G2).

    ``model`` is a pipeline folder (``psgan/`` and ``scgan/`` runs, e.g. the demo's ``--out``) or an inference
    bundle written by ``pgvg export`` (:mod:`pgvg_core.app.bundle`).
    """

    def __init__(self, model: str | Path, *, device: str = "cpu") -> None:
        from pgvg_core.training.weights import model_path

        model = model_path(model)
        self.device = torch.device(device)
        self._moved: dict[str, set[int]] | None = None
        if model.is_file():
            from pgvg_core.app.bundle import load_bundle

            stages, meta = load_bundle(model, device=self.device)
            self.stage1, self.stage2 = stages["psgan"], stages["scgan"]
            self.framing = meta["framing"]
            self._moved = meta["moved_joints"]
            self.source = {"bundle": str(model), "sha256": meta["sha256"], **meta["provenance"]}
        else:
            self.stage1, self.stage2 = load_pipeline_stages(model, device=self.device)
            self.source = {"pipeline": str(model)}
        for stage, provides in ((self.stage1, "poses"), (self.stage2, "frames")):
            check_contract(stage, provides, model)
        self.classes = self.stage1.data.classes
        self.resolution = self.stage2.data.resolution
        self.generator = self.stage2.nets[self.stage2.objective.eval_generator]

    def action_index(self, action: str) -> int:
        if action not in self.classes:
            raise PgvgError(f"unknown action {action!r}; this model knows: {', '.join(self.classes)}")
        return self.classes.index(action)

    @torch.no_grad()
    def poses(self, first_keypoints: torch.Tensor, action: str, *, seed: int = 0) -> torch.Tensor:
        """``[K, 3]`` in frame pixels -> ``[T, K, 3]``; the first frame is the given pose."""
        label = torch.tensor([self.action_index(action)], device=self.device)
        scale = self.stage1.data.resolution / self.resolution  # stage-2 frame pixels -> stage-1 frame pixels
        first = rescale_keypoints(first_keypoints.to(self.device), scale)
        # The noise comes from `seed` alone, and the caller's random streams are left as they were.
        with seeded_streams(seed, self.device):
            generated = self.stage1.objective.generate_keypoints(self.stage1.nets, first[None], label)[0]
        sequence = rescale_keypoints(generated, 1 / scale)
        sequence[0] = first_keypoints.to(self.device)
        return sequence

    @torch.no_grad()
    def frames(self, image: torch.Tensor, source_keypoints: torch.Tensor, poses: torch.Tensor, *,
               detail: torch.Tensor | None = None, composition: str | None = None,
               person: torch.Tensor | None = None, refine_poses: bool = True) -> torch.Tensor:
        """``image [3, H, W]`` in [-1, 1], ``[K, 3]``, ``poses [T, K, 3]`` -> frames ``[T, 3, H, W]``; with
        ``detail`` (the same image at a higher resolution ``[3, H', W']``) frames ``[T, 3, H', W']``, drawn as
        ``composition`` (one of :attr:`compositions`, default the first), with ``person`` (``[1, H', W']``, where
        the person is in ``detail``) where known. ``refine_poses=False``: the poses are
        measured ones, followed as given (a generator that reads poses through a refiner offers
        ``poses_as_given()``, a context in which it does not)."""
        objective = self.stage2.objective
        batch = lambda t: None if t is None else t[None].to(self.device)  # noqa: E731
        given = getattr(self.generator, "poses_as_given", None)
        with given() if given is not None and not refine_poses else contextlib.nullcontext():
            clip = objective.render_clip(self.generator, batch(image), batch(source_keypoints), batch(poses),
                                         detail=batch(detail), composition=composition, person=batch(person))
        return clip[0]

    @property
    def compositions(self) -> tuple[str, ...]:
        """How stage 2 can draw a photo's person at the photo's resolution, best first
        (:attr:`FrameRenderer.compositions`)."""
        return tuple(getattr(self.stage2.objective, "compositions", ("network",)))

    @functools.cached_property
    def framing(self) -> Framing:
        """How stage 2's training data frames people (what a photo is cropped to match)."""
        return framing_of(self.stage2.dataset())

    def moved_joints(self, action: str) -> set[int]:
        """The joints that ``action`` moves in stage 1's training data (see :func:`moved_joints_of`)."""
        self.action_index(action)  # an unknown action is an error, not an empty set
        if self._moved is None:  # not recorded in a bundle: measured once, for every action
            self._moved = moved_joints_of(self.stage1.dataset(), self.classes, self.framing)
        return set(self._moved.get(action, ()))


def load_pipeline_stages(pipeline_dir: Path, *, device: torch.device) -> tuple[LoadedRun, LoadedRun]:
    """The runs of a pipeline folder that provide poses and frames (see :func:`stage_folders`)."""
    if not pipeline_dir.is_dir():
        raise CheckpointError(f"model not found: {pipeline_dir} (a pipeline folder, e.g. `pgvg demo --out "
                              f"{pipeline_dir}`, or a bundle file from `pgvg export`)")
    folders = stage_folders(pipeline_dir)
    for provides, what in (("poses", "stage-1 (poses)"), ("frames", "stage-2 (frames)")):
        if not checkpoint.list_checkpoints(pipeline_dir / folders[provides]):
            raise CheckpointError(
                f"{pipeline_dir} has no {what} weights ({folders[provides]}/checkpoints/step-*.pt); train them "
                f"with `pgvg demo --out {pipeline_dir}` or `pgvg run CONFIG --out {pipeline_dir / folders[provides]}`")
    return (load_run(pipeline_dir / folders["poses"], device=device),
            load_run(pipeline_dir / folders["frames"], device=device))


def panels(*clips: np.ndarray, gap: int = 2) -> np.ndarray:
    """Clips ``[T, H, W, 3]`` side by side (a still image is repeated over time): ``[T, H, W', 3]``."""
    length = max(len(c) if c.ndim == 4 else 1 for c in clips)
    parts = []
    for clip in clips:
        clip = clip if clip.ndim == 4 else np.repeat(clip[None], length, axis=0)
        parts += [clip[:length], np.full((length, clip.shape[1], gap, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=2)


def loss_curves(run_dirs: dict[str, Path], path: Path) -> Path:
    """One panel per stage, every loss term of its logged metrics over steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(run_dirs), figsize=(5 * len(run_dirs), 3.6), squeeze=False)
    for axis, (name, run_dir) in zip(axes[0], run_dirs.items()):
        rows = read_metrics(run_dir)
        steps = [int(r["step"]) for r in rows]
        for key in dict.fromkeys(k for r in rows for k in r):
            if "/" in key:
                values = [float(r[key]) if key in r else np.nan for r in rows]
                axis.plot(steps, values, label=key)
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.set_yscale("log")
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


@torch.no_grad()
def every_metric(animator: Animator, pipeline_dir: Path, clips: int, *, seed: int = 0) -> dict[str, Any]:
    """Every registered metric on the test split: frame metrics on SCGAN's frames (ground-truth poses), pose
    metrics on PSGAN's sequences, label metrics on the action classifier's reading of those sequences.
    A metric that cannot run here says why instead of a value."""
    dataset = animator.stage2.evaluation_dataset()
    count = min(clips, len(dataset))
    batch = torch.utils.data.default_collate([dataset[i] for i in range(count)])
    objective = animator.stage2.objective
    with seeded_streams(seed, animator.device):  # the caller's streams are left as they were
        prepared = objective.prepare(batch, animator.device)
        frame_pairs = objective.evaluation_pairs(animator.stage2.nets, prepared)  # real / fake [B, T-1, 3, H, W]
    first = batch["keypoints"][:, 0].to(animator.device)
    generated = torch.stack([animator.poses(first[b], animator.classes[int(batch["label"][b])], seed=seed + b)
                             for b in range(count)])  # [B, T, K, 3]
    classifier = load_run(pipeline_dir / "action-classifier", device=str(animator.device)).nets["classifier"]
    inputs = {
        "frames": (frame_pairs["real"], frame_pairs["fake"], {"keypoints": batch["keypoints"][:, 1:]}),
        "poses": (batch["keypoints"].to(animator.device), generated, {"labels": batch["label"]}),
        "labels": (batch["label"], classifier(generated).cpu(), {}),
    }
    results: dict[str, Any] = {}
    shared: dict[Any, Any] = {}  # FID and KID: one Inception pass
    registry = get_registries()["metrics"]
    for name in registry.list():
        factory = registry.get(name).factory
        domain = getattr(factory, "domain", "frames")
        try:
            params = _pipeline_params(factory, pipeline_dir)
            metric = build("metrics", ComponentSpec(name=name, params=params), device=animator.device)
            real, fake, context = inputs[domain]
            update_sharing_features(metric, real, fake, shared, **context)
            results[name] = {"values": metric.compute(), "on": _described(domain), "provenance": metric.provenance()}
        except (PgvgError, ValueError, KeyError) as error:
            results[name] = {"skipped": str(error), "on": _described(domain)}
    return {"clips": count, "split": "test (identities unseen in training)", "metrics": results}


# The splits that show the paper's failure cases, beside the normal test split: poses beyond the training
# range, and a source image whose face a hand covers.
FAILURE_SPLITS = ("test", "unseen-pose", "occlusion")


@torch.no_grad()
def failure_cases(animator: Animator, classifier: nn.Module, *, clips: int = 32, seed: int = 0,
                  splits: Sequence[str] = FAILURE_SPLITS) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Both stages on each split of stage 2's dataset that has it: stage 2's frames from the true poses
    (SSIM on [0, 1], LPIPS-ST against the real frames, and the same on the head alone: an occluded face comes
    out blurry) and stage 1's sequences from the clips' first poses (the classifier's accuracy).

    :returns: ``{split: {metric: value}}`` and a contact sheet (``[H, W, 3]`` uint8: for each split two clips,
        generated above real, every third frame).
    """
    from pgvg_core.media.sheets import grid
    from pgvg_core.media.video import to_uint8

    results, rows, labels = {}, [], []
    for split in splits:
        try:
            dataset = animator.stage2.dataset(split)
        except PgvgError as error:
            log.info("failure cases: %s", error)
            continue
        count = min(clips, len(dataset))
        batch = torch.utils.data.default_collate([dataset[i] for i in range(count)])
        frames, keypoints = batch["frames"], batch["keypoints"]  # [B, T, 3, H, W], [B, T, K, 3]
        fake = torch.stack([animator.frames(frames[b, 0], keypoints[b, 0], keypoints[b]) for b in range(count)])
        fake, real = fake[:, 1:].cpu(), frames[:, 1:]
        poses = torch.stack([animator.poses(keypoints[b, 0], animator.classes[int(batch["label"][b])],
                                            seed=seed + b) for b in range(count)])
        guessed = classifier(poses.to(next(classifier.parameters()).device)).argmax(-1).cpu()
        values = {"clips": float(count), "action_accuracy": float((guessed == batch["label"]).float().mean())}
        pairs = {"": (real, fake)}
        if animator.stage2.data.skeleton.name == BODY_18.name:  # a body's head alone (a face's frame is its head)
            heads = _head_boxes(keypoints[:, 1:], real.shape[-1])
            pairs["head_"] = (_crops(real, heads), _crops(fake, heads))
        for name, (a, b) in pairs.items():
            for metric in ("ssim", "lpips-st"):
                scorer = build("metrics", ComponentSpec(name=metric))
                scorer.update(a.flatten(0, 1), b.flatten(0, 1))
                values[name + metric] = float(next(iter(scorer.compute().values())))
        results[split] = values
        for b in [i for i in (3, 7) if i < count] or [0]:  # a jump and a kick where there are enough clips
            rows += [to_uint8(torch.cat([frames[b, :1], fake[b]]))[::3], to_uint8(frames[b])[::3]]
            labels += [f"{split}: {animator.classes[int(batch['label'][b])]}", "  real"]
    return results, grid(rows, labels) if rows else np.zeros((1, 1, 3), np.uint8)


def _head_boxes(keypoints: torch.Tensor, size: int) -> torch.Tensor:
    """A square around each head (nose, eyes, ears; side twice the eye-to-ear span, at least 8 px):
    ``[B, T, K, 3] -> [B, T, 4]`` (left, top, side, side) in pixels, inside the frame."""
    head = keypoints[..., [0, 14, 15, 16, 17], :]  # [B, T, 5, 3]
    seen = head[..., 2:3] > 0
    centre = (head[..., :2] * seen).sum(-2) / seen.sum(-2).clamp(min=1)  # [B, T, 2]
    spread = torch.where(seen, head[..., :2], centre[..., None, :]).sub(centre[..., None, :]).abs().amax((-2, -1))
    side = (4 * spread).clamp(min=8, max=size).round()
    corner = (centre - side[..., None] / 2).round().clamp(min=0)
    corner = torch.minimum(corner, size - side[..., None])
    return torch.cat([corner, side[..., None], side[..., None]], -1).long()


def _crops(frames: torch.Tensor, boxes: torch.Tensor, size: int = 64) -> torch.Tensor:
    """``frames [B, T, 3, H, W]`` cut at ``boxes [B, T, 4]`` and resized to ``size`` -> ``[B, T, 3, size, size]``."""
    out = torch.empty(*frames.shape[:3], size, size)
    for b in range(frames.shape[0]):
        for t in range(frames.shape[1]):
            left, top, side = (int(v) for v in boxes[b, t, :3])
            patch = frames[b, t, :, top : top + side, left : left + side]
            out[b, t] = torch.nn.functional.interpolate(patch[None], size=(size, size), mode="bilinear",
                                                        align_corners=False)[0]
    return out


def _pipeline_params(factory: Any, pipeline_dir: Path) -> dict[str, Any]:
    """Point a metric that needs a helper model at the one trained in this pipeline folder."""
    return helper_params_of(factory, {name: pipeline_dir / name for name in ("action-classifier", "pose-estimator")})


def _described(domain: str) -> str:
    return {"frames": "SCGAN frames from ground-truth poses vs real frames",
            "poses": "PSGAN pose sequences vs real sequences",
            "labels": "action classifier on PSGAN pose sequences vs intended actions"}.get(domain, domain)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, default=str))
    return path
