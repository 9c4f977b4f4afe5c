"""The interface of every component kind, with the tensor shapes at its boundaries.

Conventions used throughout pgvg:

* ``B`` batch, ``T`` frames, ``K`` keypoints (as many as the data's skeleton has, :mod:`pgvg_core.poses.skeleton`;
  ``body-18``: 18 in COCO/OpenPose order), ``H, W`` pixels, ``C`` channels.
* Images and frames are float tensors in ``[-1, 1]``, channels first: a frame ``[B, 3, H, W]``, a clip
  ``[B, T, 3, H, W]``.
* Keypoints are ``[..., K, 3]``: x, y in pixels and a confidence in ``[0, 1]`` (0 = missing).
* Pose heatmaps are one Gaussian per joint in ``[0, 1]``: a pose ``[B, K, H, W]``, a pose sequence
  ``[B, K, T, H, W]`` (time as the depth axis of 3D convolutions).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn


class Generator(nn.Module, abc.ABC):
    """A conditional generator. ``forward`` takes named tensors and returns the generated tensor.

    Stage 1 (PSGAN): ``forward(pose [B, K, H, W], label [B], noise [B, Z] | None) -> [B, K, T, H, W]``.
    Stage 2 (SCGAN and baselines): ``forward(image [B, 3, H, W], source_pose [B, K, H, W],
    target_pose [B, K, H, W]) -> [B, 3, H, W]``.
    """

    @abc.abstractmethod
    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor: ...


class PoseSequenceGenerator(Generator):
    """Stage 1 in keypoint space: a generator that can also produce joints directly, with no heatmaps.

    ``keypoint_sequence(first [B, K, 3], label [B], noise [B, Z] | None, *, size=(H, W)) -> [B, T, K, 3]``:
    the first pose in pixels of an ``H x W`` frame in, the sequence in the same pixels out, frame 0 = the first
    pose. ``forward`` still takes and returns heatmaps (see ``Generator``), so such a generator also works
    wherever a heatmap generator does; objectives and the animator use ``keypoint_sequence`` where they can
    (exact joints, no drawing and reading back).
    """

    @abc.abstractmethod
    def keypoint_sequence(self, first: torch.Tensor, label: torch.Tensor, noise: torch.Tensor | None = None, *,
                          size: tuple[int, int]) -> torch.Tensor: ...


class Discriminator(nn.Module, abc.ABC):
    """A (conditional) discriminator returning patch logits.

    ``forward(x [B, C, ...], condition [B, C', ...] | None) -> logits [B, 1, ...]``: one logit per patch, so
    the adversarial loss is a mean over patches.
    """

    #: True where each sample's logits depend on that sample alone (no batch norm, no minibatch statistics):
    #: an objective may then judge real and fake frames in one call, which is the same computation and runs
    #: faster on a CPU (larger batches). False, the safe default, keeps one call per set of frames.
    batch_independent: bool = False

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor: ...


class Evaluator(nn.Module, abc.ABC):
    """An evaluation helper: a network that metrics use to judge outputs, trained by its own experiment
    (``[evaluators.<role>]``), never against a generator.

    An action classifier: ``forward(keypoints [B, T, K, 3]) -> logits [B, C]``; a pose estimator:
    ``forward(frames [B, 3, H, W]) -> heatmaps [B, K, H', W']``.
    """

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor: ...


class Loss(nn.Module, abc.ABC):
    """A differentiable loss returning a scalar tensor.

    Pixel losses: ``forward(prediction, target) -> []``. Adversarial losses (``gan-*``):
    ``forward(logits, target_is_real: bool) -> []`` for the discriminator, and the generator calls it with
    ``target_is_real=True`` on the fake logits.
    """

    @abc.abstractmethod
    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor: ...


class PoseSource(abc.ABC):
    """Finds the pose of a person in frames.

    ``__call__(frames uint8 [T, H, W, 3]) -> keypoints float32 [T, K, 3]`` in pixel coordinates of the
    frames, confidence 0 where a joint was not found, ``K`` that of the skeleton the source's keypoints follow
    (``skeleton``, a registered name). ``settings()`` returns what identifies the output (model and
    parameters), used as part of the pose-cache key.
    """

    #: the registered name of the skeleton the keypoints follow (:func:`pgvg_core.poses.skeleton.skeleton_by_name`)
    skeleton: str = "body-18"
    #: whether ``people`` can find several people in one image (then a driving video's person is tracked among
    #: them, frame by frame); otherwise a clip's poses come from ``__call__`` on the whole clip
    several_people: bool = False

    @abc.abstractmethod
    def __call__(self, frames: Any) -> Any: ...

    def settings(self) -> Mapping[str, Any]:
        return {"source": type(self).__name__}

    def people(self, image: Any, *, path: Any = None) -> Any:
        """Every person this source finds in one image ``uint8 [H, W, 3]`` (read from ``path``):
        ``float32 [P, K, 3]``. By default the one person ``__call__`` finds."""
        return self(image[None], clip_path=path)[:1]

    def person_mask(self, image: Any, keypoints: Any) -> Any:
        """Where the person with ``keypoints [K, 3]`` (pixels) is in ``image uint8 [H, W, 3]``, hair, hands and
        clothes included: ``float32 [H, W]`` in [0, 1], or None where this source cannot tell (the default)."""
        return None


class Augmentation(abc.ABC):
    """An augmentation whose random parameters are sampled apart from being applied (as in Kornia).

    ``sample(shape, generator) -> params`` draws parameters for a batch of ``shape``; ``apply(x, params)``
    applies them, so a real and a fake batch get identical transforms. ``__call__`` does both at once.
    """

    @abc.abstractmethod
    def sample(self, shape: torch.Size, generator: torch.Generator | None = None) -> Any: ...

    @abc.abstractmethod
    def apply(self, x: torch.Tensor, params: Any) -> torch.Tensor: ...

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply(x, self.sample(x.shape, generator))


class Metric(abc.ABC):
    """A metric accumulated over batches.

    ``update(real, fake)`` with batches of the same shape (frames ``[B, 3, H, W]`` in ``[-1, 1]``, or what the
    metric documents); ``compute() -> dict[str, float]``; ``reset()``; ``provenance() -> dict`` records what
    is needed to reproduce the value (version, backbone, weights hash, resize method, image counts, dtype).
    """

    higher_is_better: bool = True
    #: per value of ``compute()``, whether higher is better (False: lower; None: not ranked, e.g. a count or a
    #: reference value); ``None`` for the whole mapping: every value follows ``higher_is_better``
    directions: Mapping[str, bool | None] | None = None
    #: what the metric compares: "frames" (``[B, 3, H, W]`` or clips ``[B, T, 3, H, W]``), "poses"
    #: (heatmaps ``[B, K, T, H, W]`` or keypoints ``[B, T, K, 3]``, with ``labels``) or "labels".
    domain: str = "frames"

    @abc.abstractmethod
    def update(self, real: torch.Tensor, fake: torch.Tensor, **context: Any) -> None: ...

    @abc.abstractmethod
    def compute(self) -> dict[str, float]: ...

    @abc.abstractmethod
    def reset(self) -> None: ...

    def provenance(self) -> dict[str, Any]:
        return {"metric": type(self).__name__}

    @classmethod
    def helper_params(cls, helpers: Mapping[str, Any]) -> dict[str, Any]:
        """The params that point this metric at the helper models a pipeline trained (``helpers``: run folders
        by name, ``action-classifier`` and ``pose-estimator``); ``{}`` for a metric that needs none."""
        return {}

    #: False for set metrics (FID, KID, FVD): they compare two distributions, not frame pairs, so the sets
    #: may differ in size and order, and the real set's features can come from a cache.
    paired: bool = True

    def check_against_reference(self, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
        """This metric and its reference implementation on the same files (``pgvg score --conformance``).

        ``real`` and ``fake`` are image files (pairs in order for a paired metric). Raises
        ``ReferenceUnavailable`` with the reason where the reference is not installed or cannot read the inputs.
        """
        raise ReferenceUnavailable("no reference implementation is known for this metric")


class FeatureSetMetric(Metric):
    """Base of the unpaired metrics (FID, KID, FVD): a distance between the feature sets of a fixed network.

    Real and fake sets need not correspond one to one nor be the same size, so ``update(real, fake)`` accepts
    ``real=None`` (the real set's features then come from elsewhere: ``real.append(features(x))`` or
    ``set_real_features``). ``real`` and ``fake`` are lists of float64 feature arrays ``[N, feature_dim]``,
    one per update. Subclasses set ``model`` (input batch -> ``[N, feature_dim]``), ``feature_dim``,
    ``weights_info`` (source, file, sha256) and ``features_key`` (what identifies the features: network,
    weights hash, preprocessing), and may override ``inputs``. The core relies on this contract: metrics with
    the same ``features_key`` share one pass over the frames (``pgvg score``, evaluation), and the real set's
    features are cached by it.
    """
    features_key: str

    higher_is_better = False
    #: False: the real and fake sets are compared as distributions, not frame by frame.
    paired = False
    feature_dim: int
    weights_info: dict[str, Any]

    def __init__(self, model: nn.Module, *, device: Any, batch_size: int) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.batch_size = batch_size
        self.reset()

    def reset(self) -> None:
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the model sees, batched along dim 0: frames ``[B, 3, H, W]``, or clips ``[B, T, 3, H, W]``
        flattened to frames ``[B * T, 3, H, W]``."""
        return x.flatten(0, 1) if x.dim() == 5 else x

    @torch.inference_mode()
    def features(self, x: torch.Tensor) -> np.ndarray:
        """Features of a batch (see ``inputs``), float64 ``[N, feature_dim]``."""
        x = self.inputs(x)
        out = [self.model(x[i : i + self.batch_size].to(self.device).float()).double().cpu().numpy()
               for i in range(0, len(x), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.feature_dim))

    def update(self, real: torch.Tensor | None, fake: torch.Tensor, **_: Any) -> None:
        if real is not None:
            self.real.append(self.features(real))
        self.fake.append(self.features(fake))

    def set_real_features(self, features: np.ndarray) -> None:
        """Use features of the real set computed earlier (``[N, feature_dim]``, e.g. from a cache)."""
        self.real = [np.asarray(features, dtype=np.float64).reshape(-1, self.feature_dim)]

    def real_features(self) -> np.ndarray:
        return np.concatenate(self.real) if self.real else np.zeros((0, self.feature_dim))

    def fake_features(self) -> np.ndarray:
        return np.concatenate(self.fake) if self.fake else np.zeros((0, self.feature_dim))


class ReferenceUnavailable(Exception):
    """A metric's reference implementation cannot run here; the message says why (not installed, no weights)."""


@attrs.frozen(kw_only=True)
class ReferenceCheck:
    """One value of a metric next to its reference implementation's on the same inputs."""

    metric: str
    key: str            # e.g. "ssim", "ssim (largest per-image difference)"
    reference: str      # what computed ``expected``: package, version, call
    value: float        # pgvg's
    expected: float     # the reference's
    tolerance: float
    relative: bool = False  # tolerance on |value - expected| / |expected|
    #: a difference measured elsewhere (e.g. the largest per-image one); None: |value - expected|
    measured: float | None = None

    @property
    def difference(self) -> float:
        if self.measured is not None:
            return self.measured
        difference = abs(self.value - self.expected)
        return difference / max(abs(self.expected), 1e-12) if self.relative else difference

    @property
    def ok(self) -> bool:
        return self.difference <= self.tolerance


class Dataset(torch.utils.data.Dataset, abc.ABC):
    """A dataset of pose-annotated clips.

    ``__getitem__(i)`` returns a dict:

    * ``frames``: float ``[T, 3, H, W]`` in ``[-1, 1]``
    * ``keypoints``: float ``[T, K, 3]`` (x, y pixels, confidence), ``K`` that of ``skeleton``
    * ``label``: int64 ``[]``, an index into ``classes``
    * ``identity``: int64 ``[]``, the person (so splits and metrics can group by identity)

    Heatmaps are made from keypoints by the consumer (``pgvg_core.poses.keypoints.render_heatmaps``), so that sigma
    and abnormal-pose augmentation stay a training choice.
    """

    classes: tuple[str, ...]
    resolution: int
    frames: int
    #: the registered name of the skeleton the keypoints follow (:func:`pgvg_core.poses.skeleton.skeleton_by_name`):
    #: ``K`` and the limb graph of everything built for this data come from it
    skeleton: str = "body-18"

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index: int) -> dict[str, torch.Tensor]: ...

    def label_of(self, index: int) -> int:
        """Clip ``index``'s class; datasets that know it without loading the clip say so faster."""
        return int(self[index]["label"])

    def frames_of(self, index: int, frames: Sequence[int]) -> dict[str, torch.Tensor]:
        """Clip ``index`` with only the frames at time indices ``frames``, in that order: what a training step
        asks for when its objective reads a few frames of each clip (:meth:`Objective.training_frames
        <pgvg_core.objective.Objective.training_frames>`). The default loads the whole clip and keeps those
        frames; a dataset that can make or decode fewer frames for less work overrides it."""
        return frames_kept(self[index], frames)

    def poses_of(self, index: int) -> dict[str, torch.Tensor]:
        """Clip ``index`` without its pixels (``keypoints``, ``label``, ``identity``; no ``frames``): what code
        that reads poses alone asks for (SCGAN's pose-refiner warm start, the framing a photo is cropped to).
        The default loads the whole clip and drops its frames; a dataset that can make poses without
        rendering or decoding overrides it."""
        return without_frames(self[index])


#: The entries of a clip's item that hold one row per frame (the others are per clip).
PER_FRAME_KEYS = ("frames", "keypoints")


def frames_kept(item: Mapping[str, torch.Tensor], frames: Sequence[int]) -> dict[str, torch.Tensor]:
    """``item`` with its per-frame entries (:data:`PER_FRAME_KEYS`) cut to the time indices ``frames``."""
    pick = torch.as_tensor(list(frames), dtype=torch.long)
    return {key: value[pick] if key in PER_FRAME_KEYS else value for key, value in item.items()}


def without_frames(item: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value for key, value in item.items() if key != "frames"}


def clip_poses(dataset: Any, index: int) -> dict[str, torch.Tensor]:
    """Clip ``index`` of ``dataset`` without its pixels (:meth:`Dataset.poses_of`; a dataset that does not
    derive from :class:`Dataset` is loaded whole)."""
    poses_of = getattr(dataset, "poses_of", None)
    return poses_of(index) if poses_of is not None else without_frames(dataset[index])


def helper_params_of(factory: Any, helpers: Mapping[str, Any]) -> dict[str, Any]:
    """The params that point a metric factory at the helper models in ``helpers`` (run folders by name); ``{}``
    for a factory that is not a :class:`Metric` subclass or needs none."""
    return factory.helper_params(helpers) if isinstance(factory, type) and issubclass(factory, Metric) else {}


def clips_by_class(dataset: Dataset, count: int) -> list[int]:
    """Up to ``count`` clip indices spread over the classes (one of each class in turn, in dataset order):
    what samples and contact sheets show. Looks at no more than ``20 * count`` clips' labels."""
    classes = max(len(dataset.classes), 1)
    rounds = -(-count // classes)  # clips of each class needed
    pools: dict[int, list[int]] = {}
    for index in range(min(len(dataset), 20 * max(count, 1))):
        pools.setdefault(dataset.label_of(index), []).append(index)
        if len(pools) == classes and min(map(len, pools.values())) >= rounds:
            break
    order = [pools[label] for label in sorted(pools)]
    picked = [pool[i] for i in range(max(map(len, order), default=0)) for pool in order if i < len(pool)]
    return picked[:count]
