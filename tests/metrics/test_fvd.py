import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pgvg_metrics.fvd import (
    FVD,
    I3D_STATE_FILE,
    I3D_TORCHSCRIPT_FILE,
    I3D_URLS,
    InceptionI3d,
    resize_clips,
    same_padding,
)

from pgvg_core.config import ComponentSpec, build
from pgvg_core.errors import DataError

SMALL = 32  # test resolution: the full I3D at 224x224 takes seconds per clip on a CPU


@pytest.fixture
def isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PGVG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory):
    """A random-init Kinetics-400 I3D saved as a state dict, as i3d_pretrained_400.pt is."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("i3d") / I3D_STATE_FILE
    torch.save(InceptionI3d().state_dict(), path)
    return path


def clips(seed, count, *, frames=16, size=24, bright=False):
    """Clips ``[count, frames, 3, size, size]`` in [-1, 1]: dim noise, or bright stripes moving over time."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(count, frames, 3, size, size, generator=generator) * 0.4 - 0.8
    if bright:
        for t in range(frames):
            x[:, t, :, :, (t % 4)::4] = 0.9
    return x


def test_layout_is_pytorch_i3d():
    state = InceptionI3d().state_dict()
    for key in ("Conv3d_1a_7x7.conv3d.weight", "Conv3d_2c_3x3.bn.running_var", "Mixed_3b.b1b.conv3d.weight",
                "Mixed_5c.b3b.bn.num_batches_tracked", "logits.conv3d.bias"):
        assert key in state
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert state["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1)
    assert sum(key.endswith("conv3d.weight") for key in state) == 58  # 57 conv + batch-norm units and the logits
    assert same_padding(224, 7, 2) == (2, 3) and same_padding(7, 3, 2) == (1, 1) and same_padding(8, 1, 1) == (0, 0)


def test_fvd_of_a_set_against_itself_is_zero_and_against_another_positive(i3d_file):
    metric = FVD(weights=str(i3d_file), resolution=SMALL)
    metric.update(clips(0, 3), clips(1, 3, bright=True))
    different = metric.compute()["fvd"]
    provenance = metric.provenance()
    real_features = metric.real_features()
    assert real_features.shape == (3, 400) and real_features.dtype == np.float64
    metric.reset()
    metric.set_real_features(real_features)
    metric.fake.append(real_features)
    itself = metric.compute()["fvd"]
    assert different > 0 and abs(itself) < 1e-6 * different
    assert provenance["frames_per_clip"] == 16 and provenance["frame_stride"] == 1
    assert provenance["resolution"] == SMALL and provenance["weights_format"] == "state dict"
    assert provenance["weights_file"] == str(i3d_file) and len(provenance["weights_sha256"]) == 64
    assert provenance["real_clips"] == 3 and provenance["fake_clips"] == 3 and provenance["input_range"] == "[-1, 1]"
    assert "InceptionI3d" in provenance["backbone"] and metric.paired is False


def test_the_network_gets_16_frames_at_224_in_minus_one_to_one(i3d_file):
    """What reaches the I3D by default: [B, 3, 16, 224, 224], resized as the docstring says, range kept."""
    metric = FVD(weights=str(i3d_file))
    seen = []

    class Stop(Exception):
        pass

    def record(module, args):
        seen.append(args[0])
        raise Stop  # the check is on the input; the full forward at 224 is the slow test's

    metric.model.backbone.register_forward_pre_hook(record)
    x = clips(2, 2, frames=20, size=48)
    x[..., :8] = 1.0  # the extremes of the range
    x[..., 8:16] = -1.0
    wide = torch.cat([x, x[..., :16]], dim=-1)  # [2, 20, 3, 48, 64]: not square
    for batch in (x, wide):
        with pytest.raises(Stop):
            metric.update(None, batch)
    square, rectangular = seen
    assert square.shape == rectangular.shape == (2, 3, 16, 224, 224)
    expected = F.interpolate(x[:, :16].flatten(0, 1), size=(224, 224), mode="bilinear", align_corners=False)
    torch.testing.assert_close(square, expected.unflatten(0, (2, 16)).permute(0, 2, 1, 3, 4))
    # shorter side to 224, the other to ceil(64 * 224 / 48) = 299, then the center 224 columns
    resized = F.interpolate(wide[:, :16].flatten(0, 1), size=(224, math.ceil(64 * 224 / 48)), mode="bilinear",
                            align_corners=False)[..., 37 : 37 + 224]
    torch.testing.assert_close(rectangular, resized.unflatten(0, (2, 16)).permute(0, 2, 1, 3, 4))
    assert (square.min().item(), square.max().item()) == pytest.approx((-1.0, 1.0), abs=1e-6)


def test_frames_are_the_first_16_at_the_stride(i3d_file):
    metric = FVD(weights=str(i3d_file), resolution=SMALL, stride=2)
    x = torch.arange(40.0).view(1, 40, 1, 1, 1).expand(2, 40, 3, 8, 8) / 40  # frame t holds t / 40
    assert torch.equal(metric.inputs(x)[0, :, 0, 0, 0] * 40, torch.arange(0.0, 32.0, 2.0))
    assert resize_clips(x[:, :2], SMALL).shape == (2, 2, 3, SMALL, SMALL)
    with pytest.raises(DataError, match=r"at least 31 frames \(16 frames at stride 2\), got clips of 30"):
        metric.inputs(x[:, :30])


def test_short_clips_and_frames_are_refused(i3d_file):
    metric = FVD(weights=str(i3d_file), resolution=SMALL)
    with pytest.raises(DataError, match="FVD needs clips of at least 16 frames .* got clips of 15 frames"):
        metric.update(None, clips(0, 2, frames=15))
    with pytest.raises(DataError, match=r"compares clips \[B, T, 3, H, W\], got a tensor of shape \[2, 3, 24, 24\]"):
        metric.update(None, clips(0, 2)[:, 0])
    metric.fake.append(np.zeros((1, 400)))
    metric.set_real_features(np.zeros((5, 400)))
    with pytest.raises(DataError, match="FVD needs at least 2 real and 2 generated clips, got 5 real and 1"):
        metric.compute()


def test_missing_weights_name_the_files_and_where_to_get_them(isolated_caches):
    with pytest.raises(DataError) as error:
        build("metrics", ComponentSpec(name="fvd"), device="cpu")
    message = str(error.value)
    for name in (I3D_STATE_FILE, I3D_TORCHSCRIPT_FILE, I3D_URLS[I3D_STATE_FILE], I3D_URLS[I3D_TORCHSCRIPT_FILE],
                 str(isolated_caches / "cache" / "fvd")):
        assert name in message
    missing = isolated_caches / "nowhere" / "i3d.pt"
    with pytest.raises(DataError, match=f"FVD weights not found: {missing}; get the Kinetics-400 I3D") as error:
        FVD(weights=str(missing))
    assert I3D_URLS[I3D_STATE_FILE] in str(error.value)


def test_weights_are_found_in_the_cache_folder(isolated_caches, i3d_file):
    folder = isolated_caches / "cache" / "fvd"
    folder.mkdir(parents=True)
    (folder / I3D_STATE_FILE).symlink_to(i3d_file)
    metric = FVD(resolution=SMALL)
    assert metric.weights_info["source"] == "cache" and metric.weights_info["file"] == str(folder / I3D_STATE_FILE)
    assert metric.features_key.startswith("fvd-i3d-v1-16f-stride1-32px-")


def test_files_that_are_not_an_i3d_say_so(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not weights")
    with pytest.raises(DataError, match="not an I3D state dict nor TorchScript"):
        FVD(weights=str(text))
    other = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(DataError, match="not a state dict of pytorch-i3d's InceptionI3d"):
        FVD(weights=str(other))
    partial = tmp_path / "partial.pt"
    torch.save({"logits.conv3d.weight": torch.zeros(400, 1024, 1, 1, 1)}, partial)
    with pytest.raises(DataError, match="does not fit pytorch-i3d's InceptionI3d"):
        FVD(weights=str(partial))


class ScriptedI3D(torch.nn.Module):
    """Stands in for StyleGAN-V's i3d_torchscript.pt: same call, refuses any other flags than FVD's."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("projection", torch.randn(3, 400, generator=torch.Generator().manual_seed(0)))

    def forward(self, x: torch.Tensor, rescale: bool = True, resize: bool = True,
                return_features: bool = False) -> torch.Tensor:
        if rescale or resize or not return_features:
            raise RuntimeError("called with the wrong flags")
        if x.shape[1:] != (3, 16, 224, 224):
            raise RuntimeError("expected [B, 3, 16, 224, 224]")
        return x.mean(dim=(2, 3, 4)) @ self.projection  # [B, 400]


def test_torchscript_i3d_is_called_as_stylegan_v_does(tmp_path):
    path = tmp_path / I3D_TORCHSCRIPT_FILE
    torch.jit.save(torch.jit.script(ScriptedI3D()), str(path))
    metric = FVD(weights=str(path))
    metric.update(clips(0, 3), clips(1, 3, bright=True))
    assert metric.compute()["fvd"] > 0
    assert metric.provenance()["weights_format"] == "torchscript"
    assert "StyleGAN-V TorchScript" in metric.provenance()["backbone"]


@pytest.mark.slow
def test_full_protocol_at_224(i3d_file):
    metric = FVD(weights=str(i3d_file))
    metric.update(clips(0, 2, frames=18, size=64), clips(1, 2, frames=18, size=64, bright=True))
    assert metric.compute()["fvd"] > 0 and metric.provenance()["resolution"] == 224
