"""FVD (Fréchet Video Distance, Unterthiner et al. 2018) on Kinetics-400 I3D features of 16-frame clips.

The protocol is StyleGAN-V's and common_metrics_on_video_quality's:

* a clip is its first ``frames=16`` frames, taken every ``stride`` frames (StyleGAN-V's ``subsample_factor``);
* frames in [-1, 1] are resized so the shorter side is ``resolution=224`` (the other ``ceil(side * scale)``),
  bilinearly with align_corners=False, then center-cropped to 224x224 (for square frames: a plain bilinear
  resize to 224x224), and stay in [-1, 1];
* the I3D gets ``[B, 3, 16, 224, 224]`` and its 400 Kinetics logits (before the softmax) are the features;
* the Fréchet distance between Gaussians fitted to the real and fake features (``pgvg_core.measure.stats``, float64,
  sample covariance with N - 1 like ``np.cov``; StyleGAN-V divides by N).

Weights are resolved in this order, and which file was used is recorded with its sha256:

1. an explicit path (``weights = "..."``);
2. ``i3d_pretrained_400.pt``, then ``i3d_torchscript.pt``, in ``<pgvg cache>/fvd`` and then in
   ``<torch hub>/checkpoints``.

Two formats are read, told apart by content:

* a state dict of the pytorch-i3d ``InceptionI3d`` (``i3d_pretrained_400.pt``, the Kinetics-400 I3D of VideoGPT
  and common_metrics_on_video_quality), loaded with ``weights_only=True`` and ``strict=True`` into the
  ``InceptionI3d`` below; its output is the logits averaged over time, as in VideoGPT's copy (batch-norm
  eps 1e-5, VideoGPT's; the original pytorch-i3d uses 1e-3);
* the TorchScript I3D of StyleGAN-V (``i3d_torchscript.pt``, a port of tf.hub's i3d-kinetics-400 used by the
  original FVD), called as ``model(x, rescale=False, resize=False, return_features=True)``.

The two are different ports of the Kinetics-400 I3D and give different values: compare FVDs only when the
provenance's ``weights_sha256`` agrees.
"""

from __future__ import annotations

import logging
import math
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pgvg_core.errors import DataError
from pgvg_core.measure.stats import frechet_distance
from pgvg_core.media.files import cache_root, sha256_of
from pgvg_metrics.fid import FeatureSetMetric

log = logging.getLogger(__name__)

FVD_VERSION = 1
CLIP_FRAMES = 16
I3D_SIZE = 224
KINETICS_CLASSES = 400
I3D_STATE_FILE = "i3d_pretrained_400.pt"
I3D_TORCHSCRIPT_FILE = "i3d_torchscript.pt"
I3D_URLS = {
    I3D_STATE_FILE: "https://onedrive.live.com/download?cid=78EEF3EB6AE7DBCB&resid=78EEF3EB6AE7DBCB%21199&"
                    "authkey=AApKdFHPXzWLNyI",
    I3D_TORCHSCRIPT_FILE: "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt",
}


# ------------------------------------------------------------------------------------------- I3D network


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding (before, after) of one axis: the output has ``ceil(size / stride)`` steps."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """Zero-pad ``x [B, C, T, H, W]`` so that a 3D window of ``kernel`` at ``stride`` works as 'SAME'."""
    (t0, t1), (h0, h1), (w0, w1) = (same_padding(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride))
    return F.pad(x, (w0, w1, h0, h1, t0, t1))


class SameMaxPool3d(nn.Module):
    """3D max pooling with TF 'SAME' zero padding (it follows ReLUs, so zeros never win over an activation)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(pad_same(x, self.kernel, self.stride), self.kernel, self.stride)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}"


