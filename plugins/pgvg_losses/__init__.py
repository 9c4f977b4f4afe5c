"""Built-in losses: adversarial (LSGAN, hinge, BCE) and reconstruction (L1, heatmap L1)."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_losses(register):
    from pgvg_losses.losses import BCEGANLoss, CrossEntropyLoss, HeatmapL1Loss, HingeGANLoss, L1Loss, LSGANLoss, MSELoss

    register("gan-lsgan", LSGANLoss)
    register("gan-hinge", HingeGANLoss)
    register("gan-bce", BCEGANLoss)
    register("l1", L1Loss)
    register("mse", MSELoss)
    register("heatmap-l1", HeatmapL1Loss)
    register("cross-entropy", CrossEntropyLoss)
