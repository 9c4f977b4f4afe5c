"""LPIPS (Zhang et al. 2018), as a metric and as a training loss.

* ``lpips``: the lpips package (v0.1, ``alex`` or ``vgg``). Its linear layers ship with it; its backbone is
  torchvision's ImageNet AlexNet / VGG16, which cannot be downloaded here: pgvg looks for the file in the
  torch hub cache and, where it is absent, says which file to put where.
* ``lpips-st``: shift-tolerant LPIPS (Ghildyal & Liu 2022), whose complete weights ship in the
  stlpips-pytorch package: usable offline, and the default perceptual loss of SCGAN.

Inputs are frames in ``[-1, 1]``, ``[B, 3, H, W]`` (clips ``[B, T, 3, H, W]`` are flattened).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pgvg_core.errors import DataError
from pgvg_core.interfaces import Loss, Metric, ReferenceCheck
from pgvg_core.media.files import sha256_of

log = logging.getLogger(__name__)

# torchvision's ImageNet backbones that the lpips package loads (torch hub cache file names).
BACKBONE_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
BACKBONE_URLS = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
}
NETS = ("alex", "vgg")


def _check_net(net: str) -> None:
    if net not in NETS:
        raise ValueError(f"net must be one of {', '.join(NETS)}, got {net!r}")


@contextlib.contextmanager
def _quiet_stdout():
    """The LPIPS packages print set-up banners; keep the library quiet (they go to the debug log)."""
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    if buffer.getvalue().strip():
        log.debug("%s", buffer.getvalue().strip())


@contextlib.contextmanager
def _undeclared_imports_shimmed():
    """stlpips-pytorch imports IPython and torchsummary (debugging helpers it never calls) without declaring
    them; stand in empty modules for whichever is not installed, only while it imports."""
    added = []
    for name, attribute in (("IPython", "embed"), ("torchsummary", "summary")):
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            setattr(module, attribute, lambda *a, **k: None)
            sys.modules[name] = module
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def build_lpips(net: str = "alex", *, shift_tolerant: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """An LPIPS network in eval mode without gradients for its weights, and what identifies its weights."""
    _check_net(net)
    if shift_tolerant:
        try:
            with _undeclared_imports_shimmed(), _quiet_stdout():
                from stlpips_pytorch import stlpips  # noqa: PLC0415

                model = stlpips.LPIPS(net=net, variant="shift_tolerant", verbose=False)
        except ImportError as error:
            raise DataError(f"lpips-st needs the stlpips-pytorch package (pip install stlpips-pytorch): {error}") from None
        weights = Path(stlpips.__file__).parent / "weights" / "vST0.0" / f"{net}_shift_tolerant.pth"
        info = {"package": f"stlpips-pytorch {importlib.metadata.version('stlpips-pytorch')}",
                "variant": "shift-tolerant", "version": "ST0.0", "weights": str(weights)}
    else:
        backbone = Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_FILES[net]
        if not backbone.exists():
            raise DataError(
                f"lpips ({net}) needs torchvision's ImageNet {net} weights, which cannot be downloaded here: put "
                f"{BACKBONE_FILES[net]} (from {BACKBONE_URLS[net]}) at {backbone} (the torch hub cache; set "
                "TORCH_HOME to move it), or use the metric 'lpips-st', whose weights ship with stlpips-pytorch"
            )
        try:
            import lpips  # noqa: PLC0415
        except ImportError as error:
            raise DataError(f"lpips needs the lpips package (pip install lpips): {error}") from None
        with _quiet_stdout():
            model = lpips.LPIPS(net=net, version="0.1", verbose=False)
        weights = Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
        info = {"package": f"lpips {importlib.metadata.version('lpips')}", "variant": "original", "version": "0.1",
                "weights": str(weights), "backbone": str(backbone), "backbone_sha256": sha256_of(backbone)}
    info["weights_sha256"] = sha256_of(Path(info["weights"]))
    # NHWC: on a CPU, NCHW max pooling runs ~14x slower than NHWC (54 against 4 ms for shift-tolerant LPIPS's
    # [64, 64, 30, 30] pool on 2 cores) and oneDNN's convolutions prefer it; distances agree with NCHW's to
    # ~2e-6 relative (the order of float sums).
    model.eval().requires_grad_(False).to(memory_format=torch.channels_last)
    return model, info


def _as_images(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1) if x.dim() == 5 else x


def _network_input(x: torch.Tensor) -> torch.Tensor:
    """A batch of frames ``[N, 3, H, W]`` in float32 NHWC, the network's layout (converted batch by batch: a
    whole set converted at once would be a second copy of it)."""
    return x.float().contiguous(memory_format=torch.channels_last)


class LPIPSMetric(Metric):
    """LPIPS distance (lower is better) between fake and real frames, mean over images."""

    directions = {"lpips": False}

    higher_is_better = False
    shift_tolerant = False

    def __init__(self, *, net: str = "alex", device: Any = "cpu", batch_size: int = 64, **_: Any) -> None:
        self.net_name = net
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.model, self.info = build_lpips(net, shift_tolerant=self.shift_tolerant)
        self.model.to(self.device)
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    @torch.no_grad()
    def per_image(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The distance of each pair of frames ``[N, 3, H, W]`` (or clips, flattened) in [-1, 1] -> ``[N]``."""
        real, fake = _as_images(real), _as_images(fake)
        if real.shape != fake.shape:
            raise ValueError(f"real and fake frames differ in shape: {list(real.shape)} and {list(fake.shape)}")
        distances = [self.model(_network_input(fake[start : start + self.batch_size].to(self.device)),
                                _network_input(real[start : start + self.batch_size].to(self.device))).flatten().cpu()
                     for start in range(0, len(real), self.batch_size)]
        return torch.cat(distances) if distances else torch.zeros(0)

    def update(self, real: torch.Tensor, fake: torch.Tensor, **_: Any) -> None:
        distances = self.per_image(real, fake)
        self.total += float(distances.double().sum())
        self.count += len(distances)

    def compute(self) -> dict[str, float]:
        return {"lpips": self.total / max(self.count, 1)}

    def provenance(self) -> dict[str, Any]:
        return {"metric": "lpips-st" if self.shift_tolerant else "lpips", "net": self.net_name, **self.info,
                "input_range": "[-1, 1]", "resize": "none", "images": self.count, "dtype": "float32"}

    def check_against_reference(self, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
        return lpips_checks(self, real, fake)


class ShiftTolerantLPIPSMetric(LPIPSMetric):
    """Shift-tolerant LPIPS distance (lower is better); its weights ship with stlpips-pytorch."""

    shift_tolerant = True


class PerceptualLoss(Loss):
    """LPIPS as a loss: ``forward(prediction, target)`` in [-1, 1] -> mean distance (shift-tolerant by default).

    The network is frozen; gradients flow to the prediction only.
    """

    def __init__(self, *, net: str = "alex", shift_tolerant: bool = True) -> None:
        super().__init__()
        self.model, self.info = build_lpips(net, shift_tolerant=shift_tolerant)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.model(_network_input(_as_images(prediction)), _network_input(_as_images(target))).mean()

    def train(self, mode: bool = True) -> "PerceptualLoss":
        super().train(mode)
        self.model.eval()  # no dropout in the frozen network, ever
        return self


def lpips_checks(metric: Any, real: list[Path], fake: list[Path]) -> list[ReferenceCheck]:
    """The LPIPS package's own input path (``lpips.im2tensor`` of the uint8 RGB image, a fresh network built as
    its README does) image by image, against pgvg's metric on the files as ``pgvg score`` decodes them."""
    from pgvg_metrics.reference import per_image_checks, require

    lpips = require("lpips", "lpips")

    reference_model, info = build_lpips(metric.net_name, shift_tolerant=metric.shift_tolerant)
    reference_model.to(memory_format=torch.contiguous_format)  # the package's own layout (pgvg's runs NHWC)

    def reference(real_image: np.ndarray, fake_image: np.ndarray) -> float:
        with torch.no_grad():
            return float(reference_model(lpips.im2tensor(fake_image), lpips.im2tensor(real_image)))

    name = "lpips-st" if metric.shift_tolerant else "lpips"
    return per_image_checks(metric, name, real, fake, f"{info['package']} {metric.net_name} on lpips.im2tensor "
                            f"(uint8 RGB / 127.5 - 1)", reference)