class Unit3D(nn.Module):
    """'SAME'-padded 3D convolution, then batch norm and ReLU (the logits layer: a biased convolution only)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), *, logits: bool = False, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.kernel, self.stride, self.activate = kernel, stride, not logits
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, padding=0, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(pad_same(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.activate else x


class InceptionModule(nn.Module):
    """Four branches concatenated: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; 3x3x3 max pool -> 1x1x1."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int], *, bn_eps: float) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.b0 = Unit3D(in_channels, b0, bn_eps=bn_eps)
        self.b1a = Unit3D(in_channels, b1a, bn_eps=bn_eps)
        self.b1b = Unit3D(b1a, b1b, (3, 3, 3), bn_eps=bn_eps)
        self.b2a = Unit3D(in_channels, b2a, bn_eps=bn_eps)
        self.b2b = Unit3D(b2a, b2b, (3, 3, 3), bn_eps=bn_eps)
        self.b3a = SameMaxPool3d((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, b3b, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


#: (name, in channels, widths of b0, b1a, b1b, b2a, b2b, b3b) of Carreira & Zisserman's Inception-v1 I3D
INCEPTION_BLOCKS = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)


class InceptionI3d(nn.Module):
    """Inception-v1 I3D (Carreira & Zisserman 2017) in the module layout of pytorch-i3d's ``InceptionI3d``, so
    its state dicts (``i3d_pretrained_400.pt``) load with ``strict=True``.

    ``forward(x [B, 3, T, H, W] in [-1, 1]) -> logits [B, num_classes]``: the class logits of each window of
    the final 2x7x7 average pool, averaged over time (VideoGPT's variant). At 16 frames of 224x224 the final
    map is 2x7x7, one window. On smaller maps the window is clipped to the map (pytorch-i3d fails there), so
    small inputs run, for tests.
    """

    def __init__(self, num_classes: int = KINETICS_CLASSES, *, in_channels: int = 3, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.num_classes = num_classes
        stem: list[tuple[str, nn.Module]] = [
            ("Conv3d_1a_7x7", Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2), bn_eps=bn_eps)),
            ("MaxPool3d_2a_3x3", SameMaxPool3d((1, 3, 3), (1, 2, 2))),
            ("Conv3d_2b_1x1", Unit3D(64, 64, bn_eps=bn_eps)),
            ("Conv3d_2c_3x3", Unit3D(64, 192, (3, 3, 3), bn_eps=bn_eps)),
            ("MaxPool3d_3a_3x3", SameMaxPool3d((1, 3, 3), (1, 2, 2))),
        ]
        pools = {"Mixed_4b": ("MaxPool3d_4a_3x3", SameMaxPool3d((3, 3, 3), (2, 2, 2))),
                 "Mixed_5b": ("MaxPool3d_5a_2x2", SameMaxPool3d((2, 2, 2), (2, 2, 2)))}
        self.endpoints: list[str] = []
        for name, module in stem:
            self.add_module(name, module)
            self.endpoints.append(name)
        for name, in_width, widths in INCEPTION_BLOCKS:
            if name in pools:
                self.add_module(*pools[name])
                self.endpoints.append(pools[name][0])
            block = InceptionModule(in_width, widths, bn_eps=bn_eps)
            self.add_module(name, block)
            self.endpoints.append(name)
        self.pool_window = (2, 7, 7)
        self.dropout = nn.Dropout(0.5)  # identity in eval mode, kept for the layout
        self.logits = Unit3D(1024, num_classes, logits=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.endpoints:
            x = self._modules[name](x)  # [B, 3, T, H, W] -> ... -> [B, 1024, T/8, H/32, W/32]
        window = tuple(min(w, s) for w, s in zip(self.pool_window, x.shape[2:]))
        x = F.avg_pool3d(x, window, stride=1)
        x = self.logits(self.dropout(x))  # [B, classes, T', H', W']
        return x.mean(dim=(3, 4)).mean(dim=2)  # [B, classes]


class TorchScriptI3D(nn.Module):
    """StyleGAN-V's TorchScript I3D behind the same call: ``[B, 3, T, 224, 224]`` in [-1, 1] -> ``[B, 400]``."""

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scripted(x, rescale=False, resize=False, return_features=True)


# ------------------------------------------------------------------------------------------- weights


def where_to_get() -> str:
    folders = " or ".join(str(f) for f in i3d_folders())
    return (f"get the Kinetics-400 I3D as {I3D_STATE_FILE} ({I3D_URLS[I3D_STATE_FILE]}) or as "
            f"{I3D_TORCHSCRIPT_FILE} ({I3D_URLS[I3D_TORCHSCRIPT_FILE]}) and put it in {folders}, or pass "
            "metric params weights=PATH")


def i3d_folders() -> list[Path]:
    return [cache_root() / "fvd", Path(torch.hub.get_dir()) / "checkpoints"]


def find_i3d_weights() -> Path | None:
    """The first known I3D file in the cache folders (the state dict first: it needs no code from the file)."""
    for name in (I3D_STATE_FILE, I3D_TORCHSCRIPT_FILE):
        for folder in i3d_folders():
            if (folder / name).is_file():
                return folder / name
    return None


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with ``constants.pkl`` and ``code/``; torch.save's state dicts are
    zip files without them, or legacy pickles."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") or "/code/" in name for name in archive.namelist())


