"""Stage 1, PSGAN: pose + action -> pose sequence (``models.py``, ``objective.py``); and the action classifier
that evaluates pose sequences (``evaluation.py``: the evaluator, its objective, the ``pose-action`` and
``accuracy`` metrics)."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_generators(register):
    from pgvg_psgan.models import PSGANGenerator, PSGANKeypointGenerator

    register("psgan", PSGANGenerator)
    register("psgan-keypoints", PSGANKeypointGenerator)


@hookimpl
def pgvg_register_discriminators(register):
    from pgvg_psgan.models import PSGANDiscriminator, PSGANMotionDiscriminator, PSGANProjectionDiscriminator

    register("psgan-patch3d", PSGANDiscriminator)
    register("psgan-patch3d-projection", PSGANProjectionDiscriminator)
    register("psgan-motion", PSGANMotionDiscriminator)


@hookimpl
def pgvg_register_evaluators(register):
    from pgvg_psgan.evaluation import PoseActionClassifier

    register("pose-action-classifier", PoseActionClassifier)


@hookimpl
def pgvg_register_objectives(register):
    from pgvg_psgan.evaluation import ActionClassifierObjective
    from pgvg_psgan.objective import PSGANObjective

    register("psgan", PSGANObjective, summary="PSGAN (adversarial 3D PatchGAN + heatmap L1, or joint terms)")
    register("action-classifier", ActionClassifierObjective,
             summary="Train the pose-sequence action classifier used by the pose-action metric")


@hookimpl
def pgvg_register_metrics(register):
    from pgvg_psgan.evaluation import ClassificationAccuracy, PoseActionMetric

    register("pose-action", PoseActionMetric)
    register("accuracy", ClassificationAccuracy)
