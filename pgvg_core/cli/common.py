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
