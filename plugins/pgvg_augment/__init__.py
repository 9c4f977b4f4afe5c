"""Built-in augmentations: abnormal poses (what SCGAN must withstand) and DiffAugment for discriminators."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_augmentations(register):
    from pgvg_augment.abnormal import AbnormalPose
    from pgvg_augment.discriminator import DiscriminatorAugment

    register("abnormal-pose", AbnormalPose)
    register("diffaugment", DiscriminatorAugment)
