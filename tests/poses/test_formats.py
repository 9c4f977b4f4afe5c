import json

import numpy as np
import pytest
from pgvg_poses.formats import load_keypoints

from pgvg_core.errors import DataError


def openpose_frame(path, flat):
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": list(map(float, flat))}]}))


def test_openpose_folder_coco18_and_body25(tmp_path):
    coco18 = np.arange(54, dtype=np.float32)
    body25 = np.arange(75, dtype=np.float32)
    openpose_frame(tmp_path / "clip_000000000000_keypoints.json", coco18)
    openpose_frame(tmp_path / "clip_000000000001_keypoints.json", body25)
    points = load_keypoints(tmp_path)
    assert points.shape == (2, 18, 3)
    np.testing.assert_array_equal(points[0], coco18.reshape(18, 3))
    body = body25.reshape(25, 3)
    np.testing.assert_array_equal(points[1, 7], body[7])  # left wrist: same index
    np.testing.assert_array_equal(points[1, 8], body[9])  # right hip skips BODY_25's mid-hip
    np.testing.assert_array_equal(points[1, 17], body[18])


def test_openpose_frame_with_nobody_is_all_missing(tmp_path):
    (tmp_path / "f_keypoints.json").write_text(json.dumps({"people": []}))
    assert load_keypoints(tmp_path / "f_keypoints.json").max() == 0


def test_coco_keypoints_add_the_neck(tmp_path):
    points = np.zeros((17, 3), np.float32)
    points[5] = [10, 20, 2]  # left shoulder
    points[6] = [30, 20, 1]  # right shoulder
    points[0] = [20, 5, 2]
    data = {"annotations": [{"id": 1, "image_id": 2, "keypoints": points.flatten().tolist()},
                            {"id": 2, "image_id": 1, "keypoints": np.zeros(51).tolist()}]}
    (tmp_path / "coco.json").write_text(json.dumps(data))
    out = load_keypoints(tmp_path / "coco.json")
    assert out.shape == (2, 18, 3)
    assert out[0].max() == 0  # image 1 comes first
    np.testing.assert_array_equal(out[1, 1], [20, 20, 1])  # neck = shoulder midpoint
    np.testing.assert_array_equal(out[1, 2], [30, 20, 1])  # right shoulder
    np.testing.assert_array_equal(out[1, 5], [10, 20, 1])


def test_npz_two_and_three_columns(tmp_path):
    np.savez(tmp_path / "a.npz", keypoints=np.ones((4, 18, 2)))
    assert load_keypoints(tmp_path / "a.npz").shape == (4, 18, 3)


@pytest.mark.parametrize("shape", [(4, 17, 3), (4, 18, 5), (18,)])
def test_npz_of_the_wrong_shape_names_the_file(tmp_path, shape):
    np.savez(tmp_path / "bad.npz", keypoints=np.ones(shape))
    with pytest.raises(DataError, match=r"bad\.npz: keypoints have shape .* expected \[T, 18, 3\]"):
        load_keypoints(tmp_path / "bad.npz")


def test_openpose_wrong_length_and_unknown_json(tmp_path):
    openpose_frame(tmp_path / "x_keypoints.json", np.ones(30))
    with pytest.raises(DataError, match="has 30 numbers; expected 54"):
        load_keypoints(tmp_path / "x_keypoints.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(DataError, match="neither OpenPose"):
        load_keypoints(tmp_path / "other.json")
    with pytest.raises(DataError, match="keypoints file not found"):
        load_keypoints(tmp_path / "missing.npz")
