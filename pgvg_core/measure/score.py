"""``pgvg score REAL FAKE``: metrics between two sets of frames (image folders, video files or video folders).

Images are decoded in batches by torchvision (threads, no PIL round trips) and streamed through the metrics,
so thousands of frames never sit in memory at once. The real set's features (FID, KID) are cached on disk,
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
from pgvg_core.media.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_video

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
    batch = np.require(batch, requirements="W")  # decoded arrays can be read-only; torch wants writable ones
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def fingerprint(files: list[Path]) -> str:
    """What identifies a set of files for the cache: their paths, sizes and modification times."""
    import hashlib

    parts = [f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def score(real: str | Path, fake: str | Path, metrics: list[str], *, device: str = "cpu",
          progress: bool = True, use_cache: bool = True) -> dict[str, Any]:
    """Every metric in ``metrics`` between the frames of ``real`` and ``fake``: ``{"<name>": value, ...,
    "<name>.<key>": value, "provenance": {...}}``.

    Paired metrics (SSIM, LPIPS, ...) get real and fake frames in the same order. Set metrics
    (``Metric.paired`` False: FID, KID, FVD) get each set's features; metrics that share a feature network
    (same ``features_key``: FID and KID) share one pass over the frames, and the real set's features are
    cached on disk. Metrics of clips (``compares_clips``: FVD) get each video as one clip.
    """
    from tqdm.auto import tqdm

    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.interfaces import FeatureSetMetric
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
    sets = {n: m for n, m in built.items() if isinstance(m, FeatureSetMetric)}
    paired = {n: m for n, m in built.items() if n not in sets}
    clip_sets = {n: m for n, m in sets.items() if getattr(m, "compares_clips", False)}
    frame_sets = {n: m for n, m in sets.items() if n not in clip_sets}
    groups: dict[str, list[Any]] = {}
    for metric in frame_sets.values():
        groups.setdefault(metric.features_key, []).append(metric)
    cached = {key: _load_real_features(key, real_files) if use_cache else None for key in groups}
    for key, features in cached.items():
        for metric in groups[key] if features is not None else ():
            metric.set_real_features(features)

    counts = {"real": 0, "fake": 0}
    bar = tqdm(desc="score", unit="frame", disable=not progress)
    real_needed = bool(paired) or any(features is None for features in cached.values())
    real_stream = iter_frames(real_files) if real_needed else iter(())
    pending_real: list[torch.Tensor] = []
    for fake_batch in iter_frames(fake_files):
        fake_tensor = to_model_range(fake_batch)
        counts["fake"] += len(fake_tensor)
        real_tensor = None
        if paired:
            real_tensor = _take(real_stream, pending_real, len(fake_tensor))
            if real_tensor is None or len(real_tensor) < len(fake_tensor):
                raise DataError(f"{real}: fewer frames than {fake}; paired metrics need one real frame per fake")
            if real_tensor.shape != fake_tensor.shape:
                raise DataError(f"real and fake frames differ: {list(real_tensor.shape[1:])} vs "
                                f"{list(fake_tensor.shape[1:])} (paired metrics {', '.join(paired)} need the same "
                                "sizes, in the same order)")
            for metric in paired.values():
                metric.update(real_tensor, fake_tensor)
            counts["real"] += len(real_tensor)
        for key, members in groups.items():
            _add_features(members, "fake", fake_tensor)
            if real_tensor is not None and cached[key] is None:
                _add_features(members, "real", real_tensor)
        bar.update(len(fake_tensor))
    if paired and _take(real_stream, pending_real, 1) is not None:
        raise DataError(f"{real} has more frames than {fake} ({counts['fake']}); paired metrics "
                        f"({', '.join(paired)}) need one real frame per fake")
    if not paired and any(features is None for features in cached.values()):
        for real_batch in real_stream:  # set metrics alone: the real set, on its own
            real_tensor = to_model_range(real_batch)
            for key, members in groups.items():
                if cached[key] is None:
                    _add_features(members, "real", real_tensor)
            bar.update(len(real_batch))
    for name, metric in clip_sets.items():
        for side, files in (("real", real_files), ("fake", fake_files)):
            for clip in _clips(name, files):
                getattr(metric, side).append(metric.features(clip))
                bar.update(clip.shape[1])
    bar.close()
    for key, members in groups.items():
        if cached[key] is None and use_cache:
            _save_real_features(key, real_files, members[0].real_features())

    result: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for name, metric in built.items():
        try:
            values = metric.compute()
        except ValueError as error:  # too few images for a set metric
            raise DataError(f"{fake if 'generated' in str(error) else real}: {error}") from None
        if len(values) == 1:
            result[name] = next(iter(values.values()))
        else:
            result.update({f"{name}.{key}": value for key, value in values.items()})
        provenance[name] = metric.provenance()
    provenance["inputs"] = {"real": str(real), "fake": str(fake), "real_frames": counts["real"],
                            "fake_frames": counts["fake"], "device": device}
    result["provenance"] = provenance
    return result


def _add_features(members: list[Any], side: str, frames: torch.Tensor) -> None:
    """One feature pass for every metric that shares the network (the first computes, the rest reuse)."""
    features = members[0].features(frames)
    for metric in members:
        getattr(metric, side).append(features)


def _clips(name: str, files: list[Path]) -> Iterator[torch.Tensor]:
    """Each video as one clip ``[1, T, 3, H, W]`` in [-1, 1]."""
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    if images:
        raise DataError(f"{images[0].parent}: metric '{name}' compares videos (clips), not images; give video "
                        "files or folders of videos")
    for video in files:
        yield to_model_range(read_video(video))[None]


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


def _features_file(features_key: str, real_files: list[Path]) -> Path:
    import hashlib

    from pgvg_core.media.files import cache_root

    key = hashlib.sha256(f"{fingerprint(real_files)}\x00{features_key}".encode()).hexdigest()[:32]
    return cache_root() / "real-features" / f"{key}.npz"


def _load_real_features(features_key: str, real_files: list[Path]) -> np.ndarray | None:
    path = _features_file(features_key, real_files)
    if not path.exists():
        return None
    try:
        with np.load(path) as archive:
            features = archive["features"].astype(np.float64)
    except (OSError, ValueError, KeyError) as error:
        log.warning("ignoring the unreadable feature cache %s (%s); recomputing", path, error)
        return None
    log.info("real-set features from the cache %s", path)
    return features


def _save_real_features(features_key: str, real_files: list[Path], features: np.ndarray) -> None:
    from pgvg_core.media.files import atomic_write

    path = _features_file(features_key, real_files)
    # float64 as computed: the cached run gives exactly the value of the first one.
    atomic_write(path, lambda file: np.savez(file, features=features))