def load_i3d(path: Path, *, bn_eps: float = 1e-5) -> tuple[nn.Module, str]:
    """An I3D file -> (network ``[B, 3, T, H, W] -> [B, 400]``, "torchscript" or "state dict")."""
    if is_torchscript(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the only reader
            return TorchScriptI3D(torch.jit.load(str(path), map_location="cpu")), "torchscript"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise DataError(f"{path}: not an I3D state dict nor TorchScript ({str(error).splitlines()[0]})") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or "logits.conv3d.weight" not in state:
        raise DataError(f"{path}: not a state dict of pytorch-i3d's InceptionI3d (no 'logits.conv3d.weight')")
    if all(key.startswith("module.") for key in state):  # saved from DataParallel
        state = {key[len("module."):]: value for key, value in state.items()}
    classes = state["logits.conv3d.weight"].shape[0]
    if classes != KINETICS_CLASSES:
        raise DataError(f"{path}: an I3D with {classes} classes; FVD uses the Kinetics-400 I3D (400 logits)")
    model = InceptionI3d(classes, bn_eps=bn_eps)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise DataError(f"{path}: does not fit pytorch-i3d's InceptionI3d: {str(error)[:500]}") from None
    return model, "state dict"


def resolve_i3d(weights: str | None = None, *, bn_eps: float = 1e-5) -> tuple[nn.Module, dict[str, Any]]:
    """The I3D network and its provenance (source, file, sha256, format)."""
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise DataError(f"FVD weights not found: {path}; {where_to_get()}")
        source = "explicit path"
    else:
        found = find_i3d_weights()
        if found is None:
            raise DataError(f"no I3D weights for FVD ({I3D_STATE_FILE} or {I3D_TORCHSCRIPT_FILE}): {where_to_get()}")
        path, source = found, "cache"
    model, kind = load_i3d(path, bn_eps=bn_eps)
    log.info("FVD: I3D %s from %s", kind, path)
    return model, {"source": source, "file": str(path), "sha256": sha256_of(path), "format": kind}


# ------------------------------------------------------------------------------------------- metric


def resize_clips(clips: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, T, 3, H, W] -> [B, T, 3, size, size]``: the shorter side to ``size`` (the other to
    ``ceil(side * size / shorter)``), bilinear with align_corners=False, then a center crop."""
    b, t, c, h, w = clips.shape
    if (h, w) == (size, size):
        return clips
    scale = size / min(h, w)
    target = (size, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), size)
    x = F.interpolate(clips.reshape(b * t, c, h, w), size=target, mode="bilinear", align_corners=False)
    top, left = (target[0] - size) // 2, (target[1] - size) // 2
    return x[:, :, top : top + size, left : left + size].reshape(b, t, c, size, size)


class I3DFeatures(nn.Module):
    """Clips ``[B, 16, 3, H, W]`` in [-1, 1] -> I3D features ``[B, 400]``: resized (``resize_clips``), put in
    the I3D's layout ``[B, 3, 16, size, size]`` and still in [-1, 1]."""

    def __init__(self, backbone: nn.Module, *, resolution: int = I3D_SIZE) -> None:
        super().__init__()
        self.backbone = backbone
        self.resolution = resolution
        # pgvg's own I3D runs NDHWC: on a CPU an NCDHW max pooling is 5-10x slower than the same pooling on
        # NDHWC data, and oneDNN's 3D convolutions prefer it. A TorchScript I3D keeps the layout it was saved in.
        self.layout = torch.channels_last_3d if isinstance(backbone, InceptionI3d) else torch.contiguous_format
        self.eval().requires_grad_(False)
        if self.layout == torch.channels_last_3d:
            self.backbone.to(memory_format=self.layout)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = resize_clips(clips, self.resolution).permute(0, 2, 1, 3, 4)  # [B, 3, T, S, S]
        return self.backbone(x.contiguous(memory_format=self.layout))


class FVD(FeatureSetMetric):
    """Fréchet Video Distance (lower is better) between real and fake clips.

    ``update(real | None, fake)`` with clips ``[B, T, 3, H, W]`` in [-1, 1], ``T >= (frames - 1) * stride + 1``:
    each clip's first ``frames`` frames at ``stride`` are resized to ``resolution`` and go through the
    Kinetics-400 I3D (see the module docstring). ``compute() -> {"fvd": value}``; it needs at least 2 clips
    per set, and hundreds for a stable value. Without I3D weights, building the metric raises ``DataError``
    saying where to get them.
    """

    directions = {"fvd": False}

    #: each video is one clip: ``pgvg score`` hands FVD whole videos, not batches of frames.
    compares_clips = True

    feature_dim = KINETICS_CLASSES

    def __init__(
        self,
        *,
        weights: str | None = None,   # an I3D state dict or TorchScript file; None: the cache folders
        device: Any = "cpu",
        batch_size: int = 8,          # clips per I3D forward
        frames: int = CLIP_FRAMES,    # frames per clip
        stride: int = 1,              # take every stride-th frame (StyleGAN-V's subsample_factor)
        resolution: int = I3D_SIZE,   # frame side the I3D sees; 224 is the protocol (smaller: tests only)
        bn_eps: float = 1e-5,         # batch-norm eps of the state-dict I3D (VideoGPT's; pytorch-i3d: 1e-3)
        **_: Any,
    ) -> None:
        if frames < 1 or stride < 1 or resolution < 1:
            raise ValueError(f"FVD needs frames, stride and resolution >= 1, got {frames}, {stride}, {resolution}")
        backbone, self.weights_info = resolve_i3d(weights, bn_eps=bn_eps)
        self.frames, self.stride, self.resolution, self.bn_eps = frames, stride, resolution, bn_eps
        self.features_key = (f"fvd-i3d-v{FVD_VERSION}-{frames}f-stride{stride}-{resolution}px-"
                             f"{self.weights_info['sha256']}")
        if resolution != I3D_SIZE:
            log.warning("FVD at %dx%d, not the protocol's %dx%d: values are not comparable with published ones",
                        resolution, resolution, I3D_SIZE, I3D_SIZE)
        super().__init__(I3DFeatures(backbone, resolution=resolution), device=device, batch_size=batch_size)

    @property
    def clip_span(self) -> int:
        """Frames a clip needs: ``(frames - 1) * stride + 1``."""
        return (self.frames - 1) * self.stride + 1

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, 3, H, W] -> [B, frames, 3, H, W]``: the first ``frames`` frames at ``stride``."""
        if x.dim() != 5 or x.shape[2] != 3:
            raise DataError(f"FVD compares clips [B, T, 3, H, W], got a tensor of shape {list(x.shape)}")
        if x.shape[1] < self.clip_span:
            raise DataError(f"FVD needs clips of at least {self.clip_span} frames ({self.frames} frames at stride "
                            f"{self.stride}), got clips of {x.shape[1]} frames")
        return x[:, : self.clip_span : self.stride]

    def compute(self) -> dict[str, float]:
        real, fake = self.real_features(), self.fake_features()
        if len(real) < 2 or len(fake) < 2:
            raise DataError(f"FVD needs at least 2 real and 2 generated clips, got {len(real)} real and "
                            f"{len(fake)} generated")
        return {"fvd": frechet_distance(real, fake)}

    def provenance(self) -> dict[str, Any]:
        if self.weights_info["format"] == "torchscript":
            backbone = ("StyleGAN-V TorchScript I3D (tf.hub i3d-kinetics-400), rescale=False, resize=False, "
                        "return_features=True: 400 logits")
        else:
            backbone = (f"pytorch-i3d InceptionI3d (Kinetics-400), 400 logits averaged over time, "
                        f"batch-norm eps {self.bn_eps:g}")
        return {"metric": "fvd", "version": FVD_VERSION, "backbone": backbone,
                "weights": self.weights_info["source"], "weights_file": self.weights_info["file"],
                "weights_sha256": self.weights_info["sha256"], "weights_format": self.weights_info["format"],
                "frames_per_clip": self.frames, "frame_stride": self.stride, "clip_start": "first frame",
                "resolution": self.resolution,
                "resize": (f"shorter side to {self.resolution} bilinear (align_corners=False), center crop "
                           f"{self.resolution}x{self.resolution}"),
                "input_range": "[-1, 1]", "features_dtype": "float32",
                "statistics_dtype": "float64", "covariance": "sample (N - 1)",
                "real_clips": sum(len(r) for r in self.real), "fake_clips": sum(len(f) for f in self.fake)}
