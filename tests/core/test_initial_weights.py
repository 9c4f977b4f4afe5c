"""A network can start from trained weights: a run folder's, a bundle's, or the shipped model's."""

import pytest
import torch
from tiny import TINY_SCGAN, write_config

from pgvg_core.app.bundle import SHIPPED, model_path, read_bundle
from pgvg_core.config import load_config
from pgvg_core.errors import ConfigError, PgvgError
from pgvg_core.training.experiment import initial_weights
from pgvg_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("init")
    config = load_config(write_config(folder, TINY_SCGAN), ["trainer.steps=2", "trainer.checkpoint_every=2"])
    trainer = Trainer(config, folder / "run", progress=False)
    trainer.fit()
    return folder, trainer


def test_a_network_starts_from_a_run_folders_weights(trained, tmp_path):
    folder, source = trained
    config = load_config(write_config(tmp_path, TINY_SCGAN),
                         [f'generators.g1.init="{folder / "run"}:g2"', f'generators.g2.init="{folder / "run"}"',
                          "trainer.steps=1"])
    trainer = Trainer(config, tmp_path / "run", progress=False)
    for role in ("g2",):
        for key, value in source.nets[role].state_dict().items():
            torch.testing.assert_close(trainer.nets[role].state_dict()[key], value)
    # G1 has no pose refiner: it takes G2's weights without it.
    g1 = trainer.nets["g1"].state_dict()
    torch.testing.assert_close(g1["to_rgb.weight"], source.nets["g2"].state_dict()["to_rgb.weight"])
    assert not any(key.startswith("pose_refiner") for key in g1)


def test_the_shipped_bundle_is_named_by_its_name():
    assert model_path("body") == SHIPPED == model_path("shipped")
    state = initial_weights("shipped", "g2")
    assert set(state) == set(read_bundle(SHIPPED)["stages"]["scgan"]["state"])
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize("init, message", [
    ("nowhere/at/all", "no weights at 'nowhere/at/all'"),
    ("shipped:stage3", "a bundle's stages are psgan, scgan"),
])
def test_bad_initial_weights_say_where(tmp_path, init, message):
    config = load_config(write_config(tmp_path, TINY_SCGAN), [f'generators.g2.init="{init}"'])
    with pytest.raises(ConfigError, match=message) as info:
        Trainer(config, tmp_path / "run", progress=False)
    assert info.value.path == "generators.g2.init"


def test_weights_of_another_network_are_refused(trained, tmp_path):
    folder, _ = trained
    config = load_config(write_config(tmp_path, TINY_SCGAN), [f'generators.g2.init="{folder / "run"}:d1"'])
    with pytest.raises(ConfigError, match="another network's"):
        Trainer(config, tmp_path / "run", progress=False)


def test_a_missing_shipped_face_model_says_so(monkeypatch, tmp_path):
    import pgvg_core.app.bundle as bundle

    monkeypatch.setitem(bundle.SHIPPED_MODELS, "face", tmp_path / "absent.pt")
    with pytest.raises(PgvgError, match="the shipped face model is missing"):
        model_path("face")
