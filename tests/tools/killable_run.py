"""``pgvg`` as the kill test runs it: with the probe metric, and checkpoint writes that pause after the bytes
are written and before the rename (touching ``$PGVG_TEST_MARKERS/writing``), so a kill can land mid-write.

    python tests/tools/killable_run.py run CONFIG --out DIR ...   (any pgvg command line)
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for fake_plugins

from fake_plugins import probes  # noqa: E402

from pgvg_core.media.files import atomic_write  # noqa: E402
from pgvg_core.plugins import load_plugins, set_plugins  # noqa: E402
from pgvg_core.training import checkpoint  # noqa: E402


def slow_save(state, path):
    def write(file):
        checkpoint.torch.save(state, file)
        file.flush()
        markers = os.environ.get("PGVG_TEST_MARKERS")
        if markers:
            (Path(markers) / "writing").touch()
        time.sleep(float(os.environ.get("PGVG_TEST_WRITE_SECONDS", "0")))

    atomic_write(path, write)


if __name__ == "__main__":
    set_plugins(load_plugins(extra_plugins=[("probes", probes)]))
    checkpoint.save_atomic = slow_save
    from pgvg_core.cli import main

    main(prog_name="pgvg")
