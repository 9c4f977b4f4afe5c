import pytest
import torch
from pgvg_augment.discriminator import DiscriminatorAugment

from pgvg_core.poses.keypoints import FLIP_PERMUTATION, render_heatmaps


def test_same_params_move_real_fake_and_pose_together():
    augment = DiscriminatorAugment(cutout=0.0, color=False)
    torch.manual_seed(0)
    keypoints = torch.rand(4, 18, 3) * 20 + 6
    keypoints[..., 2] = 1
    pose = render_heatmaps(keypoints, 32, 1.5)  # [4, 18, 32, 32]
    image = pose[:, :3].clone()  # an 'image' made of three joint maps, so both can be compared
    params = augment.sample(image.shape, torch.Generator().manual_seed(1))
    moved_image = augment.apply(image, params)
    moved_pose = augment.apply(pose, params, pose_channels=True)
    for b in range(4):
        # The image's channel c moved exactly as the pose channel it came from.
        source = [FLIP_PERMUTATION[c] for c in range(3)] if params["flip"][b] else [0, 1, 2]
        torch.testing.assert_close(moved_pose[b, source], moved_image[b], atol=1e-5, rtol=0)


def test_gradients_flow_and_probability_zero_is_identity():
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    augment = DiscriminatorAugment()
    augment(x, torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad.abs().sum() > 0
    identity = DiscriminatorAugment(probability=0.0)
    torch.testing.assert_close(identity(x.detach(), torch.Generator().manual_seed(0)), x.detach())


def test_bad_parameters():
    with pytest.raises(ValueError, match="cutout must be in"):
        DiscriminatorAugment(cutout=2.0)
