"""Evaluating pose sequences as Action2Motion and ACTOR do: an action classifier trained on real sequences.

The classifier (``pose-action-classifier``) is trained with its own experiment
(``experiments/action-classifier.toml``); its weights stay in that run folder. The ``pose-action`` metric loads
it and reports, for generated sequences against real ones:

* ``accuracy``: how often the classifier recognises the intended action (``real_accuracy`` for reference);
* ``fid``: Fréchet distance between the classifier's features of real and generated sequences;
* ``diversity``: mean feature distance between random pairs of generated sequences (``real_diversity``);
* ``smoothness``: mean joint acceleration, generated / real (1 = as smooth as real motion; higher = jerkier);
* ``presence``: of the frames where a joint is visible in the real clip, the share where it is visible in the
  generated clip of the same first pose and action; ``presence.<joint>`` per joint, ``presence`` the lowest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pgvg_core.config import LossTerm
from pgvg_core.errors import DataError
from pgvg_core.interfaces import Evaluator, Metric
from pgvg_core.measure.stats import frechet_distance
from pgvg_core.media.files import sha256_of
from pgvg_core.objective import Objective
from pgvg_core.poses.keypoints import body_size
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton
from pgvg_core.training import randomness
from pgvg_psgan.objective import sequence_keypoints, with_posture

log = logging.getLogger(__name__)


def normalise_poses(keypoints: torch.Tensor, root: int = BODY_18.index("neck")) -> torch.Tensor:
    """``[B, T, K, 3]`` -> ``[B, 3K, T]``: joints relative to the clip's mean position of keypoint ``root`` (the
    skeleton's root: the neck of a body, the nose tip of a face), in body sizes.

    Removing position and scale makes the classifier judge motion, not where or how big the person is.
    """
    xy, confidence = keypoints[..., :2], keypoints[..., 2:3].clamp(0, 1)
    anchor, seen = xy[:, :, root : root + 1], confidence[:, :, root : root + 1]
    anchor_mean = (anchor * seen).sum(1, keepdim=True) / seen.sum(1, keepdim=True).clamp(min=1e-6)
    size = body_size(keypoints).mean(dim=1).clamp(min=1.0)[:, None, None, None]  # [B, 1, 1, 1]
    relative = (xy - anchor_mean) / size * confidence
    features = torch.cat([relative, confidence], dim=-1)  # [B, T, K, 3]
    return features.flatten(2).transpose(1, 2)  # [B, 3K, T]


class PoseActionClassifier(Evaluator):
    """Action classifier over pose sequences: keypoints [B, T, K, 3] -> class logits [B, C] (for metrics).

    A temporal convolution network over normalised joint positions; ``features()`` gives the penultimate
    activations used for FID and diversity. With ``motion`` it also reads each joint's path about its mean over
    the clip, ``motion`` times larger: a face's expressions move landmarks by a few hundredths of the face's
    size, invisible beside the differences between faces, and the network did not learn them from positions
    alone (chance accuracy after 1,000 steps).
    """

    def __init__(self, *, keypoints: int = 18, num_classes: int = 10, width: int = 128, feature_dim: int = 64,
                 skeleton: Skeleton | str = BODY_18, motion: float = 0.0) -> None:
        super().__init__()
        if motion < 0:
            raise ValueError(f"motion (the gain of the joints' paths about their mean) must be >= 0, got {motion}")
        self.root = as_skeleton(skeleton).root_index  # where poses are centred
        self.motion = motion
        self.net = nn.Sequential(
            nn.Conv1d((5 if motion else 3) * keypoints, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, padding=4, dilation=4), nn.ReLU(inplace=True),
        )
        self.project = nn.Sequential(nn.Linear(2 * width, feature_dim), nn.ReLU(inplace=True))
        self.classify = nn.Linear(feature_dim, num_classes)

    def features(self, keypoints: torch.Tensor) -> torch.Tensor:
        """``[B, T, K, 3]`` -> ``[B, feature_dim]``."""
        poses = normalise_poses(keypoints.float(), self.root)  # [B, 3K, T]
        if self.motion:
            xy = poses.view(poses.shape[0], -1, 3, poses.shape[-1])[:, :, :2]  # [B, K, 2, T]
            path = (xy - xy.mean(-1, keepdim=True)) * self.motion
            poses = torch.cat([poses, path.flatten(1, 2)], dim=1)  # [B, 5K, T]
        hidden = self.net(poses)  # [B, width, T]
        pooled = torch.cat([hidden.mean(-1), hidden.amax(-1)], dim=1)
        return self.project(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


class ActionClassifierObjective(Objective):
    """Trains the action classifier on real pose sequences (with small pose noise for robustness)."""

    evaluator_roles = ("classifier",)
    #: ``posture``: clips moved to other postures, so that a stride or a side view is not read as an action.
    augmentation_slots = ("posture",)
    default_terms = {"classification": LossTerm(name="cross-entropy", weight=1.0)}

    def __init__(self, *, pose_noise: float = 0.02, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pose_noise = pose_noise

    def training_batch(self, batch):
        return with_posture(self.augmentations.get("posture"), batch)

    def prepare(self, batch, device):
        return {"keypoints": batch["keypoints"].to(device), "label": batch["label"].to(device)}

    def generate(self, nets, batch):
        return {}

    def discriminator_terms(self, nets, batch, fakes):
        return {}

    def generator_terms(self, nets, batch, fakes):  # the classifier is fitted in the generator step
        keypoints = batch["keypoints"]
        if self.pose_noise:
            size = body_size(keypoints)[..., None, None]  # [B, T, 1, 1]
            noise = randomness.randn(*keypoints[..., :2].shape, device=keypoints.device) * self.pose_noise * size
            keypoints = torch.cat([keypoints[..., :2] + noise, keypoints[..., 2:]], dim=-1)
        return {"classification": self.term("classification", nets["classifier"](keypoints), batch["label"])}

    def evaluation_pairs(self, nets, batch):
        return {"real": batch["label"], "fake": nets["classifier"](batch["keypoints"])}


class ClassificationAccuracy(Metric):
    """Top-1 accuracy of class logits against labels: update(labels [B], logits [B, C])."""

    directions = {"accuracy": True, "count": None}

    domain = "labels"

    def __init__(self, **_: Any) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, real: torch.Tensor, fake: torch.Tensor, **_: Any) -> None:
        self.correct += int((fake.argmax(-1) == real).sum())
        self.total += len(real)

    def compute(self) -> dict[str, float]:
        return {"accuracy": self.correct / max(self.total, 1), "count": float(self.total)}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "accuracy", "count": self.total}


def diversity(features: np.ndarray, pairs: int = 200, seed: int = 0) -> float:
    """Mean Euclidean distance between random pairs of feature vectors (ACTOR's diversity)."""
    rng = np.random.default_rng(seed)
    if len(features) < 2:
        return float("nan")
    a = rng.integers(len(features), size=pairs)
    b = (a + rng.integers(1, len(features), size=pairs)) % len(features)
    return float(np.linalg.norm(features[a] - features[b], axis=1).mean())


def mean_acceleration(keypoints: torch.Tensor) -> torch.Tensor:
    """Per-clip mean second difference of visible joints over time, in body sizes: ``[B, T, K, 3] -> [B]``."""
    xy, visible = keypoints[..., :2], keypoints[..., 2] > 0
    acceleration = (xy[:, 2:] - 2 * xy[:, 1:-1] + xy[:, :-2]).norm(dim=-1)  # [B, T-2, K]
    valid = visible[:, 2:] & visible[:, 1:-1] & visible[:, :-2]
    size = body_size(keypoints).mean(1).clamp(min=1.0)
    return (acceleration * valid).sum((1, 2)) / valid.sum((1, 2)).clamp(min=1) / size


class PoseActionMetric(Metric):
    """Action accuracy, FID, diversity and smoothness of generated pose sequences, via a trained classifier."""

    # None: not ranked (diversity and smoothness are best close to the real sequences', not high or low).
    directions = {"accuracy": True, "fid": False, "presence": True, "real_accuracy": None, "chance": None,
                  "diversity": None, "real_diversity": None, "smoothness": None, "acceleration": None,
                  "real_acceleration": None}

    domain = "poses"

    @classmethod
    def helper_params(cls, helpers: Mapping[str, Any]) -> dict[str, Any]:
        found = helpers.get("action-classifier")  # none: the default run folder (and its error, if missing)
        return {"classifier": str(found)} if found else {}

    def __init__(self, *, classifier: str = "runs/action-classifier", device: Any = "cpu", **_: Any) -> None:
        from pgvg_core.training import checkpoint
        from pgvg_core.training.run import load_run

        run = Path(classifier)
        if not run.is_dir() or not checkpoint.list_checkpoints(run):
            raise DataError(
                f"no action classifier at {run}: train one with `pgvg run experiments/action-classifier.toml "
                f"--out {run}`, or point metrics.params.classifier at a run folder that has one"
            )
        self.weights = checkpoint.latest(run)
        run_state = load_run(run, device=device)
        self.classifier = run_state.nets["classifier"]
        self.classes = run_state.data.classes
        self.skeleton = getattr(run_state.data, "skeleton", BODY_18)  # what the classifier's keypoints follow
        self.device = torch.device(device)
        self.reset()

    def reset(self) -> None:
        self.real_features: list[torch.Tensor] = []
        self.fake_features: list[torch.Tensor] = []
        self.real_correct = self.fake_correct = self.count = 0
        self.real_acceleration: list[torch.Tensor] = []
        self.fake_acceleration: list[torch.Tensor] = []
        self.real_visible: torch.Tensor | None = None  # [K] frames where the real joint is visible
        self.both_visible: torch.Tensor | None = None  # [K] ... and the generated one too

    @staticmethod
    def _keypoints(x: torch.Tensor) -> torch.Tensor:
        return sequence_keypoints(x) if x.dim() == 5 else x  # heatmaps [B, K, T, H, W] or keypoints [B, T, K, 3]

    @torch.no_grad()
    def update(self, real: torch.Tensor, fake: torch.Tensor, *, labels: torch.Tensor | None = None,
               **_: Any) -> None:
        if labels is None:
            raise ValueError("pose-action needs the intended action labels: update(real, fake, labels=...)")
        visible = {}
        for name, x in (("real", real), ("fake", fake)):
            keypoints = self._keypoints(x.to(self.device))
            visible[name] = keypoints[..., 2] > 0  # [B, T, K]
            features = self.classifier.features(keypoints)
            predicted = self.classifier.classify(features).argmax(-1).cpu()
            correct = int((predicted == labels.cpu()).sum())
            getattr(self, f"{name}_features").append(features.cpu())
            getattr(self, f"{name}_acceleration").append(mean_acceleration(keypoints).cpu())
            setattr(self, f"{name}_correct", getattr(self, f"{name}_correct") + correct)
        self.count += len(labels)
        real_visible = visible["real"].sum((0, 1)).cpu()
        both_visible = (visible["real"] & visible["fake"]).sum((0, 1)).cpu()
        if self.real_visible is None:
            self.real_visible, self.both_visible = real_visible, both_visible
        else:
            self.real_visible, self.both_visible = self.real_visible + real_visible, self.both_visible + both_visible

    def compute(self) -> dict[str, float]:
        if self.count < 2:
            raise ValueError(f"pose-action needs at least 2 sequences, got {self.count}")
        real = torch.cat(self.real_features).numpy()
        fake = torch.cat(self.fake_features).numpy()
        real_acc = torch.cat(self.real_acceleration).mean().item()
        fake_acc = torch.cat(self.fake_acceleration).mean().item()
        return {
            "accuracy": self.fake_correct / self.count,
            "real_accuracy": self.real_correct / self.count,
            "chance": 1 / len(self.classes),
            "fid": frechet_distance(real, fake),
            "diversity": diversity(fake),
            "real_diversity": diversity(real),
            "smoothness": fake_acc / max(real_acc, 1e-9),
            "acceleration": fake_acc,
            "real_acceleration": real_acc,
            **self._presence(),
        }

    def _presence(self) -> dict[str, float]:
        """``presence`` (the lowest over joints) and ``presence.<joint>``: generated-visible / real-visible."""
        shares = (self.both_visible / self.real_visible.clamp(min=1)).tolist()
        known = self.skeleton.keypoint_names
        names = known if len(shares) == len(known) else [str(k) for k in range(len(shares))]
        seen = [share for share, count in zip(shares, self.real_visible.tolist()) if count]
        return {"presence": min(seen, default=float("nan")),
                **{f"presence.{name}": share for name, share in zip(names, shares)}}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "pose-action", "version": 2, "backbone": "pose-action-classifier",
                "weights": str(self.weights), "weights_sha256": sha256_of(self.weights), "count": self.count,
                "dtype": "float64 statistics"}
