"""The video's canvas holds the motion: a jump from a photo cut just above the head grows the view past the
photo's top (the photo reflected, its person's place filled first), and ``--canvas photo`` says what
leaves it."""

import numpy as np
import torch
from pgvg_data.synthetic import SyntheticActions

from pgvg_core.app.canvas import View, beyond_photo, composite, left_the_photo, motion_box, paste_masks, view_around
from pgvg_core.poses.framing import PersonCrop
from pgvg_core.poses.keypoints import limb_mask
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


def test_beyond_the_photo_is_its_background_not_a_mirror_of_its_person():
    """A red person near the photo's left edge, the view reaching 40 px past it: what lies beyond is the photo's
    background reflected, the person's place filled first (the photo reflected as it is drew a red mirrored copy
    of the person there)."""
    pose = SyntheticActions(split="test", clips=1, resolution=64, frames=2, render=False).sample(0)["keypoints"][:1]
    pose = torch.from_numpy(pose.copy())  # [1, K, 3] in a 64-px frame: the person about x = 32
    pose[..., 0] -= 18  # ... now near the left edge, at about x = 14
    pose[..., :2] *= 120 / 64  # in a 120-px photo
    generator = np.random.default_rng(0)
    photo = (100 + generator.integers(-20, 21, (120, 120, 3))).astype(np.uint8)  # grey, textured
    person = limb_mask(pose, (120, 120), width=6.0)[0].numpy() > 0.5
    photo[person] = (220, 30, 30)
    crop = PersonCrop(left=-40, top=0, size=120, resolution=64)
    view = View(left=-40, top=0, right=120, bottom=120, scale=1.0)
    rendered = np.zeros((1, 120, 120, 3), np.uint8)
    rendered[:, :, 40:] = photo[:, :80]  # the crop as drawn (frame 0: the photo itself)
    poses_render = pose.clone()
    poses_render[..., 0] += 40  # crop pixels
    frame = composite(photo, crop, view, rendered, poses_render, skeleton=BODY_18)[0].astype(int)  # [120, 160, 3]
    assert frame.shape == (120, 160, 3)
    inside = frame[:, 40:]
    np.testing.assert_array_equal(inside[~person][:, 0] > 150, np.zeros((~person).sum(), bool))  # no red added
    beyond = frame[:, :40]
    red = (beyond[..., 0] - beyond[..., 1]) > 60
    assert red.mean() < 0.005  # a mirror image of the person put 46 % of these pixels in red
    assert abs(beyond.mean() - 100) < 10 and beyond.std() > 3  # the background's grey, with texture
    # Away from the person, beyond is the photo mirrored at its edge: column c is the photo's column 39 - c.
    from scipy import ndimage

    pasted = paste_masks(poses_render, 120, 120, BODY_18)[0, 0, :, :40].numpy() > 0.004  # the frame drawn there
    far = (ndimage.distance_transform_edt(~person)[:, 39::-1] > 16) & ~pasted  # mirrors 16 px from the person
    assert far.sum() > 200
    np.testing.assert_array_equal(beyond[far], photo[:, 39::-1][far])


def test_the_detail_crop_beyond_the_photo_is_the_same_reflection_not_its_edge_repeated():
    """What the frames are drawn from: a crop reaching 20 px past the photo's left edge shows the photo mirrored
    there (the person's place left out), not the edge column repeated in bands."""
    from pgvg_core.app.canvas import detail_crop
    from pgvg_core.poses.framing import crop_photo

    generator = np.random.default_rng(1)
    photo = generator.integers(0, 256, (60, 60, 3)).astype(np.uint8)
    person = np.zeros((60, 60), bool)
    person[20:40, 45:58] = True  # in crop pixels (photo columns 25-37): away from the mirrored ones (0-19)
    crop = PersonCrop(left=-20, top=0, size=60, resolution=64)
    square = detail_crop(photo, crop, 60, person)
    np.testing.assert_array_equal(square[:, 20:], crop_photo(photo, crop, 60)[:, 20:])  # the photo's part as it is
    np.testing.assert_array_equal(square[:, :20], photo[:, 19::-1])  # beyond: the photo mirrored at its edge
    assert np.abs(np.diff(square[:, :20].astype(int), axis=1)).mean() > 40  # not one column repeated
