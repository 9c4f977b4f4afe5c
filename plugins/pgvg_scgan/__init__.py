"""Stage 2, SCGAN: a person's image + a pose sequence -> frames that keep the person's appearance."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_generators(register):
    from pgvg_scgan.models import SCGANGenerator, UNetGenerator

    register("scgan", SCGANGenerator)
    register("pose2image-unet", UNetGenerator)


@hookimpl
def pgvg_register_objectives(register):
    from pgvg_scgan.objective import Pose2ImageObjective, SCGANObjective

    register("scgan", SCGANObjective, summary="SCGAN (G1/G2, D1/D2/D_which, L1, LPIPS, consistency)")
    register("pose2image", Pose2ImageObjective, summary="pose2image baseline (one generator, D1, L1, LPIPS)")
