"""The GPU check, ready before a GPU is: one command, about 5-8 minutes on one H100, one JSON file.

    python benchmarks/device_check.py [--device cuda] [--out device-check.json]
    python benchmarks/device_check.py --dry-run          # the same path on the CPU at tiny sizes, in seconds

What it measures, each section written to the JSON file as soon as it is done (a section that fails says
why and the rest goes on):

* ``device``: the accelerator, torch and CUDA versions, memory;
* ``matmul``: the matrix-multiply peak per dtype measured in this run (fp32, tf32, bf16, fp16 on CUDA);
* ``train``: ``bench_train.py``'s rows for SCGAN and the paper's PSGAN at 64, 128 and 256 px in fp32, bf16,
  channels_last and compile: steps/s, speedup over the plain loop, MFU against this run's peak of the step's
  compute dtype, peak memory;
* ``nccl``: a process group of one process initialised with NCCL (gloo on the CPU) and an all-reduce;
* ``demo``: ``pgvg demo --quick`` on the device, its wall time;
* ``fid``: FID of 2,000 + 2,000 frames by ``pgvg score`` against pytorch-fid's CLI on the same device and
  weights: both values, both times.

Prints each section as it goes. ``--dry-run`` is what the test suite runs (tests/tools/test_device_check.py),
so the script cannot rot while no GPU is at hand; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FULL = {"resolutions": [64, 128, 256], "settings": ["fp32", "bf16", "fp32+channels_last", "compile"],
        "batch": 16, "steps": 20, "warmup": 5, "budget": 20.0, "matmul": 8192, "fid_frames": 2000}
DRY = {"resolutions": [32], "settings": ["fp32", "fp32+channels_last"], "batch": 2, "steps": 1, "warmup": 1,
       "budget": 5.0, "matmul": 128, "fid_frames": 24}


def device_info(device: torch.device) -> dict[str, Any]:
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(name=properties.name, memory_gib=round(properties.total_memory / 2**30, 1),
                    capability=f"{properties.major}.{properties.minor}", cuda=torch.version.cuda,
                    devices=torch.cuda.device_count())
    return info


def matmul_peaks(device: torch.device, size: int) -> dict[str, float]:
    """GFLOP/s of a ``size``-square matrix product per dtype (tf32: fp32 with TF32 tensor cores allowed)."""
    from pgvg_core.training.devices import matmul_flops_per_second

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if device.type == "cuda":
        dtypes["fp16"] = torch.float16
    peaks = {}
    for name, dtype in dtypes.items():
        peaks[name] = matmul_flops_per_second(dtype, device=device, size=size, repeats=10) / 1e9
    if device.type == "cuda":
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            peaks["tf32"] = matmul_flops_per_second(torch.float32, device=device, size=size, repeats=10) / 1e9
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
    return {name: round(value, 1) for name, value in peaks.items()}


def train_rows(device: torch.device, sizes: dict[str, Any], peaks: dict[str, float]) -> list[dict[str, Any]]:
    """bench_train's reference and pgvg rows, with peak memory, for SCGAN and PSGAN."""
    from bench_train import EXPERIMENTS, reference_flops, reference_rate, trainer_rate

    rows = []
    for name in EXPERIMENTS:
        for resolution in sizes["resolutions"]:
            args = (name, resolution, str(device), sizes["batch"])
            timing = (sizes["steps"], sizes["warmup"], sizes["budget"])
            rate, _ = reference_rate(*args, *timing)
            flops = reference_flops(*args)
            rows.append(_row(name, resolution, "reference", rate, rate, flops, "fp32", peaks, device))
            for setting in sizes["settings"]:
                _reset_memory(device)
                try:
                    result = trainer_rate(*args, setting, *timing)
                except Exception as error:  # noqa: BLE001 - one failed row is said; the others go on
                    rows.append({"experiment": name, "resolution": resolution, "setting": setting,
                                 "error": f"{type(error).__name__}: {str(error)[:300]}"})
                    continue
                rows.append(_row(name, resolution, setting, result["steps_per_s"], rate, result["flops_per_step"],
                                 result["precision"], peaks, device))
            print("  " + "; ".join(_short(r) for r in rows if r["experiment"] == name and
                                   r["resolution"] == resolution), flush=True)
    return rows


def _row(name: str, resolution: int, setting: str, rate: float, reference: float, flops: float, precision: str,
         peaks: dict[str, float], device: torch.device) -> dict[str, Any]:
    peak = peaks.get("bf16" if precision == "bf16" else "fp16" if precision == "fp16" else "fp32", 0.0)
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"experiment": name, "resolution": resolution, "setting": setting, "steps_per_s": round(rate, 3),
            "speedup": round(rate / reference, 3), "gflop_per_step": round(flops / 1e9, 2),
            "mfu": round(flops * rate / 1e9 / peak, 4) if peak else None,
            "peak_memory_gib": None if memory is None else round(memory, 2)}


