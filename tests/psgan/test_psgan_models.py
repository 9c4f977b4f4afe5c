import pytest
import torch
from pgvg_psgan.models import PSGANDiscriminator, PSGANGenerator


@pytest.mark.parametrize("frames, size", [(4, 32), (8, 32), (16, 64)])
def test_generator_shapes_range_and_gradient(frames, size):
    torch.manual_seed(0)
    generator = PSGANGenerator(keypoints=18, num_classes=5, frames=frames, ngf=4, n_res_blocks=1, noise_dim=3)
    pose = torch.rand(2, 18, size, size)
    out = generator(pose, torch.tensor([0, 4]))
    assert out.shape == (2, 18, frames, size, size)
    assert 0 < out.min() and out.max() < 1
    out.mean().backward()
    first_conv = generator.encoder[0][0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_noise_and_class_change_the_sequence():
    torch.manual_seed(0)
    generator = PSGANGenerator(num_classes=3, frames=4, ngf=4, n_res_blocks=1, noise_dim=4).eval()
    pose = torch.rand(1, 18, 32, 32)
    noise = torch.randn(1, 4)
    a = generator(pose, torch.tensor([0]), noise)
    torch.testing.assert_close(a, generator(pose, torch.tensor([0]), noise))
    assert not torch.allclose(a, generator(pose, torch.tensor([0]), torch.randn(1, 4)))
    assert not torch.allclose(a, generator(pose, torch.tensor([2]), noise))


@pytest.mark.parametrize("frames", [3, 32, 1])
def test_generator_rejects_unsupported_lengths(frames):
    with pytest.raises(ValueError, match="frames must be 2, 4, 8 or 16"):
        PSGANGenerator(frames=frames)


def test_generator_rejects_sizes_not_multiple_of_16():
    with pytest.raises(ValueError, match="multiple of 16"):
        PSGANGenerator(frames=4, ngf=4)(torch.rand(1, 18, 24, 24), torch.tensor([0]))


def test_discriminator_patch_logits_depend_on_class_and_backpropagate():
    torch.manual_seed(0)
    discriminator = PSGANDiscriminator(num_classes=4, ndf=4, n_layers=3)
    sequence = torch.rand(2, 18, 16, 32, 32, requires_grad=True)
    logits = discriminator(sequence, torch.tensor([0, 1]))
    assert logits.shape[:2] == (2, 1) and logits.dim() == 5 and logits[0].numel() > 1  # patches
    assert not torch.allclose(logits, discriminator(sequence, torch.tensor([2, 3])))
    logits.mean().backward()
    assert sequence.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="class-conditioned"):
        discriminator(sequence)
