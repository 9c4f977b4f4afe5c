"""A made-up 5-keypoint skeleton through every generic path: nothing may assume body-18's 18 keypoints."""

import numpy as np
import pytest
import torch
from fake_plugins.five_points import FIVE

from pgvg_core.config import ComponentSpec, build
from pgvg_core.errors import ConfigError
from pgvg_core.poses.keypoints import draw_skeleton, heatmaps_to_keypoints, render_heatmaps

TINY = FIVE  # five points: a head and two arms (tests/fake_plugins/five_points.py)
# x, y, confidence in a 32 x 32 frame
POSE = torch.tensor([[16.0, 6.0, 1.0], [10.0, 14.0, 1.0], [8.0, 22.0, 1.0], [22.0, 14.0, 1.0], [24.0, 22.0, 1.0]])


def test_heatmaps_have_one_channel_per_keypoint_and_read_back():
    maps = render_heatmaps(POSE[None], 32, sigma=1.5)
    assert maps.shape == (1, 5, 32, 32)
    torch.testing.assert_close(heatmaps_to_keypoints(maps)[0], POSE, atol=1e-3, rtol=0)


def test_drawing_uses_the_skeletons_limbs_and_colours():
    image = draw_skeleton(np.zeros((32, 32, 3), np.uint8), POSE.numpy(), thickness=1, skeleton=TINY)
    assert tuple(image[22, 8]) == (0, 0, 255)     # the left hand, in its limb's (index 2) colour
    assert tuple(image[18, 9]) == (0, 255, 0)     # the middle of the left forearm, limb 1
    assert tuple(image[18, 23]) == (255, 255, 0)  # the right forearm, limb 3
    assert tuple(image[28, 16]) == (0, 0, 0)      # no limb joins the hands
    with pytest.raises(ValueError, match=r"do not follow skeleton 'body-18': expected \[18, 3\]"):
        draw_skeleton(np.zeros((32, 32, 3), np.uint8), POSE.numpy())


def test_pck_counts_joints_of_any_skeleton():
    from pgvg_metrics.pck import PCK

    metric = PCK(alpha=0.1)
    found = POSE.clone()
    found[1, :2] += 5.0   # 5 px off: the body is sqrt(16^2 + 16^2) = 22.6 px, so beyond 2.26 px
    found[2, 2] = 0.0     # not found
    found[3, :2] += 1.0   # within
    metric.update(POSE[None, None], found[None, None], is_keypoints=True)
    assert metric.compute()["pck"] == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="the poses found have 18 keypoints, the targets 5"):
        metric.update(POSE[None], torch.zeros(1, 18, 3), is_keypoints=True)


def test_abnormal_pose_swaps_left_and_right_of_the_skeleton():
    from pgvg_augment.abnormal import AbnormalPose

    augment = AbnormalPose(severity=1.0, sigma=False, scale=False, shift=False, displace=False, drop=False,
                           jitter=False, skeleton=TINY)
    keypoints = POSE[None, None].expand(2, 3, 5, 3).clone()  # [B, T, K, 3]
    params = augment.sample(keypoints.shape, torch.Generator().manual_seed(0))
    params["swap"] = torch.tensor([True, False])
    out = augment.apply(keypoints, params)
    assert out.shape == (2, 3, 5, 4)
    torch.testing.assert_close(out[0, :, :, :3], keypoints[0][:, [0, 3, 4, 1, 2]])
    torch.testing.assert_close(out[1, :, :, :3], keypoints[1])
    with pytest.raises(ValueError, match="have 18 joints, skeleton 'five-points' 5"):
        augment.apply(torch.zeros(1, 2, 18, 3), augment.sample(torch.Size([1, 2, 18, 3])))


def test_abnormal_pose_is_built_with_the_skeleton_as_context():
    augment = build("augmentations", ComponentSpec(name="abnormal-pose", params={"severity": 0.2}), skeleton=TINY)
    assert augment.skeleton is TINY


def test_discriminator_flip_swaps_the_skeletons_pose_channels():
    from pgvg_augment.discriminator import DiscriminatorAugment

    augment = DiscriminatorAugment(translation=0.0, cutout=0.0, color=False, skeleton=TINY)
    maps = render_heatmaps(POSE[None], 32)
    params = augment.sample(maps.shape)
    params["apply"], params["flip"] = torch.tensor([True]), torch.tensor([True])
    flipped = augment.apply(maps, params, pose_channels=True)
    found = heatmaps_to_keypoints(flipped)[0]
    # mirrored (x -> 31 - x) and relabelled: the right elbow's channel holds the mirrored left elbow
    assert found[3, :2].tolist() == pytest.approx([31 - 10.0, 14.0], abs=1e-3)
    assert found[0, :2].tolist() == pytest.approx([31 - 16.0, 6.0], abs=1e-3)


def test_posture_refuses_a_skeleton_without_arms_and_legs():
    from pgvg_augment.posture import Posture

    with pytest.raises(ValueError, match="skeleton 'five-points' has no left_ankle, left_hip"):
        Posture(skeleton=TINY)


