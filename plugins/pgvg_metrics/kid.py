"""KID (Kernel Inception Distance, Binkowski et al. 2018) on FID's Inception features, in float64.

The features are FID's (pytorch-fid's FID Inception, pool3, 2048-d; weights resolved by
``pgvg_metrics.fid.resolve_weights``): frames in [-1, 1] are resized to 299x299 bilinearly (align_corners=False),
as pytorch-fid does.

KID is the unbiased estimate of the squared MMD with the polynomial kernel ``k(x, y) = (gamma x.y + coef0)^degree``
(default ``(x.y / d + 1)^3``), averaged over random subsets. The conventions are torch-fidelity 0.4.0's
(``torch_fidelity.metric_kid.kid_features_to_metric``), so values agree with it on the same features:

* ``subsets=100`` subsets of ``subset_size=1000`` per set, drawn without replacement by
  ``numpy.random.RandomState(seed=2020)``: for each subset, first from the generated set (torch-fidelity's
  ``input1``), then from the real set;
* ``kid`` is the mean over subsets and ``kid_std`` their standard deviation with ddof=0 (``np.std``).

Unlike torch-fidelity, which refuses sets smaller than ``subset_size``, the subset size used is
``min(subset_size, real count, fake count)``. With the default 1000 and evaluation sets of tens to hundreds of
images, the subsets are (nearly) the whole sets: with equal set sizes every subset is the same, ``kid`` is the
unbiased MMD^2 of the full sets and ``kid_std`` is 0 (up to rounding). Pass a smaller ``subset_size`` for a spread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pgvg_core.errors import DataError
from pgvg_core.interfaces import ReferenceCheck
from pgvg_metrics.fid import FID_VERSION, FeatureSetMetric, FIDFeatures, inception_features_key, resolve_weights

log = logging.getLogger(__name__)

KID_VERSION = 1

#: Sets with at most this many kernel entries between them, ``(N1 + N2)^2`` (float64: 256 MB), get their kernel
#: computed once and each subset's kernels read from it: 100 subsets of the same images otherwise compute
#: the same dot products 100 times (512 frames: 0.73 -> 0.09 s). Larger sets compute each subset's kernels.
WHOLE_KERNEL_ENTRIES = 2**25


def polynomial_kernel(x: np.ndarray, y: np.ndarray, *, degree: int, gamma: float, coef0: float) -> np.ndarray:
    """``(gamma x.y + coef0)^degree`` for every pair: ``x [M, D]``, ``y [N, D]`` -> ``[M, N]``."""
    return (x @ y.T * gamma + coef0) ** degree


def unbiased_mmd2(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased squared MMD from the kernel matrices of two samples of equal size ``m``, each ``[m, m]``:
    the within-sample means leave out the diagonal (``i != j``), the cross-sample mean keeps all pairs."""
    m = len(k_xx)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    fake: np.ndarray,
    real: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 2020,
) -> tuple[float, float, int]:
    """KID between two feature sets ``fake [N1, D]`` and ``real [N2, D]``: ``(mean, std, subset size used)``.

    Follows ``torch_fidelity.metric_kid.kid_features_to_metric(fake, real)`` (the generated set first: the
    subsets are drawn from it first), except that the subset size is capped by the smaller set.
    ``gamma=None`` means ``1 / D``.
    """
    fake = np.asarray(fake, dtype=np.float64)
    real = np.asarray(real, dtype=np.float64)
    if fake.ndim != 2 or real.ndim != 2 or fake.shape[1] != real.shape[1]:
        raise ValueError(f"KID needs two feature sets [N, D] of one D, got {list(fake.shape)} and {list(real.shape)}")
    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise DataError(f"KID needs at least 2 real and 2 generated images, got {len(real)} real and "
                        f"{len(fake)} generated")
    if subsets < 1:
        raise ValueError(f"KID needs at least one subset, got subsets={subsets}")
    gamma = 1.0 / fake.shape[1] if gamma is None else gamma
    kernel = dict(degree=degree, gamma=gamma, coef0=coef0)
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    whole = None
    if (len(fake) + len(real)) ** 2 <= WHOLE_KERNEL_ENTRIES:
        both = np.concatenate([fake, real])
        whole = polynomial_kernel(both, both, **kernel)  # [N1 + N2, N1 + N2]: fake rows first, then real
    for i in range(subsets):
        a = rng.choice(len(fake), size, replace=False)  # drawn in torch-fidelity's order: fake, then real
        b = rng.choice(len(real), size, replace=False)
        if whole is not None:
            b = b + len(fake)
            values[i] = unbiased_mmd2(whole[np.ix_(a, a)], whole[np.ix_(b, b)], whole[np.ix_(a, b)])
        else:
            x, y = fake[a], real[b]  # [size, D] each
            values[i] = unbiased_mmd2(polynomial_kernel(x, x, **kernel), polynomial_kernel(y, y, **kernel),
                                      polynomial_kernel(x, y, **kernel))
    return float(values.mean()), float(values.std()), size


