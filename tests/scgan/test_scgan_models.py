import pytest
import torch
from pgvg_patchgan.models import PatchGAN
from pgvg_scgan.models import SCGANGenerator, UNetGenerator


def inputs(batch=2, size=32):
    torch.manual_seed(0)
    return torch.rand(batch, 3, size, size) * 2 - 1, torch.rand(batch, 18, size, size), torch.rand(batch, 18, size, size)


@pytest.mark.parametrize("skips", [True, False])
def test_scgan_generator_shapes_features_and_gradient(skips):
    generator = SCGANGenerator(ngf=4, n_res_blocks=1, skips=skips)
    image, source, target = inputs()
    frame, features = generator(image, source, target, return_features=True)
    assert frame.shape == (2, 3, 32, 32) and -1 <= frame.min() and frame.max() <= 1
    assert features.shape == (2, 32, 2, 2)
    (frame.mean() + features.mean()).backward()
    assert generator.encoder[0][0].weight.grad.abs().sum() > 0
    # The target pose matters.
    assert not torch.allclose(frame, generator(image, source, torch.rand_like(target)))


def test_scgan_decoder_interpolates_instead_of_transposed_convolution():
    generator = SCGANGenerator(ngf=4)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in generator.modules())
    assert any(isinstance(m, torch.nn.Upsample) for m in generator.modules())


def test_unet_baseline_shapes_and_gradient():
    generator = UNetGenerator(ngf=4, num_downs=4)
    image, source, target = inputs()
    frame = generator(image, source, target)
    assert frame.shape == (2, 3, 32, 32)
    frame.mean().backward()
    assert generator.down[0][0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="divisible by 16"):
        generator(*inputs(size=24))


@pytest.mark.parametrize("condition, channels", [("none", 0), ("pose", 18), ("image", 3)])
def test_patchgan_conditions(condition, channels):
    discriminator = PatchGAN(condition=condition, ndf=4, n_layers=3)
    frame = torch.rand(2, 3, 64, 64, requires_grad=True)
    cond = torch.rand(2, channels, 64, 64) if channels else None
    logits = discriminator(frame, cond)
    assert logits.shape == (2, 1, 6, 6)  # 70x70-style patches over a 64x64 frame
    logits.mean().backward()
    assert frame.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="built with condition"):
        discriminator(frame, None if channels else torch.rand(2, 3, 64, 64))


def test_patchgan_rejects_unknown_condition():
    with pytest.raises(ValueError, match="condition must be one of"):
        PatchGAN(condition="label")


def posed_inputs(size=32):
    """A synthetic person's frame and two of its poses as heatmaps (the warp needs real keypoints)."""
    from pgvg_data.synthetic import SyntheticActions

    from pgvg_core.poses.keypoints import render_heatmaps

    clip = SyntheticActions(split="test", clips=1, resolution=size, frames=8, actions=["wave-both"])[0]
    image = clip["frames"][:1]  # [1, 3, H, W]
    source, target = (render_heatmaps(clip["keypoints"][i : i + 1], size) for i in (0, 5))
    return image, source, target


@pytest.mark.parametrize("generator", [SCGANGenerator(ngf=4, n_res_blocks=1), UNetGenerator(ngf=4, num_downs=4)],
                         ids=["scgan", "unet"])
def test_render_detailed_agrees_with_the_network_at_its_own_size(generator):
    image, source, target = posed_inputs()
    generator.eval()
    with torch.no_grad():
        frame = generator(image, source, target)
        same_size = generator.render_detailed(image, source, target, image, keep_still=False)
        detail = torch.nn.functional.interpolate(image, scale_factor=4, mode="bicubic", align_corners=False)
        large = generator.render_detailed(image, source, target, detail.clamp(-1, 1), keep_still=False)
    torch.testing.assert_close(same_size, frame.clamp(-1, 1), atol=1e-5, rtol=0)
    assert large.shape == (1, 3, 128, 128)
    # The large frame, shrunk again, is the same picture.
    shrunk = torch.nn.functional.interpolate(large, size=32, mode="area")
    assert (shrunk - frame).abs().mean() < 0.06


def test_render_detailed_shows_the_photo_itself_where_nothing_moves():
    image, source, _ = posed_inputs()
    generator = SCGANGenerator(ngf=4, n_res_blocks=1).eval()
    with torch.no_grad():
        generator.to_rgb.bias[3] = -20.0  # the blend wants the generated image everywhere
        detail = torch.rand(1, 3, 128, 128) * 2 - 1
        still = generator.render_detailed(image, source, source, detail)  # the target pose is the source pose
        blurred = generator.render_detailed(image, source, source, detail, keep_still=False)
    torch.testing.assert_close(still, detail, atol=1e-4, rtol=0)
    assert (blurred - detail).abs().mean() > 0.3  # without it: the network's 32-pixel picture


