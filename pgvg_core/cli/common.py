"""What every command uses: the error for bad input (exit 2), the loaded plugins, tables."""

from __future__ import annotations

from typing import Any

import click


class UserError(click.ClickException):
    """Bad input: a short message, no traceback, exit code 2."""

    exit_code = 2



def _plugins() -> Any:
    from pgvg_core.plugins import get_plugins

    return get_plugins()


def _echo_table(columns: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(soft_wrap=False).print(table)


def launcher_options(function: Any) -> Any:
    """The options a command that submits to a scheduler shares (`pgvg bench`, `pgvg run`)."""
    options = [
        click.option("--partition", default=None, help="Slurm partition."),
        click.option("--account", default=None, help="Slurm account."),
        click.option("--time", "time_min", type=click.IntRange(1), default=24 * 60, show_default=True,
                     help="Each job's time limit in minutes; a job near it checkpoints and is requeued."),
        click.option("--slurm", "slurm_sets", multiple=True, metavar="KEY=VALUE",
                     help="More sbatch settings, e.g. --slurm qos=high --slurm mem=64G --slurm constraint=a100."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def key_values(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    from pgvg_core.errors import PgvgError

    parsed = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise PgvgError(f"{option} {pair!r}: give KEY=VALUE, e.g. {option} qos=high")
        parsed[key.strip().replace("-", "_")] = value.strip()
    return parsed


def only_with_a_launcher(given: dict[str, Any]) -> None:
    """Refuse scheduler options given without ``--launcher`` (they would be ignored)."""
    from pgvg_core.errors import PgvgError

    used = [name for name, value in given.items() if value]
    if used:
        raise PgvgError(f"{', '.join(used)}: only with --launcher local|slurm")
