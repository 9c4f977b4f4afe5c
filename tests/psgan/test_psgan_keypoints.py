"""The keypoint-space generator (psgan-keypoints) and the projection discriminators."""

import pytest
import torch
from pgvg_data.synthetic import SyntheticActions
from pgvg_psgan.models import PSGANKeypointGenerator, PSGANMotionDiscriminator, PSGANProjectionDiscriminator
from pgvg_psgan.objective import sequence_heatmaps

from pgvg_core.poses.keypoints import body_size, heatmaps_to_keypoints


def real_clips(count=4, frames=8, size=32, sigma=0.75):
    """Synthetic pose sequences as heatmaps ``[B, K, T, size, size]`` and their labels."""
    dataset = SyntheticActions(split="test", resolution=size, frames=frames, render=False)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(count)])
    return sequence_heatmaps(batch["keypoints"], size, sigma), batch["label"]


def tiny_generator(**kwargs):
    return PSGANKeypointGenerator(**{"num_classes": 10, "frames": 8, "hidden": 32, "class_dim": 8,
                                     "noise_dim": 4, "temporal_blocks": 2, **kwargs})


def test_shapes_range_first_frame_and_gradient():
    torch.manual_seed(0)
    sequence, label = real_clips()
    generator = tiny_generator()
    out = generator(sequence[:, :, 0], label)
    assert out.shape == sequence.shape  # [B, K, T, H, W]
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out[:, :, 0], sequence[:, :, 0], atol=1e-5, rtol=0)  # the given pose, exactly
    out.mean().backward()
    assert generator.encoder[0].weight.grad.abs().sum() > 0


def test_missing_joints_stay_missing_and_visible_ones_visible():
    torch.manual_seed(0)
    sequence, label = real_clips()
    first = sequence[:, :, 0].clone()
    first[0, 4] = 0  # the first clip's right wrist is missing
    generator = tiny_generator()
    with torch.no_grad():
        generator.head.weight.normal_(0, 0.02)  # visible motion
        keypoints = generator.sequence(first, label)  # [B, T, K, 3]
        out = generator(first, label)
    assert out[0, 4].max() == 0
    assert (keypoints[0, :, 4, 2] == 0).all() and (keypoints[:, :, :4, 2] > 0.99).all()
    assert (keypoints[:, 1:, :, :2] - keypoints[:, :1, :, :2]).abs().amax() > 0.1  # the joints do move


def test_sigma_is_read_from_the_input_pose():
    sequence, label = real_clips(sigma=1.5)
    out = tiny_generator()(sequence[:, :, 0], label)
    torch.testing.assert_close(out[:, :, 0], sequence[:, :, 0], atol=1e-5, rtol=0)
    fixed = tiny_generator(sigma=0.75)(sequence[:, :, 0], label)
    assert fixed[:, :, 0].sum() < 0.5 * sequence[:, :, 0].sum()  # narrower Gaussians
    with pytest.raises(ValueError, match="sigma must be > 0"):
        tiny_generator(sigma=0.0)


def test_class_and_noise_change_the_motion():
    torch.manual_seed(0)
    sequence, _ = real_clips(count=1)
    generator = tiny_generator().eval()
    with torch.no_grad():
        generator.head.weight.normal_(0, 0.02)
    first, noise = sequence[:, :, 0], torch.randn(1, 4)
    a = generator.sequence(first, torch.tensor([0]), noise)
    torch.testing.assert_close(a, generator.sequence(first, torch.tensor([0]), noise))
    assert (a - generator.sequence(first, torch.tensor([3]), noise)).abs().amax() > 0.05
    assert (a - generator.sequence(first, torch.tensor([0]), torch.randn(1, 4))).abs().amax() > 0.05


def test_a_few_steps_reduce_the_keypoint_error():
    torch.manual_seed(0)
    sequence, label = real_clips()
    target = heatmaps_to_keypoints(sequence.transpose(1, 2))[..., :2]  # [B, T, K, 2]
    generator = tiny_generator(noise_dim=0)
    optimizer = torch.optim.Adam(generator.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = (generator.sequence(sequence[:, :, 0], label)[..., :2] - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.parametrize("make", [lambda: PSGANProjectionDiscriminator(num_classes=4, ndf=4, n_layers=2),
                                  lambda: PSGANMotionDiscriminator(num_classes=4, width=16, blocks=2)],
                         ids=["patch3d-projection", "motion"])
def test_projection_discriminators_depend_on_class_and_backpropagate(make):
    torch.manual_seed(0)
    discriminator = make()
    with torch.no_grad():
        discriminator.embed.weight.normal_(0, 1)
    sequence, _ = real_clips(count=2)
    sequence.requires_grad_(True)
    logits = discriminator(sequence, torch.tensor([0, 1]))
    assert logits.shape[:2] == (2, 1)
    assert not torch.allclose(logits, discriminator(sequence, torch.tensor([2, 3])))
    logits.mean().backward()
    assert sequence.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="class-conditioned"):
        discriminator(sequence)


def test_reach_bounds_how_far_a_joint_moves():
    torch.manual_seed(0)
    sequence, label = real_clips()
    generator = tiny_generator(reach=0.25)
    with torch.no_grad():
        generator.head.weight.normal_(0, 1.0)  # wild displacements
        keypoints = generator.sequence(sequence[:, :, 0], label)
    size = body_size(keypoints[:, 0])[:, None, None]  # [B, 1, 1]
    moved = (keypoints[:, 1:, :, :2] - keypoints[:, :1, :, :2]).norm(dim=-1)  # [B, T-1, K]
    assert (moved <= 0.25 * 2**0.5 * size + 1e-4).all() and (moved > 0.1 * size).any()
