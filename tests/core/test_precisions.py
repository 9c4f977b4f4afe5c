"""Every shipped experiment trains in every precision its device offers: fp32 and bf16 (autocast) on a CPU;
fp32, bf16 and fp16 (with its gradient scaler) on CUDA, marked and skipped without a GPU. Two steps of batch 2
each, the experiments' own networks; the loss terms must be finite (a non-finite one stops training)."""

import math

import pytest
import torch

from pgvg_core.app.pipeline import EXPERIMENTS
from pgvg_core.config import load_config
from pgvg_core.training.trainer import Trainer

PIPELINES = {"demo.toml", "demo-face.toml"}  # stage lists, not experiments
EXPERIMENT_FILES = sorted(p.name for p in EXPERIMENTS.glob("*.toml") if p.name not in PIPELINES)
# scgan-person reads one person's videos: here, the built-in data in their place.
DATA = {"scgan-person.toml": ['data.name="synthetic-actions"', "data.params={resolution = 64, frames = 16}"]}


def train_two_steps(tmp_path, experiment: str, precision: str, device: str) -> dict:
    overrides = ["trainer.steps=2", "trainer.batch_size=2", f'trainer.precision="{precision}"',
                 f'trainer.device="{device}"', "trainer.log_every=1", "trainer.sample_every=1000",
                 "trainer.checkpoint_every=1000", "trainer.eval_clips=2", "metrics=[]", *DATA.get(experiment, [])]
    trainer = Trainer(load_config(EXPERIMENTS / experiment, overrides), tmp_path / "run", progress=False)
    trainer.fit()
    return trainer.history[-1]


def test_every_experiment_file_is_covered():
    assert len(EXPERIMENT_FILES) >= 10 and "scgan.toml" in EXPERIMENT_FILES and "psgan.toml" in EXPERIMENT_FILES


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("experiment", EXPERIMENT_FILES)
def test_every_experiment_trains_on_the_cpu(tmp_path, experiment, precision):
    last = train_two_steps(tmp_path, experiment, precision, "cpu")
    terms = {key: value for key, value in last.items() if "/" in key}
    assert terms and all(math.isfinite(value) for value in terms.values()), terms


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("experiment", EXPERIMENT_FILES)
def test_every_experiment_trains_on_cuda(tmp_path, experiment, precision):
    assert torch.cuda.is_available()
    last = train_two_steps(tmp_path, experiment, precision, "cuda")
    assert all(math.isfinite(value) for key, value in last.items() if "/" in key)


@pytest.mark.parametrize("speed, chosen", [(0.2, "fp32"), (2.3, "bf16")])
def test_auto_precision_takes_bf16_where_the_cpu_runs_it_faster(tmp_path, monkeypatch, caplog, speed, chosen):
    from pgvg_core.training import devices

    monkeypatch.setenv("PGVG_CACHE_DIR", str(tmp_path / "cache"))
    measured = []
    monkeypatch.setattr(devices, "bf16_matmul_speed", lambda: measured.append(1) or speed)
    with caplog.at_level("INFO", logger="pgvg"):
        first = Trainer(load_config(EXPERIMENTS / "action-classifier.toml", ['trainer.precision="auto"',
                                                                             'trainer.device="cpu"']),
                        tmp_path / "a", progress=False)
        second = Trainer(load_config(EXPERIMENTS / "action-classifier.toml", ['trainer.precision="auto"',
                                                                              'trainer.device="cpu"']),
                         tmp_path / "b", progress=False)
    assert first.precision == second.precision == chosen
    assert len(measured) == 1  # measured once, then read from the cache
    assert f"trainer.precision = 'auto': {chosen} (bf16 matrix multiplies run at {speed:.2f}x" in caplog.text
