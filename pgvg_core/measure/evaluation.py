"""Measuring a model: metrics over the first clips of a dataset, the same way for a run in training
(:class:`pgvg_core.training.trainer.Evaluation`) and a finished one (``pgvg bench``).

A frame renderer (stage 2) can be measured on poses other than the true ones (:class:`PoseCondition`): the
true poses through an augmentation with a fixed draw (abnormal poses, one kind of error at a time), or the
poses a stage-1 model makes from each clip's first pose and action — the paper's robustness question.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import torch
from torch import nn

from pgvg_core.errors import PgvgError
from pgvg_core.interfaces import Augmentation, Dataset, FeatureSetMetric, Metric
from pgvg_core.objective import FrameRenderer, Objective, PoseSequenceModel
from pgvg_core.poses.keypoints import rescale_keypoints
from pgvg_core.training.randomness import seeded_streams

if TYPE_CHECKING:
    from pgvg_core.training.run import LoadedRun


@attrs.frozen(kw_only=True)
class PoseCondition:
    """The poses a frame renderer is given for the frames after a clip's first.

    ``augmentation``: the true poses through it, drawn once from ``seed`` (the same poses for every model and
    run); ``stage1``: a stage-1 run's sequences from each clip's first pose and action (its noise from the
    measurement's streams); neither: the true poses. The frames should show the true poses where the given ones
    are corrupted versions of them — a robust renderer draws what was meant — so PCK reads its targets from the
    real frames, as the field does (the same estimator on real and generated frames); where a stage-1 model made
    the poses no real frame shows them, and PCK's targets are those poses.
    """

    name: str = "true"
    augmentation: Augmentation | None = None
    stage1: LoadedRun | None = None
    seed: int = 1234

    def __attrs_post_init__(self) -> None:
        if self.augmentation is not None and self.stage1 is not None:
            raise PgvgError(f"poses '{self.name}': either an augmentation of the true poses or a stage-1 model, "
                            "not both")
        if self.stage1 is not None and not isinstance(self.stage1.objective, PoseSequenceModel):
            raise PgvgError(f"poses '{self.name}': {self.stage1.run_dir} is not a stage-1 run (its objective "
                            f"'{type(self.stage1.objective).__name__}' makes no pose sequences)")

    def poses(self, keypoints: torch.Tensor, label: torch.Tensor, *, classes: tuple[str, ...],
              resolution: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A clip batch's true poses ``[B, T, K, 3]`` (pixels of ``resolution``-pixel frames) and actions
        ``label [B]`` (named by ``classes``) -> (the poses given, ``[B, T-1, K, 3|4]``; the poses the frames
        should show where no real frame shows them, ``[B, T-1, K, 3]``, else None)."""
        after_first = keypoints[:, 1:]
        if self.augmentation is not None:
            params = self.augmentation.sample(after_first.shape, torch.Generator().manual_seed(self.seed))
            return self.augmentation.apply(after_first.cpu(), params).to(keypoints.device), None
        if self.stage1 is not None:
            generated = self._generated(keypoints, label, classes, resolution)
            return generated, generated
        return after_first, None

    def _generated(self, keypoints: torch.Tensor, label: torch.Tensor, classes: tuple[str, ...],
                   resolution: int) -> torch.Tensor:
        """The stage-1 model's sequences from each clip's first pose: ``[B, T-1, K, 3]`` in the clip's pixels."""
        stage1 = self.stage1
        known = tuple(stage1.data.classes)
        names = [classes[int(i)] for i in label]
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise PgvgError(f"poses '{self.name}': the stage-1 model in {stage1.run_dir} does not know the "
                            f"action(s) {', '.join(unknown)} (it knows {', '.join(known)})")
        if stage1.data.frames != keypoints.shape[1]:
            raise PgvgError(f"poses '{self.name}': the stage-1 model in {stage1.run_dir} makes {stage1.data.frames} "
                            f"frames, the protocol's clips have {keypoints.shape[1]}; train it on clips as long")
        device = next(iter(stage1.nets.parameters())).device
        scale = stage1.data.resolution / resolution  # the clip's pixels -> stage 1's
        first = rescale_keypoints(keypoints[:, 0, :, :3], scale).to(device)  # [B, K, 3]
        their_label = torch.tensor([known.index(name) for name in names], device=device)
        generated = stage1.objective.generate_keypoints(stage1.nets, first, their_label)  # [B, T, K, 3]
        return rescale_keypoints(generated, 1 / scale)[:, 1:].to(keypoints.device)


def update_sharing_features(metric: Metric, real: Any, fake: Any, shared: dict[Any, Any], **context: Any) -> None:
    """``metric.update(real, fake, **context)``, except that metrics comparing sets of one network's features
    (the same ``features_key``: FID and KID, one Inception pass) reuse what an earlier one computed on the same
    inputs: ``shared`` holds it. On a CPU that pass is most of an evaluation (a 64x64 frame costs ~60 ms)."""
    if not isinstance(metric, FeatureSetMetric) or real is None:
        metric.update(real, fake, **context)
        return
    key = (metric.features_key, id(real), id(fake))  # the caller keeps real and fake alive while ``shared`` is in use
    if key not in shared:
        shared[key] = (metric.features(real), metric.features(fake))
    metric.real.append(shared[key][0])
    metric.fake.append(shared[key][1])


@torch.no_grad()
def measure(objective: Objective, nets: nn.ModuleDict, dataset: Dataset, metrics: Mapping[str, Metric], *,
            clips: int, batch_size: int, seed: int, device: torch.device, num_workers: int = 0,
            progress: bool = False, poses: PoseCondition | None = None) -> dict[str, dict[str, Any]]:
    """Every metric over the first ``clips`` clips of ``dataset``: the objective's ``evaluation_pairs`` of
    each batch, drawn from streams seeded with ``seed`` (the caller's streams as they were). With ``poses``, a
    frame renderer's clips rendered from the poses of that condition instead (:func:`rendered_pairs`)."""
    from tqdm.auto import tqdm

    if poses is not None and not isinstance(objective, FrameRenderer):
        raise PgvgError(f"poses '{poses.name}': the objective '{type(objective).__name__}' renders no frames from "
                        "poses (a pose condition measures a stage-2 model)")

    for metric in metrics.values():
        metric.reset()
    count = min(clips, len(dataset))
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(count)), batch_size=batch_size,
                                         num_workers=num_workers)
    training = [net.training for net in nets.values()]
    nets.eval()
    with seeded_streams(seed, device):
        for raw in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
            if poses is None:
                pairs = objective.evaluation_pairs(nets, objective.prepare(raw, device))
            else:
                pairs = rendered_pairs(objective, nets, raw, poses, classes=tuple(dataset.classes), device=device)
            context = {k: v for k, v in pairs.items() if k not in ("real", "fake")}
            shared: dict[Any, Any] = {}
            for metric in metrics.values():
                update_sharing_features(metric, pairs["real"], pairs["fake"], shared, **context)
    for net, was_training in zip(nets.values(), training):
        net.train(was_training)
    return {name: metric.compute() for name, metric in metrics.items()}


def rendered_pairs(renderer: FrameRenderer, nets: Mapping[str, nn.Module], raw: Mapping[str, torch.Tensor],
                   poses: PoseCondition, *, classes: tuple[str, ...], device: torch.device) -> dict[str, Any]:
    """A batch of clips (``frames [B, T, 3, H, W]``, ``keypoints [B, T, K, 3]``, ``label [B]``) -> the frames
    after the first (``real``) and the renderer's frames of the person in frame 0 from the condition's poses
    (``fake``); with generated poses, also those (``keypoints``, PCK's targets: no real frame shows them)."""
    frames, keypoints = raw["frames"].to(device), raw["keypoints"].to(device)
    given, target = poses.poses(keypoints, raw.get("label"), classes=classes, resolution=frames.shape[-1])
    fake = renderer.render_clip(nets[renderer.eval_generator], frames[:, 0], keypoints[:, 0], given)
    pairs = {"real": frames[:, 1:], "fake": fake}
    return pairs if target is None else {**pairs, "keypoints": target}
