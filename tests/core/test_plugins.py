import importlib.metadata
import logging

import pytest

from pgvg_core.errors import PluginError
from pgvg_core.plugins import load_plugins


def entry_point(name: str, module: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=module, group="pgvg")


GOOD = entry_point("good", "fake_plugins.good")
BROKEN_IMPORT = entry_point("broken-import", "fake_plugins.broken_import")
BROKEN_HOOK = entry_point("broken-hook", "fake_plugins.broken_hook")
DUPLICATE = entry_point("zz-duplicate", "fake_plugins.duplicate")
MISSPELLED = entry_point("misspelled", "fake_plugins.misspelled")


@pytest.fixture(autouse=True)
def _fake_plugins_importable(monkeypatch):
    import pathlib

    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[1]))


def reports_by_name(loaded):
    return {report.name: report for report in loaded.reports}


def test_good_plugin_registers_with_its_name():
    loaded = load_plugins(entry_points=[GOOD])
    assert loaded.registries["generators"].list() == ["needs-channels", "tiny-gen"]
    assert loaded.registries["generators"].get("tiny-gen").plugin == "good"
    report = reports_by_name(loaded)["good"]
    assert report.status == "ok"
    assert report.registered == ["generators:tiny-gen", "generators:needs-channels", "datasets:tiny-data"]


def test_plugin_broken_at_import_is_reported_not_fatal(caplog):
    with caplog.at_level(logging.WARNING):
        loaded = load_plugins(entry_points=[BROKEN_IMPORT, GOOD])
    report = reports_by_name(loaded)["broken-import"]
    assert report.status == "failed"
    assert "ModuleNotFoundError" in report.error and "this_dependency_does_not_exist" in report.error
    assert 'Error importing plugin "broken-import"' in caplog.text
    assert "tiny-gen" in loaded.registries["generators"]  # the others still load


def test_plugin_broken_in_hook_keeps_nothing_of_it(caplog):
    with caplog.at_level(logging.WARNING):
        loaded = load_plugins(entry_points=[GOOD, BROKEN_HOOK])
    report = reports_by_name(loaded)["broken-hook"]
    assert report.status == "failed"
    assert report.error == "RuntimeError: boom inside the hook"
    assert report.registered == []
    assert "half-registered" not in loaded.registries["generators"]
    assert 'Error in plugin "broken-hook"' in caplog.text
    assert reports_by_name(loaded)["good"].status == "ok"


def test_duplicate_name_from_second_plugin_names_both():
    loaded = load_plugins(entry_points=[GOOD, DUPLICATE])
    report = reports_by_name(loaded)["zz-duplicate"]
    assert report.status == "failed"
    assert "by plugin 'good'" in report.error and "plugin 'zz-duplicate' registers it again" in report.error
    assert loaded.registries["generators"].get("tiny-gen").plugin == "good"


def test_misspelled_hook_is_reported():
    loaded = load_plugins(entry_points=[MISSPELLED])
    report = reports_by_name(loaded)["misspelled"]
    assert report.status == "failed"
    assert "unknown hook 'pgvg_register_generator'" in report.error


@pytest.mark.parametrize("broken", [BROKEN_IMPORT, BROKEN_HOOK, DUPLICATE])
def test_strict_makes_failure_fatal(broken):
    with pytest.raises(PluginError, match=f'plugin "{broken.name}"'):
        load_plugins(entry_points=[GOOD, broken], strict=True)


def test_strict_from_environment(monkeypatch):
    monkeypatch.setenv("PGVG_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="PGVG_DISABLE_PLUGINS=broken-import"):
        load_plugins(entry_points=[BROKEN_IMPORT])


def test_disable_plugins_from_environment(monkeypatch):
    monkeypatch.setenv("PGVG_DISABLE_PLUGINS", "good, broken-import")
    loaded = load_plugins(entry_points=[GOOD, BROKEN_IMPORT], strict=True)
    reports = reports_by_name(loaded)
    assert reports["good"].status == "disabled"
    assert reports["broken-import"].status == "disabled"  # never imported, so strict does not trip
    assert len(loaded.registries["generators"]) == 0


def test_extra_plugins_in_process():
    from fake_plugins import good

    loaded = load_plugins(entry_points=[], extra_plugins=[("inline", good)])
    assert loaded.registries["datasets"].get("tiny-data").plugin == "inline"


def test_builtin_plugins_load_through_entry_points():
    loaded = load_plugins(strict=True)
    reports = reports_by_name(loaded)
    assert reports["losses"].distribution == "pgvg"
    assert "gan-lsgan" in loaded.registries["losses"]