def _short(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['setting']} failed"
    return f"{row['setting']} {row['steps_per_s']:.2f}/s ({row['speedup']:.2f}x, MFU {row['mfu'] or 0:.0%})"


def _reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def nccl(device: torch.device) -> dict[str, Any]:
    """A one-process group: NCCL on CUDA (gloo on the CPU), an all-reduce, torn down."""
    import torch.distributed as dist

    backend = "nccl" if device.type == "cuda" else "gloo"
    started = time.perf_counter()
    dist.init_process_group(backend, init_method="tcp://127.0.0.1:29591", world_size=1, rank=0)
    try:
        tensor = torch.ones(4, device=device)
        dist.all_reduce(tensor)
        dist.barrier()
        value = float(tensor.sum())
    finally:
        dist.destroy_process_group()
    return {"backend": backend, "all_reduce_sum": value, "seconds": round(time.perf_counter() - started, 2),
            "nccl_version": ".".join(map(str, torch.cuda.nccl.version())) if device.type == "cuda" else None}


def demo(device: torch.device, folder: Path) -> dict[str, Any]:
    """``pgvg demo --quick`` as a user runs it (a subprocess), on this device."""
    environment = {**os.environ, "PGVG_CACHE_DIR": str(folder / "cache")}
    if device.type != "cuda":
        environment["CUDA_VISIBLE_DEVICES"] = ""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pgvg_core.cli", "demo", "--quick", "--no-progress", "--out",
                           str(folder / "demo")], capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"pgvg demo --quick exited {done.returncode}: {done.stderr[-800:]}")
    return {"seconds": round(seconds, 1), "last_lines": done.stdout.strip().splitlines()[-3:]}


def fid(device: torch.device, folder: Path, frames: int) -> dict[str, Any]:
    """FID of ``frames`` + ``frames`` synthetic frames: ``pgvg score`` against pytorch-fid's CLI, the same
    Inception weights, the same device."""
    from bench_metrics import write_frames
    from pgvg_metrics.fid import PYTORCH_FID_FILE, resolve_weights

    real, fake = folder / "real", folder / "fake"
    write_frames(real, "train", frames, 64)
    write_frames(fake, "test", frames, 64)
    environment = {**os.environ, "TORCH_HOME": str(folder / "torch"), "PGVG_CACHE_DIR": str(folder / "cache")}
    state, _ = resolve_weights()
    (folder / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, folder / "torch" / "hub" / "checkpoints" / PYTORCH_FID_FILE)

    def run(command: list[str]) -> tuple[str, float]:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command[:4])} ... exited {done.returncode}: {done.stderr[-800:]}")
        return done.stdout, time.perf_counter() - started

    batch = str(min(50, frames))
    theirs, theirs_s = run([sys.executable, "-m", "pytorch_fid", str(real), str(fake), "--device", str(device),
                            "--batch-size", batch])
    ours, ours_s = run([sys.executable, "-m", "pgvg_core.cli", "score", str(real), str(fake), "--metric", "fid",
                        "--json", "--no-progress", "--device", str(device)])
    expected, value = float(theirs.strip().split()[-1]), float(json.loads(ours)["fid"])
    return {"frames": [frames, frames], "pgvg": round(value, 4), "pytorch_fid": round(expected, 4),
            "relative_difference": abs(value - expected) / max(abs(expected), 1e-12),
            "seconds": {"pgvg": round(ours_s, 1), "pytorch_fid": round(theirs_s, 1)},
            "speed_ratio": round(theirs_s / ours_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("device-check.json"))
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on any device: checks the path")
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = DRY if args.dry_run else FULL
    report: dict[str, Any] = {"check": "device_check", "dry_run": args.dry_run, "started": time.time()}
    failed = []

    def section(name: str, measure) -> Any:
        print(f"[{name}]", flush=True)
        started = time.perf_counter()
        try:
            report[name] = measure()
        except Exception as error:  # noqa: BLE001 - a failed section is said, the next one runs
            report[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-2000:]}
            failed.append(name)
        report.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
        print(f"  {json.dumps(report[name], default=str)[:600]}", flush=True)
        args.out.write_text(json.dumps(report, indent=1, default=str))
        return report[name]

    with tempfile.TemporaryDirectory() as work:
        section("device", lambda: device_info(device))
        peaks = section("matmul", lambda: matmul_peaks(device, sizes["matmul"]))
        section("train", lambda: train_rows(device, sizes, peaks if "error" not in peaks else {}))
        section("nccl", lambda: nccl(device))
        if args.dry_run:
            report["demo"] = {"skipped": "dry run (pgvg demo --quick takes minutes on a CPU)"}
        else:
            section("demo", lambda: demo(device, Path(work)))
        section("fid", lambda: fid(device, Path(work) / "fid", sizes["fid_frames"]))
    report["failed"] = failed
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
