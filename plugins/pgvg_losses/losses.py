"""Loss functions. Adversarial losses share one call convention: ``loss(logits, target_is_real)``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pgvg_core.interfaces import Loss


class GANLoss(Loss):
    """Base of adversarial losses. ``forward(logits [B, 1, ...], target_is_real) -> []``, mean over patches.

    The discriminator calls it on real logits with ``True`` and fake logits with ``False``; the generator on
    fake logits with ``True`` (``for_generator=True`` lets hinge use its generator form).
    """

    def forward(self, logits: torch.Tensor, target_is_real: bool, *, for_generator: bool = False) -> torch.Tensor:
        raise NotImplementedError


class LSGANLoss(GANLoss):
    """Least-squares GAN loss (Mao et al. 2017): mean (D(x) - target)^2, targets 1 and 0."""

    def forward(self, logits: torch.Tensor, target_is_real: bool, *, for_generator: bool = False) -> torch.Tensor:
        target = 1.0 if target_is_real else 0.0
        return F.mse_loss(logits.float(), torch.full_like(logits.float(), target))


class BCEGANLoss(GANLoss):
    """The original (non-saturating) GAN loss: binary cross-entropy on logits."""

    def forward(self, logits: torch.Tensor, target_is_real: bool, *, for_generator: bool = False) -> torch.Tensor:
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())


class HingeGANLoss(GANLoss):
    """Hinge loss (Lim & Ye 2017): D gets relu(1 -/+ D(x)), G gets -D(G(z))."""

    def forward(self, logits: torch.Tensor, target_is_real: bool, *, for_generator: bool = False) -> torch.Tensor:
        logits = logits.float()
        if for_generator:
            return -logits.mean()
        return F.relu(1.0 - logits).mean() if target_is_real else F.relu(1.0 + logits).mean()


class L1Loss(Loss):
    """Mean absolute error between prediction and target."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(prediction.float(), target.float())


class MSELoss(Loss):
    """Mean squared error between prediction and target (the usual loss of heatmap pose estimators)."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(prediction.float(), target.float())


class HeatmapL1Loss(Loss):
    """L1 between pose heatmaps that weighs joint pixels up (most of a heatmap is empty background).

    ``forward(prediction [B, K, ...], target [B, K, ...])``: each pixel's error is weighted by
    ``1 + foreground_weight * target``, so a missed joint costs far more than a faint background error.
    """

    def __init__(self, *, foreground_weight: float = 10.0) -> None:
        super().__init__()
        if foreground_weight < 0:
            raise ValueError(f"foreground_weight must be >= 0, got {foreground_weight}")
        self.foreground_weight = foreground_weight

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prediction, target = prediction.float(), target.float()
        weight = 1.0 + self.foreground_weight * target
        return (weight * (prediction - target).abs()).sum() / weight.sum()

    def extra_repr(self) -> str:
        return f"foreground_weight={self.foreground_weight}"


class CrossEntropyLoss(Loss):
    """Cross-entropy between class logits [B, C] and labels [B], with optional label smoothing."""

    def __init__(self, *, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
