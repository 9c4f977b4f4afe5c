"""The GPU check runs end to end on the CPU at tiny sizes (``--dry-run``), so it is ready when a GPU is: every
section present, with values of the right kind (its numbers mean nothing here)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_device_check_dry_run_writes_every_section(tmp_path):
    out = tmp_path / "device-check.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--dry-run", "--device",
                           "cpu", "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["failed"] == [] and report["dry_run"] is True
    assert report["device"]["device"] == "cpu" and report["matmul"]["fp32"] > 0
    rows = report["train"]
    assert {(r["experiment"], r["setting"]) for r in rows} >= {("scgan", "reference"), ("scgan", "fp32"),
                                                               ("psgan", "fp32+channels_last")}
    assert all(r["steps_per_s"] > 0 and r["speedup"] > 0 for r in rows)
    assert report["nccl"]["all_reduce_sum"] == 4.0
    assert report["fid"]["relative_difference"] < 1e-3  # pgvg's FID is pytorch-fid's on the same files
