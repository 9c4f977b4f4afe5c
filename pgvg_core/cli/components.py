"""``pgvg list``, ``pgvg plugins`` and ``pgvg show-config``: what is registered, and a config as pgvg reads it."""

from __future__ import annotations

import json
import logging

import click

from pgvg_core.cli.common import _echo_table, _plugins

log = logging.getLogger("pgvg")


@click.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {kind, name, plugin, summary}.")
def list_command(kind: str | None, as_json: bool) -> None:
    """List every registered component, by KIND (generators, discriminators, losses, ...)."""
    registries = _plugins().registries
    chosen = [registries[kind.replace("-", "_")]] if kind else list(registries)
    entries = [entry for registry in chosen for entry in registry.entries()]
    if as_json:
        payload = [{"kind": e.kind, "name": e.name, "plugin": e.plugin, "summary": e.summary} for e in entries]
        click.echo(json.dumps(payload, indent=2))
        return
    if not entries:
        click.echo("no components registered; see `pgvg plugins` for plugins that failed or are disabled")
        return
    _echo_table(["kind", "name", "plugin", "summary"], [[e.kind, e.name, e.plugin, e.summary] for e in entries])


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plugin reports.")
def plugins_command(as_json: bool) -> None:
    """List every plugin: distribution, version, status, error, and what it registered."""
    reports = _plugins().reports
    if as_json:
        click.echo(json.dumps([report.as_dict() for report in reports], indent=2))
        return
    rows = []
    for r in reports:
        status = {"ok": "[green]ok[/]", "failed": "[red]failed[/]"}.get(r.status, f"[yellow]{r.status}[/]")
        detail = r.error or ", ".join(r.registered) or "-"
        rows.append([r.name, r.distribution or "-", r.version or "-", status, detail])
    _echo_table(["plugin", "distribution", "version", "status", "registered / error"], rows)


@click.command("show-config")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key (TOML value).")
def show_config_command(config_file: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved, validated CONFIG_FILE (with --set overrides applied) as TOML."""
    from pgvg_core.config import config_to_toml, load_config

    config = load_config(config_file, overrides, registries=_plugins().registries)
    click.echo(config_to_toml(config), nl=False)
