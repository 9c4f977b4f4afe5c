import random

import numpy as np
import pytest
import torch
from tiny import TINY_PSGAN, write_config

from pgvg_core.config import load_config
from pgvg_core.errors import CheckpointError
from pgvg_core.training import experiment
from pgvg_core.training.run import load_run
from pgvg_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    trainer = Trainer(load_config(write_config(folder, TINY_PSGAN)), folder / "run", progress=False)
    trainer.fit()
    return folder / "run", trainer


def test_load_run_gives_the_trained_networks_in_eval_mode_and_touches_nothing_else(trained, monkeypatch):
    run_dir, trainer = trained
    monkeypatch.setattr(experiment, "build_dataset", lambda *a, **k: pytest.fail("load_run built a dataset"))
    monkeypatch.setattr(torch.optim, "Adam", lambda *a, **k: pytest.fail("load_run built an optimiser"))
    streams = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    run = load_run(run_dir)
    assert random.getstate() == streams[0]
    assert (np.random.get_state()[1] == streams[1]).all() and torch.equal(torch.get_rng_state(), streams[2])
    assert run.step == 4 and run.data == trainer.data and run.run_dir == run_dir
    assert not any(net.training for net in run.nets.values())
    assert run.objective.terms == {} and run.objective.augmentations == {}
    for (name, a), b in zip(trainer.nets.state_dict().items(), run.nets.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_loaded_run_builds_its_dataset_only_when_asked(trained):
    run = load_run(trained[0])
    assert len(run.dataset()) == 40 and tuple(run.dataset().classes) == run.data.classes
    with pytest.raises(Exception, match="no split 'sideways'; its splits: train, test"):
        run.dataset("sideways")


def test_load_run_errors_name_the_folder(tmp_path):
    with pytest.raises(CheckpointError, match="run folder not found"):
        load_run(tmp_path / "missing")


def test_a_run_from_before_evaluators_were_a_kind_still_loads(tmp_path):
    from tiny import TINY_CLASSIFIER

    config = load_config(write_config(tmp_path, TINY_CLASSIFIER), ("trainer.steps=2",))
    Trainer(config, tmp_path / "old", progress=False).fit()
    saved = tmp_path / "old" / "config.toml"
    saved.write_text(saved.read_text().replace("[evaluators.", "[discriminators."))
    run = load_run(tmp_path / "old")
    assert list(run.config.evaluators) == ["classifier"] and not run.config.discriminators
    assert run.nets["classifier"](torch.zeros(2, 8, 18, 3)).shape == (2, 3)


def test_evaluation_helpers_are_their_own_kind():
    from pgvg_core.interfaces import Evaluator
    from pgvg_core.plugins import get_registries

    registries = get_registries()
    assert {"pose-action-classifier", "pose-estimator"} <= set(registries["evaluators"].list())
    assert "pose-action-classifier" not in registries["discriminators"].list()
    assert "pose-estimator" not in registries["generators"].list()
    assert issubclass(registries["evaluators"].get("pose-estimator").factory, Evaluator)
