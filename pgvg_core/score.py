"""``pgvg score REAL FAKE``: metrics between two sets of frames (image folders, video files or video folders).

Images are decoded in batches by torchvision (threads, no PIL round trips) and streamed through the metrics,
so thousands of frames never sit in memory at once. FID's statistics of the real set are cached on disk,
keyed by the set's files (names, sizes, modification times), the weights' hash and the preprocessing.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pgvg_core.errors import DataError, PgvgError
from pgvg_core.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_video

log = logging.getLogger("pgvg.score")

BATCH = 64


def list_items(root: Path) -> list[Path]:
    """The image or video files of ``root`` (a file, or a folder of either), sorted by name."""
    if root.is_file():
        if root.suffix.lower() in VIDEO_SUFFIXES:
            return [root]
        raise DataError(f"{root}: not a video; give a folder of images, a video file or a folder of videos")
    if not root.is_dir():
        raise DataError(f"not found: {root}")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    if not files:
        raise DataError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) or videos ({', '.join(VIDEO_SUFFIXES)})")
    return files


def _decode_image(path: Path) -> np.ndarray:
    from torchvision.io import ImageReadMode, decode_image, read_file

    try:
        return decode_image(read_file(str(path)), mode=ImageReadMode.RGB).permute(1, 2, 0).numpy()
    except (RuntimeError, ValueError) as error:
        raise DataError(f"{path}: cannot decode image ({str(error).splitlines()[0]})") from None


def iter_frames(files: list[Path], *, threads: int = 4) -> Iterator[np.ndarray]:
    """uint8 batches ``[N, H, W, 3]``: images in batches of ``BATCH``, or each video's frames."""
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    shape: tuple[int, ...] | None = None
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for start in range(0, len(images), BATCH):
            chunk = images[start : start + BATCH]
            decoded = list(pool.map(_decode_image, chunk))
            for path, image in zip(chunk, decoded):
                shape = shape or image.shape
                if image.shape != shape:
                    raise DataError(f"{path}: image of {image.shape[1]}x{image.shape[0]}, the others are "
                                    f"{shape[1]}x{shape[0]}; resize them to one size first")
            yield np.stack(decoded)
    for video in videos:
        yield read_video(video)


def to_model_range(batch: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def fingerprint(files: list[Path]) -> str:
    parts = [f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    from pgvg_metrics.fid import statistics_key

    return statistics_key(*parts)


def score(real: str | Path, fake: str | Path, metrics: list[str], *, device: str = "cpu",
          progress: bool = True, use_cache: bool = True) -> dict[str, Any]:
    """Every metric in ``metrics`` between the frames of ``real`` and ``fake``: ``{"<name>": value, ...,
    "<name>.<key>": value, "provenance": {...}}``."""
    from tqdm.auto import tqdm

    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.plugins import get_registries

    if not metrics:
        raise PgvgError("name at least one --metric (see `pgvg list metrics`)")
    real_files, fake_files = list_items(Path(real)), list_items(Path(fake))
    registry = get_registries()["metrics"]
    built = {}
    for name in metrics:
        domain = getattr(registry.get(name).factory, "domain", "frames")
        if domain != "frames":
            raise PgvgError(f"metric '{name}' compares {domain}, not images; pgvg score compares frames")
        built[name] = build("metrics", ComponentSpec(name=name), path=f"--metric {name}", device=device)
    paired = [name for name in built if name != "fid"]
    fid = built.get("fid")
    cached_real = None
    if fid is not None and use_cache:
        cached_real = _load_real_statistics(fid, real_files)

    real_needed = bool(paired) or (fid is not None and cached_real is None)
    counts = {"real": 0, "fake": 0}
    bar = tqdm(desc="score", unit="frame", disable=not progress)
    real_stream = iter_frames(real_files) if real_needed else iter(())
    fake_stream = iter_frames(fake_files)
    pending_real: list[torch.Tensor] = []
    for fake_batch in fake_stream:
        fake_tensor = to_model_range(fake_batch)
        counts["fake"] += len(fake_tensor)
        real_tensor = None
        if real_needed:
            real_tensor = _take(real_stream, pending_real, len(fake_tensor)) if paired else None
            if real_tensor is not None and real_tensor.shape != fake_tensor.shape:
                raise DataError(f"real and fake frames differ: {list(real_tensor.shape[1:])} vs "
                                f"{list(fake_tensor.shape[1:])} (paired metrics {', '.join(paired)} need the same "
                                "sizes, in the same order)")
        for name, metric in built.items():
            if name == "fid":
                metric.update(None, fake_tensor)
            else:
                if real_tensor is None or len(real_tensor) < len(fake_tensor):
                    raise DataError(f"{real}: fewer frames than {fake}; paired metrics need one real frame per fake")
                metric.update(real_tensor, fake_tensor)
        if real_tensor is not None:
            counts["real"] += len(real_tensor)
            if fid is not None and cached_real is None:
                fid.real.append(fid.features(real_tensor))
        bar.update(len(fake_tensor))
    if paired and _take(real_stream, pending_real, 1) is not None:
        raise DataError(f"{real} has more frames than {fake} ({counts['fake']}); paired metrics "
                        f"({', '.join(paired)}) need one real frame per fake")
    if fid is not None and cached_real is None:
        for real_batch in real_stream:  # FID alone: the rest of the real set
            fid.real.append(fid.features(to_model_range(real_batch)))
            bar.update(len(real_batch))
    bar.close()
    if fid is not None:
        if cached_real is None:
            _save_real_statistics(fid, real_files)
        if counts["fake"] < 2:
            raise DataError(f"{fake}: FID needs at least 2 images, got {counts['fake']}")

    result: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for name, metric in built.items():
        values = metric.compute()
        if len(values) == 1:
            result[name] = next(iter(values.values()))
        else:
            result.update({f"{name}.{key}": value for key, value in values.items()})
        provenance[name] = metric.provenance()
    provenance["inputs"] = {"real": str(real), "fake": str(fake), "real_frames": counts["real"],
                            "fake_frames": counts["fake"], "device": device}
    result["provenance"] = provenance
    return result


def _take(stream: Iterator[np.ndarray], pending: list[torch.Tensor], count: int) -> torch.Tensor | None:
    """``count`` frames from a stream of batches (keeping the rest for later); None when it is empty."""
    while sum(len(p) for p in pending) < count:
        try:
            pending.append(to_model_range(next(stream)))
        except StopIteration:
            break
    if not pending:
        return None
    joined = torch.cat(pending)
    pending.clear()
    if len(joined) > count:
        pending.append(joined[count:])
    return joined[:count]


def _statistics_file(fid: Any, real_files: list[Path]) -> Path:
    from pgvg_core.files import cache_root
    from pgvg_metrics.fid import FID_VERSION, statistics_key

    key = statistics_key(fingerprint(real_files), fid.weights_info["sha256"], f"v{FID_VERSION}-bilinear299")
    return cache_root() / "fid-stats" / f"{key}.npz"


def _load_real_statistics(fid: Any, real_files: list[Path]) -> tuple | None:
    path = _statistics_file(fid, real_files)
    if not path.exists():
        return None
    with np.load(path) as archive:
        fid.set_real_statistics(archive["mu"], archive["sigma"], int(archive["count"]))
    log.info("FID: real statistics from the cache %s", path)
    return fid.real_statistics


def _save_real_statistics(fid: Any, real_files: list[Path]) -> None:
    from pgvg_data.video_folder import atomic_save_npz

    mu, sigma = fid.real_stats()
    atomic_save_npz(_statistics_file(fid, real_files), mu=mu, sigma=sigma, count=np.array(fid.real_count))
