"""pgvg core: the contracts plugins implement, plugin loading, and the framework around them.

At the root, what a plugin author touches: :mod:`.interfaces` (every component kind, with tensor shapes),
:mod:`.objective` (the stage contracts and the objective base), :mod:`.hookspecs`, :mod:`.plugins` (loading
them), :mod:`.errors` and :mod:`.blocks`. Below it, grouped by what they do: ``config/``, ``training/``,
``poses/``, ``measure/``, ``media/``, ``app/`` (pipelines, bundles, ``pgvg animate``), ``leaderboard/`` and
``cli/``.

Plugins need only :data:`hookimpl` from here::

    from pgvg_core import hookimpl

    @hookimpl
    def pgvg_register_generators(register):
        register("my-gen", MyGenerator, summary="...")
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "pgvg"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]

# Modules that moved into the grouped layout of 0.2 (old name -> new one). The old names keep importing, with a
# DeprecationWarning, until 0.3: ``from pgvg_core.skeleton import BODY_18`` still works.
MOVED_MODULES = {
    "animate": "app.animate", "bundle": "app.bundle", "demo": "app.demo", "motion_transfer": "app.motion_transfer",
    "pipeline": "app.pipeline", "stages": "app.stages", "timing": "app.timing",
    "bench": "leaderboard.runner", "reconstruction": "leaderboard.reconstruction", "report": "leaderboard.report",
    "results": "leaderboard.results",
    "checkpoint": "training.checkpoint", "distributed": "training.distributed", "experiment": "training.experiment",
    "randomness": "training.randomness", "run": "training.run", "trainer": "training.trainer", "weights": "training.weights",
    "conformance": "measure.conformance", "evaluation": "measure.evaluation", "score": "measure.score",
    "stats": "measure.stats",
    "files": "media.files", "sheets": "media.sheets", "video": "media.video",
    "framing": "poses.framing", "pose": "poses.keypoints", "pose_cache": "poses.cache", "skeleton": "poses.skeleton",
}


class _MovedModule(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``pgvg_core.<old name>`` as the module it became (the same module object, not a copy)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201 - importlib's protocol
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or name not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):  # noqa: ANN001, ANN201
        new = f"{__name__}.{MOVED_MODULES[spec.name.partition('.')[2]]}"
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old name goes in pgvg 0.3)",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module) -> None:  # noqa: ANN001 - the module was executed under its new name
        pass


if not any(isinstance(finder, _MovedModule) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModule())
