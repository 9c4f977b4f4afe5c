"""Built-in metrics: FID, SSIM, PSNR, LPIPS (original and shift-tolerant), temporal consistency; and the LPIPS perceptual loss."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_metrics(register):
    from pgvg_metrics.fid import FID
    from pgvg_metrics.image import PSNR, SSIM
    from pgvg_metrics.perceptual import LPIPSMetric, ShiftTolerantLPIPSMetric
    from pgvg_metrics.temporal import TemporalConsistency

    register("fid", FID)
    register("ssim", SSIM)
    register("psnr", PSNR)
    register("lpips", LPIPSMetric)
    register("lpips-st", ShiftTolerantLPIPSMetric)
    register("temporal", TemporalConsistency)


@hookimpl
def pgvg_register_losses(register):
    from pgvg_metrics.perceptual import PerceptualLoss

    register("lpips", PerceptualLoss)
