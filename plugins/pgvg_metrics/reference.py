"""pgvg's metrics next to their reference implementations, on the same image files (``pgvg score --conformance``).

Each check reads the files the way the reference's own documentation does (scikit-image on the uint8 arrays,
pytorch-fid on the folder with its own loader, lpips through ``lpips.im2tensor``), and pgvg the way ``pgvg
score`` does (torchvision's decoder, frames in ``[-1, 1]``), so a difference in value range, resize filter,
channel order or colour space shows up as a difference in the value.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from pgvg_core.interfaces import Metric, ReferenceCheck, ReferenceUnavailable
from pgvg_core.measure.score import iter_frames, to_model_range

#: Tolerances of the conformance checks: per-image values to 1e-4 (the metrics issue's bound for SSIM),
#: set metrics to 1e-4 relative (float32 features; pytorch-fid's sqrtm against pgvg's eigendecomposition).
PER_IMAGE_TOLERANCE = 1e-4
SET_TOLERANCE = 1e-4


def require(module: str, distribution: str) -> ModuleType:
    """Import a reference package, or say which one to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ReferenceUnavailable(f"{distribution} is not installed (pip install {distribution})") from None


def version(distribution: str) -> str:
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return distribution


def read_uint8(files: list[Path]) -> list[np.ndarray]:
    """Each file's frames as uint8 ``[H, W, 3]`` arrays, decoded as ``pgvg score`` decodes them."""
    return [frame for batch in iter_frames(files) for frame in batch]


def check_pairs(real: list[Path], fake: list[Path]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    real_images, fake_images = read_uint8(real), read_uint8(fake)
    if len(real_images) != len(fake_images):
        raise ReferenceUnavailable(f"a paired metric needs as many real images as fake ones, got "
                                   f"{len(real_images)} and {len(fake_images)}")
    return real_images, fake_images


def per_image_checks(metric: Metric, name: str, real: list[Path], fake: list[Path], reference: str,
                     reference_value: Callable[[np.ndarray, np.ndarray], float]) -> list[ReferenceCheck]:
    """A paired metric image by image against ``reference_value(real uint8, fake uint8)``: the means and the
    largest per-image difference. Pairs where the reference is not finite (PSNR of identical images) are left
    out."""
    ours, theirs = [], []
    for real_image, fake_image in zip(*check_pairs(real, fake)):
        expected = float(reference_value(real_image, fake_image))
        if not math.isfinite(expected):
            continue
        metric.reset()
        metric.update(to_model_range(real_image[None]), to_model_range(fake_image[None]))
        ours.append(next(iter(metric.compute().values())))
        theirs.append(expected)
    if not ours:
        raise ReferenceUnavailable(f"{reference} is not finite on any pair (identical images?)")
    ours_array, theirs_array = np.array(ours), np.array(theirs)
    differences = np.abs(ours_array - theirs_array)
    worst = int(differences.argmax())
    return [
        ReferenceCheck(metric=name, key=f"{name} (mean of {len(ours)})", reference=reference,
                       value=float(ours_array.mean()), expected=float(theirs_array.mean()),
                       tolerance=PER_IMAGE_TOLERANCE),
        ReferenceCheck(metric=name, key=f"{name} (largest per-image difference)", reference=reference,
                       value=float(ours_array[worst]), expected=float(theirs_array[worst]),
                       tolerance=PER_IMAGE_TOLERANCE, measured=float(differences[worst])),
    ]


def set_features(metric: Any, real: list[Path], fake: list[Path]) -> None:
    """Fill a set metric (FID, KID) with the Inception features of every real and fake frame."""
    metric.reset()
    for batch in iter_frames(real):
        metric.real.append(metric.features(to_model_range(batch)))
    for batch in iter_frames(fake):
        metric.fake.append(metric.features(to_model_range(batch)))


@contextlib.contextmanager
def image_folder_of(files: list[Path]) -> Iterator[Path]:
    """A temporary folder holding exactly ``files`` (links), for references that read a folder."""
    if any(f.suffix.lower() not in {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"} for f in files):
        raise ReferenceUnavailable("the reference reads image files only, not videos")
    with tempfile.TemporaryDirectory(prefix="pgvg-conformance-") as folder:
        for index, file in enumerate(files):
            os.symlink(file.resolve(), Path(folder) / f"{index:06d}{file.suffix.lower()}")
        yield Path(folder)


@contextlib.contextmanager
def torch_hub_holding(file_name: str, state: dict[str, torch.Tensor]) -> Iterator[None]:
    """A temporary torch hub cache holding ``state`` as ``checkpoints/file_name``, so a reference that loads
    its weights from the hub cache uses exactly pgvg's; the user's cache is left alone."""
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="pgvg-hub-") as hub:
        (Path(hub) / "checkpoints").mkdir()
        torch.save(state, Path(hub) / "checkpoints" / file_name)
        torch.hub.set_dir(hub)
        try:
            yield
        finally:
            torch.hub.set_dir(previous)
