"""Person-centred framing: the crop that frames a photo's person as the training data frames people."""

import numpy as np
import pytest
import torch
from pgvg_data.synthetic import SyntheticActions

from pgvg_core.errors import DataError
from pgvg_core.poses.framing import Framing, crop_photo, framing_of, person_crop
from pgvg_core.poses.keypoints import limb_mask as body_mask
from pgvg_core.poses.skeleton import torso_and_hips

FRAMING = Framing(resolution=64, anchor_x=32.0, anchor_y=38.0, length=14.7)


def standing_person(scale: float, hip: tuple[float, float]) -> np.ndarray:
    """A synthetic person's first pose, scaled about its hip centre and moved to ``hip`` (photo pixels)."""
    keypoints = SyntheticActions(split="test", clips=1, resolution=64, frames=2).sample(0)["keypoints"][0].copy()
    centre = torso_and_hips(keypoints)[1]
    keypoints[:, :2] = (keypoints[:, :2] - centre) * scale + np.array(hip)
    return keypoints


def test_framing_of_synthetic_actions():
    dataset = SyntheticActions(split="train", resolution=64, frames=4, render=False)
    framing = framing_of(dataset, clips=32)
    assert framing.resolution == 64
    assert 13 < framing.length < 16 and 30 < framing.anchor_x < 34 and 36 < framing.anchor_y < 40


@pytest.mark.parametrize("scale, hip", [(10.0, (1400.0, 700.0)), (3.3, (90.0, 150.0)), (0.8, (20.0, 30.0))])
def test_person_crop_places_the_person_like_the_training_data(scale, hip):
    keypoints = standing_person(scale, hip)
    crop = person_crop(keypoints, FRAMING)
    framed = crop.to_model(keypoints)
    torso, centre = torso_and_hips(framed)
    assert torso == pytest.approx(FRAMING.length, rel=0.05)
    np.testing.assert_allclose(centre, [FRAMING.anchor_x, FRAMING.anchor_y], atol=0.6)
    np.testing.assert_allclose(crop.to_photo(framed), keypoints, atol=1e-3)  # and back, exactly
    torch.testing.assert_close(crop.to_photo(crop.to_model(torch.from_numpy(keypoints))), torch.from_numpy(keypoints))


def test_crop_photo_resamples_and_repeats_edges():
    photo = np.zeros((100, 80, 3), np.uint8)
    photo[:, :40] = 200  # left half bright
    keypoints = standing_person(3.0, (10.0, 50.0))  # near the left edge: the crop leaves the photo
    crop = person_crop(keypoints, FRAMING)
    assert crop.left < 0
    image = crop_photo(photo, crop, 64)
    assert image.shape == (64, 64, 3) and image.flags.writeable
    assert image[:, 0].min() == 200  # the photo's left edge, repeated
    exact = crop_photo(photo, crop, crop.size)
    inside = -crop.left
    assert (exact[:, inside : inside + 5] == 200).all()  # no resampling at scale 1


def test_body_mask_covers_limbs_not_the_background():
    keypoints = torch.from_numpy(standing_person(1.0, (32.0, 38.0)))[None]
    mask = body_mask(keypoints, (64, 64), width=3.0)[0]
    neck, hip = keypoints[0, 1, :2], keypoints[0, 8, :2]
    middle = ((neck + hip) / 2).round().long()
    assert mask[middle[1], middle[0]] > 0.95 and mask[2, 2] < 0.01 and mask[60, 2] < 0.01
    missing = keypoints.clone()
    missing[..., 2] = 0
    assert body_mask(missing, (64, 64), width=3.0).max() < 0.01


