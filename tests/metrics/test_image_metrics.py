"""SSIM and PSNR against scikit-image on real photos read from disk (uint8 files, the field's convention)."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pgvg_metrics import image as image_metrics
from pgvg_metrics.image import PSNR, SSIM
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pgvg_core.cli import main
from pgvg_core.measure.conformance import write_conformance_set
from pgvg_core.measure.score import iter_frames, list_items, to_model_range


@pytest.fixture(scope="module")
def photo_pairs(tmp_path_factory):
    """48 crops of scikit-image's photos and their blurred / noisy / JPEG / brightened copies, as PNG files."""
    return write_conformance_set(tmp_path_factory.mktemp("photos"))


def read_with_pil(folder):
    return [np.asarray(Image.open(path).convert("RGB")) for path in sorted(folder.iterdir())]


def pgvg_per_image(metric_class, real_folder, fake_folder):
    """pgvg's metric image by image, on frames decoded as `pgvg score` decodes them."""
    real = torch.cat([to_model_range(b) for b in iter_frames(list_items(real_folder))])
    fake = torch.cat([to_model_range(b) for b in iter_frames(list_items(fake_folder))])
    values = []
    for r, f in zip(real, fake):
        metric = metric_class()
        metric.update(r[None], f[None])
        values.append(next(iter(metric.compute().values())))
    return np.array(values)


def skimage_ssim(a, b):
    return structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255)


def test_ssim_equals_scikit_image_per_image_on_degraded_photos(photo_pairs):
    real, fake = photo_pairs
    expected = np.array([skimage_ssim(a, b) for a, b in zip(read_with_pil(real), read_with_pil(fake))])
    ours = pgvg_per_image(SSIM, real, fake)
    assert len(ours) == 48 and expected.min() < 0.5 < expected.max()  # a real spread of qualities
    assert np.abs(ours - expected).max() < 1e-4
    # The CLI's value is the mean of the same per-image values.
    result = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", "ssim", "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["ssim"] == pytest.approx(expected.mean(), abs=1e-6)
    assert scores["provenance"]["ssim"]["data_range"] == 1.0
    assert "[0, 1]" in scores["provenance"]["ssim"]["input_range"]


def test_ssim_on_the_model_range_would_fail_this_check(photo_pairs):
    """What pgvg did before: SSIM of [-1, 1] frames with data range 2. It is off by far more than 1e-4 on real
    photos (brightness changes especially), which is why the range is part of the metric."""
    real, fake = photo_pairs
    pairs = list(zip(read_with_pil(real), read_with_pil(fake)))
    expected = np.array([skimage_ssim(a, b) for a, b in pairs])
    old = np.array([float(image_metrics.ssim_per_image(to_model_range(b[None]).double(),
                                                       to_model_range(a[None]).double(), data_range=2.0))
                    for a, b in pairs])
    assert np.abs(old - expected).max() > 5e-3


def test_psnr_equals_scikit_image_per_image(photo_pairs):
    real, fake = photo_pairs
    expected = np.array([peak_signal_noise_ratio(a, b, data_range=255)
                         for a, b in zip(read_with_pil(real), read_with_pil(fake))])
    assert np.abs(pgvg_per_image(PSNR, real, fake) - expected).max() < 1e-4


def test_ssim_of_identical_images_is_one_and_clips_are_flattened():
    x = torch.rand(2, 3, 3, 16, 16) * 2 - 1
    metric = SSIM()
    metric.update(x, x)
    assert metric.compute()["ssim"] == pytest.approx(1.0)
    assert metric.count == 6


def test_ssim_rejects_small_or_mismatched_images():
    with pytest.raises(ValueError, match="smaller than the 11x11"):
        SSIM().update(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="different shapes"):
        SSIM().update(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 20))


def test_conformance_passes_and_fails_when_a_metric_is_off(photo_pairs, monkeypatch):
    real, fake = photo_pairs
    args = ["score", str(real), str(fake), "--conformance", "--metric", "ssim", "--metric", "psnr", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and {row["metric"] for row in report["checks"]} == {"ssim", "psnr"}
    assert all(row["difference"] < 1e-4 for row in report["checks"])
    # SSIM measured on [-1, 1] again: the check must catch it and exit 1.
    monkeypatch.setattr(image_metrics, "to_unit_range", lambda x: x)
    broken = CliRunner().invoke(main, args)
    assert broken.exit_code == 1, broken.output
    rows = {row["key"]: row for row in json.loads(broken.stdout)["checks"]}
    assert rows["ssim (largest per-image difference)"]["status"] == "FAIL"


def test_shift_tolerant_lpips_agrees_with_its_package_on_photo_files(photo_pairs):
    """pgvg's lpips-st (NHWC, batched) against stlpips-pytorch's network in its own layout, image by image."""
    real, fake = photo_pairs
    args = ["score", str(real), str(fake), "--conformance", "--metric", "lpips-st", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    checks = json.loads(result.stdout)["checks"]
    assert checks and all(row["metric"] == "lpips-st" and row["status"] == "ok" for row in checks)
    assert max(row["difference"] for row in checks) < 1e-5