class KID(FeatureSetMetric):
    """Kernel Inception Distance (lower is better; about 0, possibly slightly negative, for one distribution).

    ``update(real | None, fake)`` with frames ``[B, 3, H, W]`` in [-1, 1] (clips ``[B, T, 3, H, W]`` count as
    their frames); they are resized to 299x299 bilinearly (align_corners=False), like pytorch-fid, and the FID
    Inception's pool3 features ``[N, 2048]`` are kept. ``compute() -> {"kid": mean, "kid_std": std}`` over
    ``subsets`` random subsets (torch-fidelity 0.4.0's conventions; see the module docstring).
    """

    directions = {"kid": False, "kid_std": None}

    feature_dim = 2048

    def __init__(
        self,
        *,
        weights: str | None = None,   # FID Inception state dict; see pgvg_metrics.fid.resolve_weights
        device: Any = "cpu",
        batch_size: int = 50,         # frames per Inception forward
        subsets: int = 100,           # number of random subsets the MMD is averaged over
        subset_size: int = 1000,      # images per subset (capped by the smaller set)
        degree: int = 3,              # polynomial kernel (gamma x.y + coef0)^degree
        gamma: float | None = None,   # None: 1 / feature dimension
        coef0: float = 1.0,
        seed: int = 2020,             # numpy RandomState seed of the subset draws (torch-fidelity's rng_seed)
        **_: Any,
    ) -> None:
        state, self.weights_info = resolve_weights(weights)
        self.features_key = inception_features_key(self.weights_info["sha256"])
        self.subsets = subsets
        self.subset_size = subset_size
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.seed = seed
        self.used_subset_size: int | None = None
        super().__init__(FIDFeatures(state), device=device, batch_size=batch_size)

    def compute(self) -> dict[str, float]:
        fake, real = self.fake_features(), self.real_features()
        mean, std, self.used_subset_size = kernel_inception_distance(
            fake, real, subsets=self.subsets, subset_size=self.subset_size, degree=self.degree, gamma=self.gamma,
            coef0=self.coef0, seed=self.seed)
        return {"kid": mean, "kid_std": std}

    def check_against_reference(self, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
        """torch-fidelity's ``kid_features_to_metric`` on the same Inception features of the files (its own
        feature extractor needs weights that cannot be downloaded here; the features are pytorch-fid's, which
        the FID check compares with pytorch-fid itself)."""
        from pgvg_metrics.reference import SET_TOLERANCE, require, set_features, version

        require("torch_fidelity", "torch-fidelity")
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        set_features(self, real, fake)
        values = self.compute()
        fake_features, real_features = self.fake_features(), self.real_features()
        expected = kid_features_to_metric(
            torch.from_numpy(fake_features), torch.from_numpy(real_features), verbose=False,
            kid_subsets=self.subsets, kid_subset_size=self.used_subset_size, kid_degree=self.degree,
            kid_gamma=self.gamma, kid_coef0=self.coef0, rng_seed=self.seed)
        call = (f"{version('torch-fidelity')} kid_features_to_metric(subsets={self.subsets}, "
                f"subset_size={self.used_subset_size}) on pgvg's Inception features")
        return [ReferenceCheck(metric="kid", key=f"kid ({len(real_features)} vs {len(fake_features)} images)",
                               reference=call, value=values["kid"], expected=float(expected[KEY_METRIC_KID_MEAN]),
                               tolerance=SET_TOLERANCE),
                ReferenceCheck(metric="kid", key="kid_std", reference=call, value=values["kid_std"],
                               expected=float(expected[KEY_METRIC_KID_STD]), tolerance=SET_TOLERANCE)]

    def provenance(self) -> dict[str, Any]:
        return {"metric": "kid", "version": KID_VERSION, "features_version": FID_VERSION,
                "backbone": "pytorch-fid FID InceptionV3 pool3 (2048)", "weights": self.weights_info["source"],
                "weights_file": self.weights_info["file"], "weights_sha256": self.weights_info["sha256"],
                "resize": "bilinear to 299x299, align_corners=False", "input_range": "[-1, 1]",
                "kernel": "polynomial (gamma x.y + coef0)^degree",
                "degree": self.degree, "gamma": self.gamma if self.gamma is not None else "1/2048",
                "coef0": self.coef0, "estimator": "unbiased MMD^2", "subsets": self.subsets,
                "subset_size": self.subset_size, "subset_size_used": self.used_subset_size, "seed": self.seed,
                "sampling": "numpy RandomState(seed).choice without replacement, generated set first",
                "std": "over subsets, ddof=0", "convention": "torch-fidelity 0.4.0 kid_features_to_metric",
                "features_dtype": "float32", "kernel_dtype": "float64",
                "real_images": sum(len(r) for r in self.real), "fake_images": sum(len(f) for f in self.fake)}
