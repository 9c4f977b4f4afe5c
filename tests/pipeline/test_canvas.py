"""The video's canvas holds the motion: a jump from a photo cut just above the head grows the view past the
photo's top (filled by reflecting the photo), and ``--canvas photo`` says what leaves it."""

import numpy as np

from pgvg_core.app.canvas import View, _photo_region, beyond_photo, left_the_photo, motion_box, view_around
from pgvg_core.poses.framing import PersonCrop
from pgvg_core.poses.skeleton import BODY_18


def jump_from_the_top_edge() -> np.ndarray:
    """A person 100 px tall whose nose is 10 px below the photo's top, jumping 30 px: ``[3, 18, 3]``."""
    pose = np.zeros((18, 3), np.float32)
    pose[:, 0] = 100
    pose[:, 1] = np.linspace(10, 110, 18)
    pose[:, 2] = 1
    return np.stack([pose + [0, -lift, 0] for lift in (0, 15, 30)])


def test_a_jump_grows_the_view_past_the_photo_and_the_photo_canvas_warns():
    photo_shape = (200, 200, 3)
    poses = jump_from_the_top_edge()
    crop = PersonCrop(left=20, top=-60, size=180, resolution=64)  # the crop already reaches above the photo
    still = view_around(photo_shape, crop, 512)
    moving = view_around(photo_shape, crop, 512, poses)
    assert still.top == 0 and "top" not in beyond_photo(still, photo_shape)
    box = motion_box(poses, crop)
    assert box[1] == int(np.floor(10 - 30 - 0.1 * 130))  # the highest nose, grown by a tenth of the box
    assert moving.top == box[1] < 0 and beyond_photo(moving, photo_shape) == {"top": -box[1]}
    [warning] = left_the_photo(poses, photo_shape, BODY_18.keypoint_names)
    assert "past the photo's top edge" in warning and "nose" in warning and "frames 1-2" in warning


def test_beyond_the_photo_is_filled_by_reflecting_it():
    photo = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
    region = _photo_region(photo, View(left=0, top=-2, right=4, bottom=5, scale=1.0))
    assert region.shape == (7, 4, 3)
    np.testing.assert_array_equal(region[2:], photo)
    np.testing.assert_array_equal(region[:2], photo[[2, 1]])  # rows 2 and 1, mirrored about row 0
