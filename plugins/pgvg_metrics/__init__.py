"""Built-in metrics: FID, KID, FVD, SSIM, PSNR, LPIPS (original and shift-tolerant), temporal consistency, PCK; and the LPIPS perceptual loss."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_metrics(register):
    from pgvg_metrics.fid import FID
    from pgvg_metrics.fvd import FVD
    from pgvg_metrics.image import PSNR, SSIM
    from pgvg_metrics.kid import KID
    from pgvg_metrics.pck import PCK
    from pgvg_metrics.perceptual import LPIPSMetric, ShiftTolerantLPIPSMetric
    from pgvg_metrics.temporal import TemporalConsistency

    register("fid", FID)
    register("kid", KID)
    register("fvd", FVD)
    register("ssim", SSIM)
    register("psnr", PSNR)
    register("lpips", LPIPSMetric)
    register("lpips-st", ShiftTolerantLPIPSMetric)
    register("temporal", TemporalConsistency)
    register("pck", PCK)


@hookimpl
def pgvg_register_losses(register):
    from pgvg_metrics.perceptual import PerceptualLoss

    register("lpips", PerceptualLoss)
