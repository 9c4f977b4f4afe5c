"""A Python interpreter that fails the first ``$PGVG_TEST_FAILURES`` times it is started (counted in the file
``$PGVG_TEST_FAILURE_COUNT``), then is the real one: the launcher test's job that fails, then is retried.

    PGVG_JOB_PYTHON="python tests/tools/flaky_python.py" pgvg bench ... --launcher local --retries 1
"""

import os
import sys
from pathlib import Path

counter = Path(os.environ["PGVG_TEST_FAILURE_COUNT"])
failed = int(counter.read_text()) if counter.exists() else 0
if failed < int(os.environ.get("PGVG_TEST_FAILURES", "1")):
    counter.write_text(str(failed + 1))
    sys.stderr.write(f"flaky_python: failure {failed + 1} on purpose (a node without its GPU, say)\n")
    sys.exit(3)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
