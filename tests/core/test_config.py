import importlib.metadata
import pathlib
import textwrap

import pytest

from pgvg_core.config import ComponentSpec, build, check_params, config_to_toml, load_config, parse_override
from pgvg_core.errors import ConfigError
from pgvg_core.plugins import load_plugins


@pytest.fixture
def registries(monkeypatch):
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[1]))
    ep = importlib.metadata.EntryPoint(name="good", value="fake_plugins.good", group="pgvg")
    return load_plugins(entry_points=[ep], strict=True).registries


def write(tmp_path, text: str) -> pathlib.Path:
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(text))
    return path


VALID = """
[experiment]
name = "t"
seed = 3

[data]
name = "tiny-data"

[trainer]
steps = 10

[generators.g1]
name = "tiny-gen"
params = { ngf = 16, dropout = 1 }
lr = 1e-4
"""


def test_valid_config_round_trips(tmp_path, registries):
    config = load_config(write(tmp_path, VALID), registries=registries)
    assert config.experiment.seed == 3
    assert config.trainer.steps == 10 and config.trainer.batch_size == 8
    g1 = config.generators["g1"]
    assert g1.lr == 1e-4 and g1.betas == (0.5, 0.999)
    assert config.source.endswith("exp.toml")
    # The resolved config is TOML that loads back to the same object.
    again = write(tmp_path, config_to_toml(config))
    assert load_config(again, registries=registries).generators == config.generators


@pytest.mark.parametrize(
    "override, path, message",
    [
        ("generators.g1.params.ngff=3", "generators.g1.params.ngff", "did you mean 'ngf'?"),
        ("generators.g1.params.ngf=\"big\"", "generators.g1.params.ngf", "expected int, got str 'big'"),
        ("generators.g1.name=\"tiny-genn\"", "generators.g1.name", "did you mean 'tiny-gen'?"),
        ("trainer.stepz=3", "trainer.stepz", "did you mean 'steps'?"),
        ("trainer.steps=1.5", "trainer.steps", "expected int"),
        ("trainer.precision=fp8", "trainer.precision", "precision must be one of fp32, bf16, fp16"),
        ("trainer.steps=0", "trainer.steps", "steps must be > 0"),
        ("generators.g1.betas=[0.5]", "generators.g1.betas", "expected tuple"),
        ("data=3", "data", "expected a table"),
    ],
)
def test_errors_name_file_and_toml_path(tmp_path, registries, override, path, message):
    file = write(tmp_path, VALID)
    with pytest.raises(ConfigError) as info:
        load_config(file, [override], registries=registries)
    assert info.value.file == str(file)
    assert info.value.path == path
    assert message in str(info.value)
    assert str(file) in str(info.value) and f"'{path}'" in str(info.value)


def test_missing_required_section(tmp_path, registries):
    with pytest.raises(ConfigError, match="missing required key 'data'") as info:
        load_config(write(tmp_path, "[trainer]\nsteps = 3\n"), registries=registries)
    assert info.value.path == "data"


def test_invalid_toml_names_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"exp\.toml.*invalid TOML.*line 2"):
        load_config(write(tmp_path, "[data]\nname = \n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="config file not found: nope.toml"):
        load_config("nope.toml")


@pytest.mark.parametrize(
    "text, keys, value",
    [
        ("trainer.steps=2000", ["trainer", "steps"], 2000),
        ("trainer.device=cpu", ["trainer", "device"], "cpu"),
        ('trainer.device="cuda"', ["trainer", "device"], "cuda"),
        ("a.lr=1e-4", ["a", "lr"], 1e-4),
        ("a.flag=true", ["a", "flag"], True),
        ("a.list=[1, 2]", ["a", "list"], [1, 2]),
        ("a.table={ngf = 32}", ["a", "table"], {"ngf": 32}),
        (" a.b = 3 ", ["a", "b"], 3),
    ],
)
def test_parse_override(text, keys, value):
    assert parse_override(text) == (keys, value)


@pytest.mark.parametrize("text", ["no-equals", "=3", "a..b=3", "a.b=[1,", "a.b=1x"])
def test_bad_overrides(text):
    with pytest.raises(ConfigError, match="bad override"):
        parse_override(text)


def test_override_creates_tables_and_refuses_to_descend_into_values(tmp_path, registries):
    file = write(tmp_path, VALID)
    config = load_config(file, ["generators.g2.name=tiny-gen"], registries=registries)
    assert config.generators["g2"].name == "tiny-gen"
    with pytest.raises(ConfigError, match="'trainer.steps' is 10, not a table"):
        load_config(file, ["trainer.steps.x=1"], registries=registries)


def test_build_coerces_and_passes_provided_args(registries):
    result = build("generators", ComponentSpec(name="tiny-gen", params={"dropout": 1, "sizes": [3, 4]}),
                   registries=registries, unused_context=5)
    assert result == {"ngf": 8, "dropout": 1.0, "name": "tiny", "sizes": (3, 4)}
    assert isinstance(result["dropout"], float)
    assert build("generators", ComponentSpec(name="needs-channels"), registries=registries, channels=3) == {
        "channels": 3,
        "ngf": 8,
    }


def test_build_reports_missing_and_pgvg_supplied_params(registries):
    with pytest.raises(ConfigError, match="missing required parameter 'channels'") as info:
        build("generators", ComponentSpec(name="needs-channels"), registries=registries, path="generators.g1")
    assert info.value.path == "generators.g1.params.channels"
    with pytest.raises(ConfigError, match="'channels' is set by pgvg itself"):
        build("generators", ComponentSpec(name="needs-channels", params={"channels": 4}), registries=registries,
              channels=3)


def test_check_params_on_component_without_params():
    def factory():
        """No parameters."""

    with pytest.raises(ConfigError, match="takes no parameters"):
        check_params(factory, {"x": 1}, file=None, path="p")


def _registries_with(name: str, factory) -> "RegistrySet":
    from registries import RegistrySet

    registries = RegistrySet()
    registries["generators"].register(name, factory, plugin="test")
    return registries


def test_a_parameter_named_almost_like_pgvgs_context_is_an_error():
    from pgvg_core.config import ComponentSpec, build

    def misspelled(*, num_class: int = 3, ngf: int = 8):
        return num_class

    with pytest.raises(ConfigError, match="'num_class', which looks like 'num_classes'") as info:
        build("generators", ComponentSpec(name="g"), registries=_registries_with("g", misspelled), path="generators.g",
              num_classes=10, keypoints=18)
    assert info.value.path == "generators.g"

    def fine(*, num_classes: int = 3):
        return num_classes

    assert build("generators", ComponentSpec(name="g"), registries=_registries_with("g", fine), num_classes=10) == 10


def test_a_components_value_check_is_a_config_error_and_a_bug_is_not():
    from pgvg_core.config import ComponentSpec, build

    def checks(*, width: int = 8):
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        return width

    with pytest.raises(ConfigError, match="width must be >= 1") as info:
        build("generators", ComponentSpec(name="g", params={"width": 0}), registries=_registries_with("g", checks),
              path="generators.g1")
    assert info.value.path == "generators.g1.params"

    def broken(*, width: int = 8):
        return None + width  # a bug inside a constructor

    with pytest.raises(TypeError):  # surfaces as itself, not as "check your config" with exit code 2
        build("generators", ComponentSpec(name="g"), registries=_registries_with("g", broken), path="generators.g1")
