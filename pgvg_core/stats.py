"""Statistics shared by metrics: Gaussian fits of features and the Fréchet distance between them."""

from __future__ import annotations

import numpy as np


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (sample) covariance of features ``[N, D]``, in float64."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``trace(sqrtm(sigma1 @ sigma2))`` for covariance matrices, by symmetric eigendecompositions.

    sigma1 @ sigma2 is similar to sqrt(sigma1) @ sigma2 @ sqrt(sigma1), which is symmetric positive
    semi-definite, so the trace is the sum of the square roots of its eigenvalues. Two ``eigh`` of a 2048 x 2048
    matrix take about a second where scipy's general ``sqrtm`` (pytorch-fid's way) takes tens of seconds; the
    results agree to about 1e-7 relative (see tests).
    """
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between two Gaussians, in float64: |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2))."""
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]``."""
    return frechet(*gaussian_statistics(real), *gaussian_statistics(fake))
