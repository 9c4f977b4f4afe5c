"""Built-in pose sources (``sources.py``: ground truth, keypoint files — OpenPose, COCO, .npz, OpenFace .csv —
and MediaPipe's body; ``faces.py``: MediaPipe's face mesh as 68 face landmarks;
``estimator.py``: the synthetic pose estimator, an evaluator, with its objective and pose source) and the
skeletons their keypoints follow (``skeletons.py``: ``body-18``, ``face-68``)."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_pose_sources(register):
    from pgvg_poses.estimator import SyntheticEstimatorPoses
    from pgvg_poses.faces import MediaPipeFacePoses
    from pgvg_poses.sources import GroundTruthPoses, KeypointsFilePoses, MediaPipePoses

    register("ground-truth", GroundTruthPoses)
    register("keypoints-file", KeypointsFilePoses)
    register("mediapipe", MediaPipePoses)
    register("mediapipe-face", MediaPipeFacePoses)
    register("synthetic-estimator", SyntheticEstimatorPoses)


@hookimpl
def pgvg_register_evaluators(register):
    from pgvg_poses.estimator import PoseEstimatorNet

    register("pose-estimator", PoseEstimatorNet)


@hookimpl
def pgvg_register_objectives(register):
    from pgvg_poses.estimator import PoseEstimatorObjective

    register("pose-estimator", PoseEstimatorObjective,
             summary="Train the synthetic-renders pose estimator behind the pck metric")


@hookimpl
def pgvg_register_skeletons(register):
    from pgvg_poses.skeletons import body_18, face_68

    register("body-18", body_18)
    register("face-68", face_68)
