"""pgvg's metrics against their reference implementations on the same images, in one run: images/s and values.

    python benchmarks/bench_metrics.py [--images 256] [--end-to-end 500] [--workers 2]

Writes two folders of PNG frames (synthetic-actions train and test identities, 64x64), then, on the frames
read back from disk:
- SSIM: pgvg's (kornia, batched) against scikit-image's ``structural_similarity`` image by image, uint8 files,
  Gaussian window, population covariance (the field's convention);
- LPIPS (alex): pgvg's metric against the lpips package's network called as its README does, batched; the
  AlexNet backbone that cannot be downloaded here is a fixed random one placed in a temporary torch hub cache
  for both (speed and agreement do not depend on which weights);
- FID: pgvg's Inception features + Fréchet distance against pytorch-fid's ``InceptionV3`` (the same weights,
  through the hub cache) + ``calculate_frechet_distance``;
- KID: pgvg's ``kernel_inception_distance`` against torch-fidelity's ``kid_features_to_metric`` on the same
  features (100 subsets);
- FID end to end, as users run them: pytorch-fid's CLI against ``pgvg score --metric fid`` with a cold
  statistics cache and again with the real set's statistics cached (``--end-to-end`` images per folder,
  0 to skip).

SSIM, LPIPS and KID are timed as the best of 3 runs of each side (the first call of a torch operator sets it
up); FID, whose runs take tens of seconds, once. ``speedup`` is pgvg's images/s over the reference's;
``difference`` the largest difference of the values (absolute per image for SSIM and LPIPS, relative for FID
and KID). Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPEATS = 3  # runs of each side of the fast in-process rows (SSIM, LPIPS, KID); the best counts


def write_frames(folder: Path, split: str, count: int, size: int) -> list[Path]:
    """``count`` frames of synthetic-actions clips of ``split`` as PNG files in ``folder``."""
    from pgvg_data.synthetic import SyntheticActions
    from PIL import Image

    folder.mkdir(parents=True)
    dataset = SyntheticActions(split=split, resolution=size, frames=16, clips=count // 16 + 1)
    files = []
    for clip in range(len(dataset)):
        for frame in dataset.sample(clip)["frames"]:
            if len(files) == count:
                return files
            files.append(folder / f"{len(files):05d}.png")
            Image.fromarray(frame).save(files[-1])
    return files


def read(files: list[Path]) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])  # [N, H, W, 3] uint8


def model_range(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> pgvg's frames ``[N, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def timed(call, repeats: int = 1):
    """``call()``'s value and its time: the best of ``repeats`` runs (the first call of a torch operator pays
    for setting it up, a one-off that would count against whichever side ran first)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        value = call()
        best = min(best, time.perf_counter() - started)
    return value, best


def bench_ssim(real: np.ndarray, fake: np.ndarray) -> dict:
    from pgvg_metrics.image import ssim_per_image, to_unit_range
    from skimage.metrics import structural_similarity

    def reference():
        return np.array([structural_similarity(r, f, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                               use_sample_covariance=False, data_range=255)
                         for r, f in zip(real, fake)])

    def ours():
        x, y = to_unit_range(model_range(fake)).double(), to_unit_range(model_range(real)).double()
        return torch.cat([ssim_per_image(x[i:i + 256], y[i:i + 256]) for i in range(0, len(x), 256)]).numpy()

    (expected, reference_s), (value, ours_s) = timed(reference, REPEATS), timed(ours, REPEATS)
    return row("ssim", "scikit-image structural_similarity", len(real), reference_s, ours_s,
               float(np.abs(value - expected).max()), "absolute, per image")


def bench_lpips(real: np.ndarray, fake: np.ndarray, batch: int = 64) -> dict:
    import lpips
    import torchvision
    from pgvg_metrics.perceptual import BACKBONE_FILES, LPIPSMetric
    from pgvg_metrics.reference import torch_hub_holding

    torch.manual_seed(0)
    backbone = torchvision.models.alexnet().state_dict()  # random: the ImageNet file cannot be fetched here
    with torch_hub_holding(BACKBONE_FILES["alex"], backbone):
        metric = LPIPSMetric(net="alex", batch_size=batch)
        reference_model = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()

    @torch.no_grad()
    def reference():
        out = []
        for i in range(0, len(real), batch):
            x = torch.cat([lpips.im2tensor(f) for f in fake[i:i + batch]])
            y = torch.cat([lpips.im2tensor(r) for r in real[i:i + batch]])
            out.append(reference_model(x, y).flatten())
        return torch.cat(out).numpy()

    def ours():
        return metric.per_image(model_range(real), model_range(fake)).numpy()

    (expected, reference_s), (value, ours_s) = timed(reference, REPEATS), timed(ours, REPEATS)
    return row("lpips", "lpips 0.1 (alex) LPIPS() batched", len(real), reference_s, ours_s,
               float(np.abs(value - expected).max()), "absolute, per image")


