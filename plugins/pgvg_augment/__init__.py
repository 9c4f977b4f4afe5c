"""Built-in augmentations: abnormal poses (the stage-1 failure mode SCGAN must withstand)."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_augmentations(register):
    from pgvg_augment.abnormal import AbnormalPose

    register("abnormal-pose", AbnormalPose)
