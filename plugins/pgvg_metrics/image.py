"""Image metrics: SSIM (Wang et al., as scikit-image computes it) and PSNR, on the field's [0, 1] scale.

The metrics take pgvg's frames, ``[B, 3, H, W]`` in ``[-1, 1]`` (clips ``[B, T, 3, H, W]`` are flattened over
time), and map them to ``[0, 1]`` (``(x + 1) / 2``, data range 1) before measuring; values are averaged over
images. The scale matters for SSIM: its luminance and contrast terms divide by ``mu_x^2 + mu_y^2 + C1`` and
``sigma_x^2 + sigma_y^2 + C2``, which are not shift-invariant, so SSIM on ``[-1, 1]`` differs from everyone
else's (by up to 0.03 per image). On ``[0, 1]`` pgvg's SSIM equals scikit-image's on the uint8 files,
``structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=255)``, to about 1e-7 per image: an 11x11 Gaussian window (sigma 1.5), population covariances,
the mean over the *valid* region (no padding) of each channel, then over channels. PSNR is
``10 log10(1 / MSE)`` on ``[0, 1]`` (scikit-image's ``peak_signal_noise_ratio(..., data_range=255)`` on uint8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pgvg_core.interfaces import Metric, ReferenceCheck

SSIM_VERSION = 2  # 1 measured frames in [-1, 1] with data range 2; not comparable with published SSIM
INPUT_RANGE = "frames in [-1, 1] mapped to [0, 1], data range 1"


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """pgvg frames in ``[-1, 1]`` -> ``[0, 1]``, the range the field measures SSIM and PSNR on."""
    return (x + 1) / 2


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` or ``[B, T, 3, H, W]`` -> ``[N, 3, H, W]`` float64."""
    if x.dim() == 5:
        x = x.flatten(0, 1)
    if x.dim() != 4:
        raise ValueError(f"expected frames [B, C, H, W] or clips [B, T, C, H, W], got shape {list(x.shape)}")
    return x.double()


def ssim_per_image(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0, window: int = 11,
                   sigma: float = 1.5) -> torch.Tensor:
    """SSIM of each image pair (mean over channels and the valid region): ``[N, C, H, W]`` x 2 -> ``[N]``.

    ``x`` and ``y`` are in ``[0, data_range]`` (``[0, 1]`` by default; not pgvg's ``[-1, 1]``: see the module
    docstring). A Gaussian window (sigma 1.5), population covariances, no border artefacts; equal to
    scikit-image's on uint8 files (see tests/metrics/test_image_metrics.py) and to kornia's
    ``metrics.ssim(padding="valid")``. The window is applied as two matrix products with band matrices (rows,
    then columns) in the inputs' dtype: 5x faster than scikit-image's filters on 64x64 frames in float64,
    where kornia's float64 convolution was 5x slower (benchmarks/bench_metrics.py).
    """
    if x.shape != y.shape:
        raise ValueError(f"images of different shapes: {list(x.shape)} and {list(y.shape)}")
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images of {list(x.shape[-2:])} are smaller than the {window}x{window} SSIM window")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    rows, columns = (_valid_gaussian_band(size, window, sigma, x.dtype, x.device) for size in x.shape[-2:])
    stacked = torch.stack([x, y, x * x, y * y, x * y])  # [5, N, C, H, W]
    filtered = rows @ stacked @ columns.T  # [5, N, C, H - window + 1, W - window + 1]
    mu_x, mu_y, xx, yy, xy = filtered
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3))


def _valid_gaussian_band(size: int, window: int, sigma: float, dtype: torch.dtype,
                         device: torch.device) -> torch.Tensor:
    """``[size - window + 1, size]``: row ``i`` holds the normalised Gaussian window at ``i .. i + window - 1``,
    so ``band @ signal`` is the signal filtered over the valid region."""
    taps = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    band = torch.zeros(size - window + 1, size, dtype=torch.float64)
    for i in range(size - window + 1):
        band[i, i : i + window] = kernel
    return band.to(device=device, dtype=dtype)


class SSIM(Metric):
    """Structural similarity (Wang et al. 2004) of fake to real frames; matches scikit-image's Gaussian SSIM."""

    directions = {"ssim": True}

    def __init__(self, **_: Any) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0
        self.shape: list[int] | None = None

    def update(self, real: torch.Tensor, fake: torch.Tensor, **_: Any) -> None:
        real, fake = _as_images(real), _as_images(fake)
        self.shape = list(real.shape[1:])
        values = ssim_per_image(to_unit_range(fake), to_unit_range(real))
        self.total += float(values.sum())
        self.count += len(values)

    def compute(self) -> dict[str, float]:
        return {"ssim": self.total / max(self.count, 1)}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "ssim", "version": SSIM_VERSION,
                "implementation": "pgvg: separable Gaussian window as band-matrix products",
                "window": "gaussian 11x11, sigma 1.5",
                "covariance": "population", "region": "valid", "input_range": INPUT_RANGE, "data_range": 1.0,
                "dtype": "float64",
                "images": self.count, "image_shape": self.shape, "reference": "skimage structural_similarity"}

    def check_against_reference(self, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
        """scikit-image's SSIM on the uint8 files (data range 255), image by image."""
        from pgvg_metrics.reference import per_image_checks, require, version

        metrics = require("skimage.metrics", "scikit-image")

        def reference(real_image, fake_image) -> float:
            return metrics.structural_similarity(real_image, fake_image, channel_axis=2, gaussian_weights=True,
                                                 sigma=1.5, use_sample_covariance=False, data_range=255)

        call = ("structural_similarity(uint8, channel_axis=2, gaussian_weights=True, sigma=1.5, "
                "use_sample_covariance=False, data_range=255)")
        return per_image_checks(self, "ssim", real, fake, f"{version('scikit-image')} {call}", reference)


class PSNR(Metric):
    """Peak signal-to-noise ratio in dB of fake to real frames (on [0, 1], data range 1), mean over images."""

    directions = {"psnr": True}

    def __init__(self, **_: Any) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, real: torch.Tensor, fake: torch.Tensor, **_: Any) -> None:
        real, fake = to_unit_range(_as_images(real)), to_unit_range(_as_images(fake))
        mse = ((real - fake) ** 2).mean(dim=(1, 2, 3)).clamp(min=1e-12)
        self.total += float((10 * torch.log10(1.0 / mse)).sum())
        self.count += len(mse)

    def compute(self) -> dict[str, float]:
        return {"psnr": self.total / max(self.count, 1)}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "psnr", "version": 1, "input_range": INPUT_RANGE, "data_range": 1.0, "dtype": "float64",
                "images": self.count,
                "mse_floor": 1e-12}

    def check_against_reference(self, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
        """scikit-image's PSNR on the uint8 files (data range 255), image by image (identical pairs are left
        out: scikit-image gives infinity, pgvg caps the MSE at 1e-12)."""
        from pgvg_metrics.reference import per_image_checks, require, version

        metrics = require("skimage.metrics", "scikit-image")

        def reference(real_image, fake_image) -> float:
            return metrics.peak_signal_noise_ratio(real_image, fake_image, data_range=255)

        return per_image_checks(self, "psnr", real, fake,
                                f"{version('scikit-image')} peak_signal_noise_ratio(uint8, data_range=255)", reference)
