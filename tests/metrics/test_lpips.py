import pytest
import torch
from pgvg_metrics.perceptual import BACKBONE_FILES, LPIPSMetric, PerceptualLoss, ShiftTolerantLPIPSMetric
from skimage import data

from pgvg_core.errors import DataError


def astronaut(size: int = 128) -> torch.Tensor:
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return torch.nn.functional.interpolate(image, size=(size, size), mode="bilinear", antialias=True)


def test_shift_tolerant_lpips_orders_distortions():
    image = astronaut()
    torch.manual_seed(0)
    scores = {}
    for name, other in {"same": image, "noise": (image + 0.1 * torch.randn_like(image)).clamp(-1, 1),
                        "flip": image.flip(-1)}.items():
        metric = ShiftTolerantLPIPSMetric()
        metric.update(image, other)
        scores[name] = metric.compute()["lpips"]
    assert scores["same"] == pytest.approx(0.0, abs=1e-6)
    assert 0.05 < scores["noise"] < scores["flip"]
    provenance = metric.provenance()
    assert provenance["variant"] == "shift-tolerant" and len(provenance["weights_sha256"]) == 64


def test_original_lpips_names_the_missing_backbone(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(DataError, match=rf"put {BACKBONE_FILES['alex']} .* at {tmp_path}/hub/checkpoints/"):
        LPIPSMetric(net="alex")


def test_original_lpips_loads_a_backbone_from_the_hub_cache(tmp_path, monkeypatch):
    """The real loading path, on AlexNet weights this test writes (the real ones cannot be downloaded here)."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), folder / BACKBONE_FILES["alex"])
    metric = LPIPSMetric(net="alex")
    image = astronaut(64)
    metric.update(image, image)
    assert metric.compute()["lpips"] == pytest.approx(0.0, abs=1e-6)
    metric.update(image, image.flip(-1))
    assert metric.total > 0
    assert metric.provenance()["backbone"].endswith(BACKBONE_FILES["alex"])


def test_perceptual_loss_gives_gradients_to_the_prediction_only():
    loss = PerceptualLoss().train()
    prediction = (astronaut(32) + 0.1).requires_grad_(True)
    value = loss(prediction, astronaut(32))
    value.backward()
    assert value.item() > 0 and prediction.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())
    assert not loss.model.training