def test_render_detailed_keeps_the_photo_detail_through_the_warp():
    """Where the blend keeps the warped source, fine texture of the detail image survives: a checkerboard at
    the detail resolution shows in the output instead of the 32-pixel network's blur."""
    image, source, target = posed_inputs()
    generator = SCGANGenerator(ngf=4, n_res_blocks=1).eval()
    with torch.no_grad():
        generator.to_rgb.bias[3] = 20.0  # keep the warped source everywhere
        checker = ((torch.arange(128)[:, None] + torch.arange(128)[None]) % 2).float() * 2 - 1
        detail = checker.expand(1, 3, 128, 128).contiguous()
        out = generator.render_detailed(image, source, target, detail)
    # Far from the body the warp is the identity: the checkerboard comes through pixel for pixel.
    torch.testing.assert_close(out[0, :, :8, :8], detail[0, :, :8, :8], atol=1e-3, rtol=0)


def test_a_missing_target_joint_is_drawn_with_the_sources_bone_at_inference():
    from pgvg_data.synthetic import SyntheticActions

    from pgvg_core.poses.keypoints import heatmaps_to_keypoints, render_heatmaps

    torch.manual_seed(0)
    generator = SCGANGenerator(ngf=8, n_res_blocks=1, refine_pose=True).eval()
    clip = SyntheticActions(split="test", clips=1, resolution=64, frames=4, render=False)[0]["keypoints"]
    source, target = render_heatmaps(clip[:1], 64), render_heatmaps(clip[2:3], 64)  # [1, K, 64, 64]
    elbow, wrist = 3, 4
    gapped = target.clone()
    gapped[:, [elbow, wrist]] = 0  # the right forearm is missing: the elbow from the shoulder, then the wrist
    filled = generator.with_missing_filled(source, gapped)
    peaks, src, tgt = (heatmaps_to_keypoints(h)[0] for h in (filled, source, target))
    expected_elbow = tgt[2, :2] + src[elbow, :2] - src[2, :2]  # the target's shoulder + the source's upper arm
    assert peaks[elbow, 2] > 0.9 and torch.allclose(peaks[elbow, :2], expected_elbow, atol=0.6)
    assert torch.allclose(peaks[wrist, :2], expected_elbow + src[wrist, :2] - src[elbow, :2], atol=1.0)
    others = [k for k in range(18) if k not in (elbow, wrist)]
    torch.testing.assert_close(filled[:, others], gapped[:, others])  # the joints that were there stay
    assert generator.with_missing_filled(source, target) is target  # nothing missing: nothing drawn
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        eval_frame = generator(image, source, gapped)
        generator.fill_missing = False
        unfilled = generator(image, source, gapped)
        generator.fill_missing = True
        generator.train()
        train_frame = generator(image, source, gapped)  # training sees the pose as given
    assert not torch.allclose(eval_frame, unfilled)
    torch.testing.assert_close(train_frame, unfilled, atol=1e-5, rtol=0)


def test_pose_channels_mix_many_heatmaps_before_the_full_resolution_layers():
    """A face's 68 heatmaps per pose mixed into a few channels: the same outputs' shapes, fewer weights read."""
    from pgvg_patchgan.models import PatchGAN
    from pgvg_scgan.models import SCGANGenerator

    from pgvg_core.poses.skeleton import FACE_68

    torch.manual_seed(0)
    image, poses = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 68, 32, 32)
    plain = SCGANGenerator(keypoints=68, ngf=4, n_res_blocks=1, warp=False, skeleton=FACE_68)
    mixed = SCGANGenerator(keypoints=68, ngf=4, n_res_blocks=1, warp=False, skeleton=FACE_68, pose_channels=8)
    assert mixed(image, poses, poses).shape == plain(image, poses, poses).shape == (2, 3, 32, 32)
    assert mixed.encoder[0][0].in_channels == 3 + 8 and plain.encoder[0][0].in_channels == 3 + 136
    d = PatchGAN(condition="pose", keypoints=68, ndf=4, n_layers=2, pose_channels=4)
    assert d.in_channels == 7 and d(image, poses).shape == PatchGAN(condition="pose", keypoints=68, ndf=4, n_layers=2)(image, poses).shape
    mixed(image, poses, poses).sum().backward()
    assert mixed.pose_mix.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pose_channels must be >= 0"):
        SCGANGenerator(keypoints=68, skeleton=FACE_68, warp=False, pose_channels=-1)