def test_fill_holes_fills_from_the_surroundings_and_keeps_the_rest():
    from pgvg_core.media.fill import fill_holes

    image = torch.zeros(1, 3, 32, 32)
    image[..., :16] = 1.0  # left half white, right half black
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 4:28, 12:20] = 1  # a band across the edge
    filled = fill_holes(image, hole)
    keep = hole < 0.5
    assert torch.equal(filled[keep.expand_as(filled)], image[keep.expand_as(image)])
    assert 0.6 < filled[0, 0, 16, 13] <= 1.0 and 0.0 <= filled[0, 0, 16, 18] < 0.4  # each side from its side
    assert filled[0, 0, 16, 12:20].diff().le(1e-6).all()  # a smooth ramp, white to black


def test_a_textured_fill_carries_the_background_s_texture_into_the_hole():
    """Horizontal stripes with a tall narrow hole: each hole pixel's nearest edge is a side, its mirror in the
    same row, so the stripes go on through the hole; push-pull alone leaves a grey blur there."""
    from pgvg_core.media.fill import fill_holes, textured_fill

    rows = torch.arange(48.0)
    image = torch.where((rows // 2) % 2 == 0, 0.8, -0.8).view(1, 1, 48, 1).expand(1, 3, 48, 48).contiguous()
    hole = torch.zeros(1, 1, 48, 48)
    hole[..., 8:40, 20:28] = 1
    inside = (hole > 0.5).expand_as(image)
    textured, smooth = textured_fill(image, hole), fill_holes(image, hole)
    assert torch.equal(textured[~inside], image[~inside])  # the known pixels are kept
    textured_error = (textured - image)[inside].abs().mean()
    smooth_error = (smooth - image)[inside].abs().mean()
    assert smooth_error > 0.5 and textured_error < 0.3 * smooth_error
    assert textured[inside].std() > 0.5  # stripes, not a flat grey
    # Where the hole covers everything, there is no texture to borrow: the smooth fill.
    everything = torch.ones(1, 1, 48, 48)
    torch.testing.assert_close(textured_fill(image, everything), fill_holes(image, everything))


def test_clean_plate_removes_the_limbs_not_the_background():
    from pgvg_scgan.compositing import clean_plate

    keypoints = torch.from_numpy(standing_person(1.0, (32.0, 38.0)))[None]
    image = torch.full((1, 3, 64, 64), -1.0)
    from pgvg_scgan.compositing import MOVING_LIMBS

    arms = body_mask(keypoints, (64, 64), width=2.0, limbs=MOVING_LIMBS)[:, None] > 0.5
    image = torch.where(arms, torch.ones_like(image), image)  # white limbs on black
    plate = clean_plate(image, keypoints, torso=float(torso_and_hips(keypoints[0].numpy())[0]))
    assert plate[arms.expand_as(plate)].max() < -0.5  # the limbs are gone
    assert torch.equal(plate[:, :, :4, :4], image[:, :, :4, :4])  # far away, untouched


def test_a_framing_saved_before_faces_is_read_and_a_face_is_framed_by_its_eyes_and_mouth():
    from pgvg_core.poses.framing import anchor_and_length

    legacy = Framing.from_dict({"resolution": 64, "hip_x": 32.0, "hip_y": 38.0, "torso": 14.7})
    assert legacy == FRAMING and legacy.skeleton == "body-18"
    face = np.zeros((68, 3), np.float32)
    face[:, 2] = 1
    face[36:42, :2] = [20, 30]  # the right eye's points around (20, 30), the left's (40, 30), the mouth (30, 50)
    face[42:48, :2] = [40, 30]
    face[48:60, :2] = [30, 50]
    length, anchor = anchor_and_length(face, "face-68")
    assert length == pytest.approx(20) and anchor.tolist() == [30, 30]
    framing = Framing(resolution=64, anchor_x=32.0, anchor_y=28.0, length=16.0, skeleton="face-68")
    crop = person_crop(face, framing)  # 20 px become 16: a crop of 80 photo pixels
    assert crop.size == 80 and crop.to_model(face)[36, :2] == pytest.approx([24, 28], abs=0.6)  # 10 px -> 8
    face[48:60, 2] = 0
    with pytest.raises(DataError, match=r"frame a face-68 pose were not found \(3 of the 12 outer_lip points"):
        person_crop(face, framing)