def bench_fid_kid(real: np.ndarray, fake: np.ndarray) -> list[dict]:
    from pgvg_metrics.fid import FID, PYTORCH_FID_FILE
    from pgvg_metrics.kid import kernel_inception_distance
    from pgvg_metrics.reference import torch_hub_holding
    from pytorch_fid.fid_score import calculate_frechet_distance
    from pytorch_fid.inception import InceptionV3
    from torch_fidelity.metric_kid import kid_features_to_metric

    metric = FID()
    with torch_hub_holding(PYTORCH_FID_FILE, metric.model_state()):
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()

    @torch.no_grad()
    def reference():
        def features(images):
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0  # pytorch-fid's input: [0, 1]
            return np.concatenate([model(x[i:i + 50])[0].flatten(1).numpy() for i in range(0, len(x), 50)])

        a, b = features(real), features(fake)
        distance = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        return distance, a, b

    def ours():
        metric.reset()
        metric.update(model_range(real), model_range(fake))
        return metric.compute()["fid"]

    (expected, real_features, fake_features), reference_s = timed(reference)
    value, ours_s = timed(ours)
    rows = [row("fid", "pytorch-fid InceptionV3 + calculate_frechet_distance", 2 * len(real), reference_s, ours_s,
                abs(value - expected) / abs(expected), "relative")]
    subsets = {"subsets": 100, "subset_size": min(1000, len(real))}
    kid_reference = lambda: kid_features_to_metric(  # noqa: E731
        torch.from_numpy(fake_features), torch.from_numpy(real_features), kid_subsets=subsets["subsets"],
        kid_subset_size=subsets["subset_size"], verbose=False)["kernel_inception_distance_mean"]
    kid_ours = lambda: kernel_inception_distance(fake_features, real_features, **subsets)[0]  # noqa: E731
    (expected, reference_s), (value, ours_s) = timed(kid_reference, REPEATS), timed(kid_ours, REPEATS)
    rows.append(row("kid (from features)", "torch-fidelity kid_features_to_metric", 2 * len(real), reference_s,
                    ours_s, abs(value - expected) / abs(expected), "relative"))
    return rows


def bench_end_to_end(root: Path, count: int, workers: int) -> list[dict]:
    """pytorch-fid's CLI against ``pgvg score`` on two folders of ``count`` PNG files, as subprocesses."""
    from pgvg_metrics.fid import PYTORCH_FID_FILE, resolve_weights

    write_frames(root / "real-e2e", "train", count, 64)
    write_frames(root / "fake-e2e", "test", count, 64)
    env = {**os.environ, "TORCH_HOME": str(root / "torch"), "PGVG_CACHE_DIR": str(root / "cache")}
    state, _ = resolve_weights()
    (root / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, root / "torch" / "hub" / "checkpoints" / PYTORCH_FID_FILE)  # the same weights for both

    def run(command):
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    folders = [str(root / "real-e2e"), str(root / "fake-e2e")]
    out, reference_s = timed(lambda: run([sys.executable, "-m", "pytorch_fid", *folders, "--device", "cpu",
                                          "--num-workers", str(workers)]))
    expected = float(out.strip().split()[-1])
    pgvg = [sys.executable, "-m", "pgvg_core.cli", "score", *folders, "--metric", "fid", "--json", "--no-progress"]
    out, cold_s = timed(lambda: run(pgvg))
    value = json.loads(out)["fid"]
    _, warm_s = timed(lambda: run(pgvg))
    difference = abs(value - expected) / abs(expected)
    return [row(f"fid end to end, {cache}", "pytorch-fid CLI", 2 * count, reference_s, seconds, difference, "relative")
            for cache, seconds in (("cold cache", cold_s), ("real cached", warm_s))]


def row(metric: str, reference: str, images: int, reference_s: float, ours_s: float, difference: float,
        kind: str) -> dict:
    return {"metric": metric, "reference": reference, "images": images,
            "reference_images_per_s": round(images / reference_s, 1), "images_per_s": round(images / ours_s, 1),
            "speedup": round(reference_s / ours_s, 3), "difference": float(f"{difference:.3g}"),
            "difference_kind": kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256, help="frames per set for the in-process rows")
    parser.add_argument("--end-to-end", type=int, default=500, help="frames per folder for the CLI rows (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="pytorch-fid CLI's --num-workers")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        real = read(write_frames(root / "real", "train", args.images, 64))
        fake = read(write_frames(root / "fake", "test", args.images, 64))
        rows = [bench_ssim(real, fake), bench_lpips(real, fake), *bench_fid_kid(real, fake)]
        if args.end_to_end:
            rows += bench_end_to_end(root, args.end_to_end, args.workers)
    print(f"64x64 PNG frames, CPU, {torch.get_num_threads()} torch threads")
    print(f"{'metric':28s} {'reference img/s':>15s} {'pgvg img/s':>11s} {'speedup':>8s} {'difference':>11s}")
    for r in rows:
        print(f"{r['metric']:28s} {r['reference_images_per_s']:15.1f} {r['images_per_s']:11.1f} {r['speedup']:7.2f}x "
              f"{r['difference']:11.2e}  ({r['reference']})")
    print(json.dumps({"benchmark": "bench_metrics", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "rows": rows}))


if __name__ == "__main__":
    main()
