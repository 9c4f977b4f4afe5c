"""An example pgvg plugin: registers the Charbonnier loss."""

import torch

from pgvg_core import hookimpl
from pgvg_core.interfaces import Loss


class CharbonnierLoss(Loss):
    """Charbonnier loss: mean sqrt((prediction - target)^2 + eps^2), a smooth L1."""

    def __init__(self, *, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((prediction - target) ** 2 + self.eps**2).mean()


@hookimpl
def pgvg_register_losses(register):
    register("charbonnier", CharbonnierLoss)
