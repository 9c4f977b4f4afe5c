import pytest

from registries import KINDS, DuplicateNameError, InvalidNameError, Registry, RegistrySet, UnknownNameError


def make_registry() -> Registry:
    registry = Registry("generators")
    registry.register("scgan", dict, summary="SCGAN", plugin="scgan")
    registry.register("psgan", list, plugin="psgan")
    registry.register("pose2image-unet", set, plugin="scgan")
    return registry


def test_get_returns_entry_with_plugin_and_summary():
    entry = make_registry().get("scgan")
    assert entry.factory is dict
    assert entry.plugin == "scgan"
    assert entry.summary == "SCGAN"
    assert entry.kind == "generators"


def test_summary_defaults_to_first_docstring_line():
    registry = Registry("losses")

    def factory():
        """First line.

        More text."""

    registry.register("my-loss", factory, plugin="p")
    assert registry.get("my-loss").summary == "First line."


def test_unknown_name_suggests_close_match_and_lists_available():
    with pytest.raises(UnknownNameError) as info:
        make_registry().get("scgann")
    message = str(info.value)
    assert message.startswith("no generator 'scgann'; did you mean 'scgan'?")
    assert "available: pose2image-unet, psgan, scgan" in message


def test_unknown_name_in_empty_registry_points_to_plugins():
    with pytest.raises(UnknownNameError, match="pgvg plugins"):
        Registry("metrics").get("fid")


def test_duplicate_names_both_plugins():
    registry = make_registry()
    with pytest.raises(DuplicateNameError) as info:
        registry.register("scgan", tuple, plugin="third-party")
    message = str(info.value)
    assert "'scgan' is already registered in generators by plugin 'scgan'" in message
    assert "plugin 'third-party' registers it again" in message
    assert registry.get("scgan").factory is dict  # the first registration is kept


@pytest.mark.parametrize("bad", ["SCGAN", "my_gen", "-gen", "gen-", "two  words", "", 3])
def test_names_must_be_lowercase_kebab(bad):
    with pytest.raises(InvalidNameError):
        Registry("generators").register(bad, dict, plugin="p")


def test_glob_listing():
    registry = make_registry()
    assert registry.list() == ["pose2image-unet", "psgan", "scgan"]
    assert registry.list("p*") == ["pose2image-unet", "psgan"]
    assert registry.list("*gan") == ["psgan", "scgan"]
    assert registry.list("nothing*") == []


def test_unregister_plugin_drops_only_its_entries():
    registry = make_registry()
    registry.unregister_plugin("scgan")
    assert registry.list() == ["psgan"]


def test_registry_set_has_every_kind_and_suggests_kind():
    registries = RegistrySet()
    assert [r.kind for r in registries] == list(KINDS)
    with pytest.raises(UnknownNameError, match="did you mean 'generators'"):
        registries["generator"]


def test_registries_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, registries; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
