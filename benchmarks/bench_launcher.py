"""``pgvg bench SUITE --launcher local --max-parallel K`` against the same suite run in sequence, back to back on
this machine, each into a new folder and database: the wall time of each and their ratio (issue 33's target:
at most 0.65 for K = 2 on 2 cores, the smoke suite at 600 steps).

    python benchmarks/bench_launcher.py [--suite smoke] [--steps 600] [--max-parallel 2]

The launcher chooses each job's threads (the machine's cores / K); the sequential run uses them all.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("w") as output:
        code = subprocess.call(command, stdout=output, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"{' '.join(command)} failed ({code}); see {log}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="smoke")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--max-parallel", type=int, default=2)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        common = ["bench", args.suite, "--no-progress", "--set", f"trainer.steps={args.steps}"]
        pgvg = [sys.executable, "-m", "pgvg_core.cli"]
        sequential = timed([*pgvg, *common, "--out", str(root / "seq"), "--db", str(root / "seq.sqlite")],
                           root / "seq.log")
        parallel = timed([*pgvg, *common, "--out", str(root / "par"), "--db", str(root / "par.sqlite"),
                          "--launcher", "local", "--max-parallel", str(args.max_parallel)], root / "par.log")
    print(f"{args.suite} at {args.steps} steps on {cores} cores: in sequence {sequential:.1f} s, "
          f"--launcher local --max-parallel {args.max_parallel} {parallel:.1f} s, ratio {parallel / sequential:.3f}")


if __name__ == "__main__":
    main()
