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
