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
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]`` (sample covariances), in
    float64; the same value as ``frechet`` of their ``gaussian_statistics``, without forming the covariances
    where the sets are no larger than the features are wide.

    With ``A``, ``B`` the centred features, ``S1 S2 = A^T A B^T B / c`` (``c = (N1 - 1)(N2 - 1)``) has the
    non-zero eigenvalues of ``M M^T / c``, ``M = A B^T`` (``N1 x N2``), so ``trace(sqrtm(S1 S2))`` is the sum
    of ``M``'s singular values over ``sqrt(c)``: for 500 + 500 FID features (``D = 2048``) one 500 x 500 SVD,
    0.05 s, where two 2048 x 2048 eigendecompositions take 1.6 s; values agree to ~2e-8 relative (see tests).
    """
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if max(len(real), len(fake)) > real.shape[1]:
        return frechet(*gaussian_statistics(real), *gaussian_statistics(fake))
    centred_real, centred_fake = real - real.mean(axis=0), fake - fake.mean(axis=0)
    samples = (len(real) - 1) * (len(fake) - 1)
    singular = np.linalg.svd(centred_real @ centred_fake.T, compute_uv=False)
    diff = real.mean(axis=0) - fake.mean(axis=0)
    traces = np.square(centred_real).sum() / (len(real) - 1) + np.square(centred_fake).sum() / (len(fake) - 1)
    return float(diff.dot(diff) + traces - 2 * singular.sum() / np.sqrt(samples))
