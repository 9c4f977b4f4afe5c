"""The ``pgvg`` command line: the ``main`` group here, its commands one module per area (``training``: ``pgvg run``,
``app``: ``pgvg animate``, ``leaderboard``: ``pgvg bench``, ...). Heavy imports (torch, plugins) live inside
command bodies so ``--help`` is instant."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from pgvg_core import __version__
from pgvg_core.cli.common import UserError

log = logging.getLogger("pgvg")



def _user_errors() -> tuple[type[BaseException], ...]:
    from pgvg_core.errors import PgvgError
    from registries import RegistryError

    return (PgvgError, RegistryError)


class PgvgGroup(click.Group):
    """Turns pgvg's own errors into short messages (exit 2), unless ``--debug`` asks for the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from pgvg_core.errors import Preempted

        try:
            return super().invoke(ctx)
        except Preempted as stopped:  # a scheduler's SIGTERM or a Ctrl-C, handled: exit as that signal would
            click.echo(f"pgvg: {stopped}", err=True)
            raise SystemExit(stopped.exit_code) from None
        except _user_errors() as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise UserError(str(error)) from None


def _setup_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="pgvg: %(levelname)s: %(message)s", stream=sys.stderr, force=True)
    # Our own progress and results are INFO; third-party chatter stays at WARNING unless --debug.
    logging.getLogger("pgvg").setLevel(logging.DEBUG if debug else logging.INFO)
    for name in ("pgvg_core", "registries"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)


@click.group(cls=PgvgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pgvg")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for more).")
@click.option(
    "--strict",
    is_flag=True,
    envvar="PGVG_STRICT_PLUGINS",
    help="Make a plugin that fails to load fatal (env PGVG_STRICT_PLUGINS=1).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: int, strict: bool) -> None:
    """pgvg: pose-guided human video generation (PSGAN + SCGAN), composed from plugins.

    \b
    Start here:
      pgvg demo                      train both stages on built-in data, write videos and metrics
      pgvg list                      every registered component
      pgvg run experiments/psgan.toml --set trainer.steps=2000
    Plugins named in PGVG_DISABLE_PLUGINS=a,b are not loaded.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _setup_logging(verbose, debug)
    if strict:
        os.environ["PGVG_STRICT_PLUGINS"] = "1"


def _add_commands() -> None:
    """The commands, one module per area (``cli/training.py``: ``pgvg run``, ...), under ``main``."""
    from pgvg_core.cli import app, components, data, leaderboard, measure, training

    for command in (components.list_command, components.plugins_command, components.show_config_command,
                    training.run_command, training.metrics_command, data.data_group, measure.score_command,
                    app.demo_command, app.animate_command, app.export_command, leaderboard.bench_group,
                    leaderboard.leaderboard_command):
        main.add_command(command)


_add_commands()