def test_scgan_generator_with_five_keypoints_warps_and_learns():
    generator = build("generators", ComponentSpec(name="scgan", params={"ngf": 4, "n_res_blocks": 1,
                                                                         "refine_pose": True}),
                      keypoints=5, skeleton=TINY, num_classes=3, frames=4, resolution=32)
    assert generator.skeleton is TINY
    torch.manual_seed(0)
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    source = render_heatmaps(POSE[None].expand(2, 5, 3), 32)
    target = render_heatmaps((POSE + torch.tensor([2.0, 1.0, 0.0]))[None].expand(2, 5, 3), 32)
    frame = generator(image, source, target)
    assert frame.shape == (2, 3, 32, 32) and frame.abs().max() <= 1
    frame.mean().backward()
    assert generator.encoder[0][0].weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="limbs of skeleton 'body-18' \\(18 keypoints\\), got keypoints=5"):
        build("generators", ComponentSpec(name="scgan", params={"ngf": 4}), keypoints=5)


def test_scgan_fills_a_missing_joint_along_the_skeletons_parent():
    from pgvg_scgan.models import SCGANGenerator

    generator = SCGANGenerator(keypoints=5, skeleton=TINY, ngf=4, n_res_blocks=1, refine_pose=True).eval()
    target = POSE + torch.tensor([2.0, 1.0, 0.0])
    target[2, 2] = 0.0  # the left hand is missing
    filled = generator.with_missing_filled(render_heatmaps(POSE[None], 32), render_heatmaps(target[None], 32))
    found = heatmaps_to_keypoints(filled)[0]
    # its parent (the left elbow) moved to (12, 15); the source's elbow-to-hand bone (-2, 8) carried from there
    assert found[2].tolist() == pytest.approx([10.0, 23.0, 1.0], abs=0.02)
    torch.testing.assert_close(found[[0, 1, 3, 4]], heatmaps_to_keypoints(render_heatmaps(target[None], 32))[0, [0, 1, 3, 4]])


def test_psgan_generator_with_five_keypoints():
    generator = build("generators", ComponentSpec(name="psgan", params={"ngf": 4, "n_res_blocks": 1}),
                      keypoints=5, skeleton=TINY, num_classes=3, frames=4, resolution=32)
    sequence = generator(render_heatmaps(POSE[None].expand(2, 5, 3), 32), torch.tensor([0, 2]))
    assert sequence.shape == (2, 5, 4, 32, 32)
    sequence.mean().backward()
    assert generator.head.weight.grad.abs().sum() > 0


def test_scgan_objective_draws_and_corrupts_by_the_datas_skeleton():
    from pgvg_core.objective import DataInfo

    data = DataInfo(num_classes=2, classes=("a", "b"), skeleton=TINY, frames=4, resolution=32)
    objective = build("objectives", ComponentSpec(name="scgan", params={"eval_pose": "abnormal"}), terms={},
                      augmentations={}, data=data)
    assert objective.eval_poses.augmentation.skeleton is TINY
    drawn = objective._skeleton(POSE[None])  # [T, H, W, 3]
    assert drawn.shape == (1, 32, 32, 3) and tuple(drawn[0, 22, 8]) != (0, 0, 0)


@pytest.mark.parametrize("stage", ["psgan", "scgan"])
def test_a_plugins_skeleton_and_data_train_both_stages_with_no_change_in_the_core(tmp_path, stage):
    """tests/fake_plugins/five_points.py: a 5-keypoint skeleton and a dataset of it, by name, through
    Experiment, the loop, evaluation, samples, checkpoints and load_run."""
    from fake_plugins import five_points
    from tiny import TINY_PSGAN, TINY_SCGAN, write_config

    from pgvg_core.config import load_config
    from pgvg_core.plugins import load_plugins, set_plugins
    from pgvg_core.training.run import load_run
    from pgvg_core.training.trainer import Trainer

    set_plugins(load_plugins(extra_plugins=[("five", five_points)]))
    text = {"psgan": TINY_PSGAN, "scgan": TINY_SCGAN}[stage]
    config = load_config(write_config(tmp_path, text), ('data.name="waving-arms"', "data.params={clips = 8}",
                                                        "trainer.steps=2", "trainer.checkpoint_every=2",
                                                        "trainer.sample_every=2"))
    result = Trainer(config, tmp_path / "run", progress=False).fit()
    run = load_run(tmp_path / "run")
    assert run.data.skeleton is five_points.FIVE or run.data.skeleton == five_points.FIVE
    assert run.data.keypoints == 5 and run.data.classes == ("up", "down")
    assert (tmp_path / "run" / "samples").is_dir()
    first = run.dataset("test")[0]["keypoints"][:1]  # [1, 5, 3]
    if stage == "psgan":
        with torch.no_grad():
            sequence = run.objective.generate_keypoints(run.nets, first, torch.tensor([0]))
        assert sequence.shape == (1, 4, 5, 3) and torch.equal(sequence[0, 0], first[0])
    else:
        assert 0 < result.metrics["ssim"]["ssim"] <= 1
        image = run.dataset("test")[0]["frames"][:1]
        with torch.no_grad():
            frames = run.objective.render_clip(run.nets["g2"], image, first, first[:, None].repeat(1, 3, 1, 1))
        assert frames.shape == (1, 3, 3, 32, 32) and torch.isfinite(frames).all()
