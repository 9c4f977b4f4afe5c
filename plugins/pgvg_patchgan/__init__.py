"""PatchGAN discriminator (pix2pix's 70x70 NLayerDiscriminator), conditioned by channel concatenation."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_discriminators(register):
    from pgvg_patchgan.models import PatchGAN

    register("patchgan", PatchGAN)
