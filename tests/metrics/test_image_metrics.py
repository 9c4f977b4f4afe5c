import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pgvg_metrics.image import PSNR, SSIM


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].double()


@pytest.mark.parametrize("case", ["astronaut-noise", "astronaut-blur", "random"])
def test_ssim_matches_scikit_image(case):
    rng = np.random.default_rng(0)
    if case == "random":
        a = rng.uniform(-1, 1, (48, 40, 3))
        b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1)
    else:
        a = data.astronaut()[::4, ::4].astype(np.float64) / 127.5 - 1
        if case == "astronaut-noise":
            b = np.clip(a + rng.normal(0, 0.2, a.shape), -1, 1)
        else:
            from scipy.ndimage import uniform_filter

            b = uniform_filter(a, size=(3, 3, 1))
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=2.0, channel_axis=2)
    metric = SSIM()
    metric.update(to_tensor(a), to_tensor(b))
    assert metric.compute()["ssim"] == pytest.approx(expected, abs=1e-6)
    assert metric.provenance()["region"] == "valid"


def test_ssim_of_identical_images_is_one_and_clips_are_flattened():
    x = torch.rand(2, 3, 3, 16, 16) * 2 - 1
    metric = SSIM()
    metric.update(x, x)
    assert metric.compute()["ssim"] == pytest.approx(1.0)
    assert metric.count == 6


def test_psnr_matches_scikit_image():
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (32, 32, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), -1, 1)
    metric = PSNR()
    metric.update(to_tensor(a), to_tensor(b))
    assert metric.compute()["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=2.0), abs=1e-9)


def test_ssim_rejects_small_or_mismatched_images():
    with pytest.raises(ValueError, match="smaller than the 11x11"):
        SSIM().update(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="different shapes"):
        SSIM().update(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 20))
