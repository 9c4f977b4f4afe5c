import pytest
import torch
from torch import nn

from pgvg_core.blocks import InstanceNorm2d, InstanceNorm3d, in_weight_layout

CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("layout", ["default", "channels_last"])
@pytest.mark.parametrize("norms", [(InstanceNorm2d, nn.InstanceNorm2d, (3, 6, 9, 7)),
                                   (InstanceNorm3d, nn.InstanceNorm3d, (2, 6, 4, 5, 7))], ids=["2d", "3d"])
def test_instance_norm_as_group_norm_equals_torch_and_keeps_the_layout(affine, layout, norms):
    """The same outputs and gradients as torch's instance norm, and a channels-last input stays channels
    last (torch's returns the default layout, and every layer after it converted back)."""
    ours_type, torch_type, shape = norms
    torch.manual_seed(0)
    ours, theirs = ours_type(6, affine=affine), torch_type(6, affine=affine)
    if affine:
        with torch.no_grad():
            ours.weight.normal_(1.0, 0.3), ours.bias.normal_(0.0, 0.3)
        theirs.load_state_dict(ours.state_dict())
    x = torch.randn(shape) * 4 + 2
    memory_format = CHANNELS_LAST[len(shape)]
    if layout == "channels_last":
        x = x.contiguous(memory_format=memory_format)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = ours(a)
    torch.testing.assert_close(out, theirs(b), rtol=1e-5, atol=1e-5)
    assert out.is_contiguous(memory_format=memory_format) == (layout == "channels_last")
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (theirs(b) * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-4)
    if affine:
        torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-4, atol=1e-4)
    # An unbatched input ([C, H, W] / [C, T, H, W]) goes to torch's own
    torch.testing.assert_close(ours(x[0].contiguous()), theirs(x[0].contiguous()), rtol=1e-5, atol=1e-5)


def test_inputs_take_the_layout_of_the_first_convolution_of_their_rank():
    net = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(3, 8, 3), nn.Conv3d(8, 8, 3))
    image, clip = torch.randn(2, 3, 8, 8), torch.randn(2, 8, 4, 8, 8)
    assert in_weight_layout(image, net) is image and in_weight_layout(clip, net) is clip  # default layout
    net[1].to(memory_format=torch.channels_last)
    assert in_weight_layout(image, net).is_contiguous(memory_format=torch.channels_last)
    assert in_weight_layout(clip, net) is clip  # the 3-D convolution is still in the default layout
    net[2].to(memory_format=torch.channels_last_3d)
    converted = in_weight_layout(clip, net)
    assert converted.is_contiguous(memory_format=torch.channels_last_3d) and torch.equal(converted, clip)
    assert in_weight_layout(torch.randn(2, 4), net).shape == (2, 4)  # no convolution of that rank
