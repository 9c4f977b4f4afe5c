import math

import pytest
import torch
from tiny import TINY_POSE2IMAGE, TINY_SCGAN, write_config

from pgvg_core.config import ComponentSpec, build, load_config
from pgvg_core.errors import ConfigError
from pgvg_core.training.trainer import Trainer


def train(tmp_path, text, *overrides):
    trainer = Trainer(load_config(write_config(tmp_path, text), overrides), tmp_path / "run", progress=False)
    result = trainer.fit()
    return trainer, result


def test_scgan_trains_every_term_and_evaluates(tmp_path):
    trainer, result = train(tmp_path, TINY_SCGAN)
    row = trainer.history[-1]
    for key in ("d/adversarial", "d/which", "g/adversarial", "g/which", "g/reconstruction", "g/consistency",
                "g/pose"):
        assert key in row and math.isfinite(row[key]), key
    assert -1 < result.metrics["ssim"]["ssim"] < 1 and result.metrics["psnr"]["psnr"] > 0
    assert (tmp_path / "run" / "samples" / "frames-step0000003.png").exists()
    # G2 gets abnormal poses; G1 the true ones.
    batch = trainer.objective.prepare(torch.utils.data.default_collate([trainer.dataset[i] for i in range(2)]),
                                      trainer.device)
    assert not torch.equal(batch["abnormal_pose"], batch["target_pose"])


def test_switching_off_semantic_consistency_is_one_override(tmp_path):
    trainer, _ = train(tmp_path, TINY_SCGAN, "losses.consistency.weight=0", "losses.which.weight=0")
    assert "g/consistency" not in trainer.history[-1] and "d/which" not in trainer.history[-1]


