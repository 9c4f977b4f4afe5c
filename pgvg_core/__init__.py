"""pgvg core: interfaces, plugin loading, configs, experiments, the training loop, run folders and the CLI.

Plugins need only :data:`hookimpl` from here::

    from pgvg_core import hookimpl

    @hookimpl
    def pgvg_register_generators(register):
        register("my-gen", MyGenerator, summary="...")
"""

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "pgvg"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
