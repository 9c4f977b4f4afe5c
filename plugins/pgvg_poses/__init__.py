"""Built-in pose sources: ground truth, keypoint files (OpenPose, COCO, .npz), and MediaPipe (optional)."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_pose_sources(register):
    from pgvg_poses.sources import GroundTruthPoses, KeypointsFilePoses, MediaPipePoses

    register("ground-truth", GroundTruthPoses)
    register("keypoints-file", KeypointsFilePoses)
    register("mediapipe", MediaPipePoses)