def test_consistency_ties_g2_bottleneck_to_g1_only(tmp_path):
    trainer = Trainer(load_config(write_config(tmp_path, TINY_SCGAN)), tmp_path / "run", progress=False)
    objective, nets = trainer.objective, trainer.nets
    batch = objective.prepare(torch.utils.data.default_collate([trainer.dataset[i] for i in range(2)]), trainer.device)
    fakes = objective.generate(nets, batch)
    terms = objective.generator_terms(nets, batch, fakes)
    nets.zero_grad()
    terms["consistency"].backward()
    g1_grads = [p.grad for p in nets["g1"].parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    g2_grads = [p.grad for p in nets["g2"].parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert not g1_grads and g2_grads


def test_judging_real_and_fake_frames_in_one_call_gives_the_terms_and_gradients_of_one_call_each(tmp_path):
    from pgvg_core.training import randomness

    config = load_config(write_config(tmp_path, TINY_SCGAN), ('augmentations.discriminator.name="diffaugment"',))
    trainer = Trainer(config, tmp_path / "run", progress=False)
    objective, nets = trainer.objective, trainer.nets
    assert "discriminator" in objective.augmentations
    raw = torch.utils.data.default_collate([trainer.dataset[i] for i in range(3)])
    results = {}
    for batched in (True, False):
        for role in ("d1", "d2", "d_which"):
            nets[role].batch_independent = batched
        with randomness.seeded_streams(0, trainer.device):
            batch = objective.prepare(raw, trainer.device)
            fakes = objective.generate(nets, batch)
            terms = {**objective.discriminator_terms(nets, batch, {k: v.detach() for k, v in fakes.items()}),
                     **{f"g/{k}": v for k, v in objective.generator_terms(nets, batch, fakes).items()}}
        nets.zero_grad()
        sum(terms.values()).backward()
        results[batched] = terms, [p.grad.clone() for p in nets["d1"].parameters()]
    (batched_terms, batched_grads), (single_terms, single_grads) = results[True], results[False]
    assert batched_terms.keys() == single_terms.keys() and "adversarial" in batched_terms
    for key in batched_terms:
        assert float(batched_terms[key]) == pytest.approx(float(single_terms[key]), rel=1e-5), key
    for a, b in zip(batched_grads, single_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_pose2image_baseline_trains(tmp_path):
    trainer, result = train(tmp_path, TINY_POSE2IMAGE)
    assert {"d/adversarial", "g/adversarial", "g/reconstruction"} <= set(trainer.history[-1])
    assert -1 < result.metrics["ssim"]["ssim"] < 1


def test_abnormal_evaluation_poses_change_the_frames(tmp_path):
    trainer, _ = train(tmp_path, TINY_SCGAN)
    batch = trainer.objective.prepare(torch.utils.data.default_collate([trainer.dataset[i] for i in range(2)]),
                                      trainer.device)
    clean = trainer.objective.evaluation_pairs(trainer.nets, batch)["fake"]
    abnormal = build("objectives", ComponentSpec(name="scgan", params={"eval_pose": "abnormal"}), terms={},
                     augmentations={}, data=trainer.objective.data)
    corrupted = abnormal.evaluation_pairs(trainer.nets, batch)["fake"]
    assert clean.shape == corrupted.shape == (2, 3, 3, 32, 32)
    assert not torch.allclose(clean, corrupted)


def test_unknown_eval_pose(tmp_path):
    with pytest.raises(ConfigError, match="eval_pose must be"):
        Trainer(load_config(write_config(tmp_path, TINY_SCGAN), ['objective.params.eval_pose="noisy"']),
                tmp_path / "run", progress=False)


def test_refiner_warm_start_learns_poses_once_and_reproducibly(tmp_path):
    def warmed(folder, *overrides):
        folder.mkdir()
        trainer = Trainer(load_config(write_config(folder, TINY_SCGAN), ("objective.params.refiner_warmup=150",
                                                                         *overrides)), folder / "run", progress=False)
        before = {k: v.clone() for k, v in trainer.nets["g2"].pose_refiner.state_dict().items()}
        stats = trainer.objective.warm_start(trainer.nets, trainer.dataset, seed=trainer.config.experiment.seed)
        return trainer, before, stats

    trainer, before, stats = warmed(tmp_path / "a")
    assert stats["refiner_l1_last_50"] < stats["refiner_l1_first_50"]
    after = trainer.nets["g2"].pose_refiner.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # The same seed gives the same refiner, and the warm start touches no global random stream.
    state = torch.get_rng_state()
    again, _, _ = warmed(tmp_path / "b")
    assert torch.equal(torch.get_rng_state(), state)
    for key, value in again.nets["g2"].pose_refiner.state_dict().items():
        torch.testing.assert_close(value, after[key], rtol=0, atol=0)
    # Off: nothing happens.
    _, _, none = warmed(tmp_path / "c", "objective.params.refiner_warmup=0")
    assert none == {}


def test_a_step_reads_the_source_and_one_target_frame_made_alone(tmp_path):
    """SCGAN's step reads 2 frames of a clip: the loader asks the dataset for those alone, frame 0 and a target
    drawn from a stream of (seed, step, position), the same in a resumed run."""
    trainer = Trainer(load_config(write_config(tmp_path, TINY_SCGAN)), tmp_path / "run", progress=False)
    sampler = trainer._sampler()
    requests = sampler.requests(3)
    assert [index for index, _ in requests] == sampler.share(3)
    assert all(frames[0] == 0 and 1 <= frames[1] < trainer.dataset.frames and len(frames) == 2
               for _, frames in requests)
    assert requests == trainer._sampler().requests(3)  # a pure function of the step
    assert len({frames[1] for step in range(8) for _, frames in sampler.requests(step)}) > 2  # targets vary
    raw = next(iter(trainer._loader(sampler)))  # the first step's batch
    assert raw["frames"].shape[1] == 2
    (index, (_, target)), *_ = sampler.requests(0)
    whole = trainer.dataset[index]
    torch.testing.assert_close(raw["frames"][0], whole["frames"][[0, target]], rtol=0, atol=0)
    batch = trainer.objective.prepare(raw, trainer.device)
    torch.testing.assert_close(batch["target_image"][0], whole["frames"][target], rtol=0, atol=0)
