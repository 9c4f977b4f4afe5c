"""``pgvg score --conformance``: every frame metric next to its reference implementation, on the same files.

Without inputs, the files are real photos (scikit-image's sample images: people, animals, objects, textures),
cropped to 128x128, and degraded copies of them (Gaussian blur, Gaussian noise, JPEG at quality 25, a
brightness shift), written as PNG. Those degradations are what generated frames get wrong, and the brightness
shift catches a metric computed on the wrong value range (SSIM is not shift-invariant).

A metric takes part by implementing ``Metric.check_against_reference`` (see ``pgvg_core.interfaces``); the
core knows nothing of any particular metric or reference package.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np

from pgvg_core.errors import DataError, PgvgError
from pgvg_core.interfaces import ReferenceCheck, ReferenceUnavailable

log = logging.getLogger("pgvg.conformance")

#: scikit-image's sample photos that ship inside the package (none is downloaded).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "colorwheel",
          "retina", "camera", "brick", "grass", "gravel")
DEGRADATIONS = ("blur", "noise", "jpeg", "brighter")
CROP = 128


def degrade(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``[H, W, 3]`` -> a degraded uint8 copy."""
    from PIL import Image, ImageFilter

    if kind == "blur":
        return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius=1.5)))
    if kind == "noise":
        return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).round().astype(np.uint8)
    if kind == "jpeg":
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=25)
        return np.asarray(Image.open(buffer).convert("RGB"))
    if kind == "brighter":
        return np.clip(image.astype(np.int16) + 24, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown degradation {kind!r}; one of {', '.join(DEGRADATIONS)}")


def photo_crops(size: int = CROP) -> list[np.ndarray]:
    """Four ``size`` x ``size`` RGB crops of each sample photo (its centre square, shrunk to ``2 size``)."""
    try:
        from skimage import data
    except ImportError:
        raise PgvgError("the built-in conformance set is made of scikit-image's sample photos: pip install "
                        "scikit-image, or give your own REAL and FAKE folders") from None
    from PIL import Image

    crops = []
    for name in PHOTOS:
        photo = getattr(data, name)()
        photo = np.stack([photo] * 3, axis=-1) if photo.ndim == 2 else photo[..., :3]
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        square = Image.fromarray(photo[top : top + side, left : left + side]).resize((2 * size, 2 * size),
                                                                                     Image.Resampling.LANCZOS)
        square = np.asarray(square)
        crops += [square[y : y + size, x : x + size] for y in (0, size) for x in (0, size)]
    return crops


def write_conformance_set(folder: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """``folder/real`` (photo crops) and ``folder/fake`` (each crop degraded, the kinds in turn), as PNG."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    real, fake = folder / "real", folder / "fake"
    real.mkdir(parents=True, exist_ok=True)
    fake.mkdir(parents=True, exist_ok=True)
    for index, crop in enumerate(photo_crops()):
        kind = DEGRADATIONS[index % len(DEGRADATIONS)]
        Image.fromarray(crop).save(real / f"{index:03d}.png")
        Image.fromarray(degrade(crop, kind, rng)).save(fake / f"{index:03d}-{kind}.png")
    return real, fake


def run_conformance(real: Path, fake: Path, metrics: list[str], *, device: str = "cpu") -> list[dict[str, Any]]:
    """One row per check: metric, key, reference, pgvg's value, the reference's, the difference, the tolerance,
    ok; or a row saying why a metric was not checked (``status`` "skipped")."""
    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.measure.score import list_items
    from pgvg_core.plugins import get_registries

    real_files, fake_files = list_items(real), list_items(fake)
    registry = get_registries()["metrics"]
    names = metrics or [entry.name for entry in registry.entries()
                        if getattr(entry.factory, "domain", "frames") == "frames"]
    rows: list[dict[str, Any]] = []
    for name in names:
        try:
            metric = build("metrics", ComponentSpec(name=name), path=f"--metric {name}", device=device)
            checks = metric.check_against_reference(real_files, fake_files)
        except (ReferenceUnavailable, DataError) as reason:
            rows.append({"metric": name, "status": "skipped", "reason": str(reason)})
            log.info("conformance: %s skipped: %s", name, reason)
            continue
        rows += [_row(check) for check in checks]
    return rows


def _row(check: ReferenceCheck) -> dict[str, Any]:
    return {"metric": check.metric, "key": check.key, "reference": check.reference, "pgvg": check.value,
            "reference_value": check.expected, "difference": check.difference,
            "tolerance": f"{check.tolerance:g}{' relative' if check.relative else ''}",
            "status": "ok" if check.ok else "FAIL"}
