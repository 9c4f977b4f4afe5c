import importlib.util

import numpy as np
import pytest

from pgvg_core.poses.keypoints import KEYPOINT_INDEX

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None,
    reason="mediapipe is an optional extra (see README: pip install --no-deps mediapipe==0.10.21 ...)",
)

# Marked by hand on skimage.data.astronaut() (512 x 512), in pixels.
HAND_MARKED = {"nose": (226, 127), "right_shoulder": (112, 238), "right_elbow": (66, 412)}


def test_mediapipe_finds_the_astronauts_pose():
    skimage = pytest.importorskip("skimage")
    from pgvg_poses.sources import MediaPipePoses

    image = skimage.data.astronaut()
    keypoints = MediaPipePoses()(image)
    assert keypoints.shape == (1, 18, 3)
    tolerance = 0.05 * 512
    for name, (x, y) in HAND_MARKED.items():
        found = keypoints[0, KEYPOINT_INDEX[name]]
        assert np.hypot(found[0] - x, found[1] - y) < tolerance, f"{name} at {found[:2]}, marked at {(x, y)}"
        assert found[2] > 0.5
