"""The layout shows the architecture: a small root (what a plugin touches), grouped subpackages, short files,
and the old module names still importing (with a warning naming the new one) for one release."""

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import pgvg_core

CORE = Path(pgvg_core.__file__).parent


def test_the_root_holds_a_dozen_modules_at_most():
    modules = sorted(p.name for p in CORE.glob("*.py"))
    assert len(modules) <= 12, modules


def test_no_core_file_is_over_500_lines():
    long = {str(p.relative_to(CORE)): n for p in CORE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


def test_every_subpackage_says_what_it_holds():
    for init in CORE.glob("*/__init__.py"):
        module = importlib.import_module(f"pgvg_core.{init.parent.name}")
        assert module.__doc__ and len(module.__doc__) > 40, init


@pytest.mark.parametrize("old", sorted(pgvg_core.MOVED_MODULES))
def test_an_old_module_name_imports_the_moved_module_with_a_warning(old):
    # In a fresh interpreter: this one may have imported the old name already (a module warns once).
    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import pgvg_core.{old}\nexcept DeprecationWarning as w:\n    print(w)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    new = f"pgvg_core.{pgvg_core.MOVED_MODULES[old]}"
    assert f"pgvg_core.{old} moved to {new}" in done.stdout, done.stderr[-2000:]


def test_an_old_name_is_the_same_module_object():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pgvg_core.skeleton import BODY_18 as old  # noqa: F401 - the import is the test
        import pgvg_core.pose as old_pose
    from pgvg_core.poses import keypoints
    from pgvg_core.poses.skeleton import BODY_18

    assert old is BODY_18 and old_pose is keypoints
