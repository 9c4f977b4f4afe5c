import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from pgvg_core.cli import main

REPO = pathlib.Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def all_commands(group=main, prefix=()):
    import click

    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("command", [(), *all_commands()], ids=lambda c: " ".join(c) or "pgvg")
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_help_is_fast_and_imports_no_torch():
    code = "import sys; from pgvg_core.cli import main; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_list_json_has_the_documented_keys():
    result = invoke("list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert rows and all(set(row) == {"kind", "name", "plugin", "summary"} for row in rows)
    assert {"kind": "losses", "name": "gan-lsgan", "plugin": "losses"}.items() <= next(
        r for r in rows if r["name"] == "gan-lsgan"
    ).items()


def test_list_one_kind_and_unknown_kind():
    result = invoke("list", "losses", "--json")
    assert {row["kind"] for row in json.loads(result.output)} == {"losses"}
    result = invoke("list", "generator")
    assert result.exit_code == 2
    assert "did you mean 'generators'" in result.output


def test_plugins_json():
    rows = json.loads(invoke("plugins", "--json").output)
    keys = {"name", "distribution", "version", "status", "error", "registered"}
    assert all(set(row) == keys for row in rows)
    losses = next(row for row in rows if row["name"] == "losses")
    assert losses["status"] == "ok" and "losses:l1" in losses["registered"]


def test_show_config_error_exits_2_without_traceback(tmp_path):
    file = tmp_path / "bad.toml"
    file.write_text('[data]\nname = "synthetic-actionz"\n')
    result = CliRunner().invoke(main, ["show-config", str(file)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{file}, at 'data.name': no dataset 'synthetic-actionz'" in result.output


def test_show_config_bad_override_exits_2(tmp_path):
    file = tmp_path / "x.toml"
    file.write_text('[data]\nname = "x"\n')
    result = CliRunner().invoke(main, ["show-config", str(file), "--set", "trainer.steps"])
    assert result.exit_code == 2
    assert "bad override 'trainer.steps': write KEY=VALUE" in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = CliRunner().invoke(main, ["--debug", "show-config", str(tmp_path / "missing.toml")])
    assert result.exit_code != 0
    assert result.exception is not None and "config file not found" in str(result.exception)


def _fake_distribution(root: pathlib.Path, name: str, module_source: str) -> None:
    """An installed distribution with a `pgvg` entry point, as pip would lay it out."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    dist_info = root / f"{name}-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist_info / "entry_points.txt").write_text(f"[pgvg]\n{name} = {name}\n")


def run_pgvg(*args: str, extra_path: pathlib.Path | None = None, env: dict | None = None):
    environment = {**os.environ, **(env or {})}
    if extra_path:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), environment.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pgvg_core.cli", *args], capture_output=True, text=True, env=environment
    )


def test_installed_broken_plugin_is_reported_and_others_work(tmp_path):
    _fake_distribution(tmp_path, "brokenplug", "raise ImportError('needs libfoo')\n")
    result = run_pgvg("plugins", "--json", extra_path=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["brokenplug"]["status"] == "failed"
    assert rows["brokenplug"]["distribution"] == "brokenplug" and rows["brokenplug"]["version"] == "1.2.3"
    assert rows["brokenplug"]["error"] == "ImportError: needs libfoo"
    assert rows["losses"]["status"] == "ok"
    assert 'Error importing plugin "brokenplug" from distribution \'brokenplug\'' in result.stderr

    listed = run_pgvg("list", "--json", extra_path=tmp_path)
    assert listed.returncode == 0 and "gan-lsgan" in listed.stdout

    strict = run_pgvg("--strict", "list", extra_path=tmp_path)
    assert strict.returncode == 2
    assert "needs libfoo" in strict.stderr and "Traceback" not in strict.stderr

    disabled = run_pgvg("--strict", "plugins", "--json", extra_path=tmp_path, env={"PGVG_DISABLE_PLUGINS": "brokenplug"})
    assert disabled.returncode == 0
    assert {r["name"]: r["status"] for r in json.loads(disabled.stdout)}["brokenplug"] == "disabled"


def test_example_plugin_installs_with_pip_and_is_listed():
    example = REPO / "examples" / "pgvg-plugin-example"
    pip = [sys.executable, "-m", "pip"]
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "-q", str(example)], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    try:
        result = run_pgvg("list", "losses", "--json")
        assert result.returncode == 0, result.stderr
        rows = {row["name"]: row for row in json.loads(result.stdout)}
        assert rows["charbonnier"]["plugin"] == "example"
        assert rows["charbonnier"]["summary"].startswith("Charbonnier loss")
        plugins = {r["name"]: r for r in json.loads(run_pgvg("plugins", "--json").stdout)}
        assert plugins["example"]["distribution"] == "pgvg-plugin-example"
        assert plugins["example"]["registered"] == ["losses:charbonnier"]
    finally:
        subprocess.run([*pip, "uninstall", "-y", "-q", "pgvg-plugin-example"], capture_output=True)


def test_objectives_are_their_own_kind():
    objectives = {row["name"] for row in json.loads(invoke("list", "objectives", "--json").output)}
    assert {"scgan", "pose2image", "psgan", "action-classifier", "pose-estimator"} <= objectives
    losses = {row["name"] for row in json.loads(invoke("list", "losses", "--json").output)}
    assert objectives.isdisjoint(losses) and "l1" in losses


def test_an_objective_named_as_a_loss_term_is_an_error(tmp_path):
    from pgvg_core.app.pipeline import EXPERIMENTS
    from pgvg_core.config import load_config
    from pgvg_core.errors import ConfigError
    from pgvg_core.plugins import get_registries

    with pytest.raises(ConfigError, match="no loss 'scgan'") as info:
        load_config(EXPERIMENTS / "scgan.toml", ["losses.reconstruction.name=scgan"], registries=get_registries())
    assert info.value.path == "losses.reconstruction.name"
