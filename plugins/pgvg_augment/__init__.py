"""Built-in augmentations: abnormal poses and face landmarks (what SCGAN must withstand), postures (the same motion from
another posture, for stage 1 and its judge) and DiffAugment for discriminators."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_augmentations(register):
    from pgvg_augment.abnormal import AbnormalFace, AbnormalPose
    from pgvg_augment.discriminator import DiscriminatorAugment
    from pgvg_augment.posture import Posture

    register("abnormal-pose", AbnormalPose)
    register("abnormal-face", AbnormalFace)
    register("diffaugment", DiscriminatorAugment)
    register("posture", Posture)
