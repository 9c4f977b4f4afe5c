"""Layered rendering (pgvg animate --compose layers): the frames drawn from the photo's own pixels."""

from pathlib import Path

import numpy as np
import pytest
import torch
from pgvg_data.synthetic import SyntheticActions
from pgvg_scgan.compositing import MOVING_LIMBS, clean_plate, layered_frame, limbs_that_move, trunk_following

from pgvg_core.errors import DataError
from pgvg_core.poses.keypoints import KEYPOINT_INDEX
from pgvg_core.poses.keypoints import limb_mask as body_mask
from pgvg_core.poses.skeleton import torso_and_hips

ARM = (KEYPOINT_INDEX["right_elbow"], KEYPOINT_INDEX["right_wrist"])


def standing(resolution: int = 64) -> torch.Tensor:
    """A synthetic person's first pose ``[1, K, 3]`` in pixels of a ``resolution`` frame."""
    dataset = SyntheticActions(split="test", clips=1, resolution=resolution, frames=2, render=False)
    return torch.from_numpy(dataset.sample(0)["keypoints"][:1].copy())


def raised_forearm(pose: torch.Tensor) -> torch.Tensor:
    """The pose with its right forearm turned up about the elbow (wrist above the elbow)."""
    out = pose.clone()
    elbow, wrist = ARM
    length = (pose[0, wrist, :2] - pose[0, elbow, :2]).norm()
    out[0, wrist, :2] = pose[0, elbow, :2] - torch.tensor([0.0, float(length)])
    return out


def test_trunk_following_moves_the_limbs_with_the_trunk_only():
    source = standing()
    target = raised_forearm(source)
    target[..., :2] += torch.tensor([3.0, -5.0])  # the whole body also jumps up and right
    followed = trunk_following(source, target)
    # The forearm is back where the source has it, moved as the trunk moved (here: a translation).
    torch.testing.assert_close(followed[0, ARM[1], :2], source[0, ARM[1], :2] + torch.tensor([3.0, -5.0]))
    torch.testing.assert_close(followed[0, KEYPOINT_INDEX["neck"]], target[0, KEYPOINT_INDEX["neck"]])


def test_the_same_pose_gives_the_photo_back():
    source = standing(64)
    detail = torch.rand(1, 3, 128, 128) * 2 - 1
    frame = layered_frame(source, source, 64, detail, detail)
    torch.testing.assert_close(frame, detail, atol=1e-4, rtol=0)


def test_a_raised_arm_is_drawn_from_the_photo_and_uncovers_the_plate():
    source = standing(64)
    target = raised_forearm(source)
    size = 128
    scale = size / 64
    # A photo: grey background, the person's limbs white; the plate: the background alone.
    detail_pose = source.clone()
    detail_pose[..., :2] *= scale
    limbs = body_mask(detail_pose, (size, size), width=3.0, limbs=MOVING_LIMBS)[:, None] > 0.5
    photo = torch.where(limbs, torch.ones(1, 3, size, size), torch.zeros(1, 3, size, size))
    plate = torch.zeros_like(photo)
    frame = layered_frame(source, target, 64, photo, plate)  # [1, 3, H, W]
    elbow, wrist = ARM
    new_wrist = ((target[0, elbow, :2] + target[0, wrist, :2]) / 2 * scale).round().long()  # mid forearm
    old_wrist = ((source[0, elbow, :2] + source[0, wrist, :2]) / 2 * scale).round().long()
    assert frame[0, 0, new_wrist[1], new_wrist[0]] > 0.8  # the forearm's pixels, at its new place
    assert frame[0, 0, old_wrist[1], old_wrist[0]].abs() < 0.2  # where it was: the plate
    # Far from the body the frame is the photo, pixel for pixel.
    torch.testing.assert_close(frame[..., :8, :8], photo[..., :8, :8])


def test_only_the_limbs_that_move_leave_the_plate():
    source = standing(64)
    clip = torch.cat([source, raised_forearm(source)])  # [T, K, 3]: the right forearm rises
    torso = float(torso_and_hips(source[0].numpy())[0])
    moving = limbs_that_move(clip, torso)
    assert moving == (ARM,)  # only the forearm moves: the upper arm stays in the plate
    jump = clip[:1].repeat(2, 1, 1)
    jump[1, :, 1] -= 6.0  # the whole body up: nothing moves against the neck
    assert limbs_that_move(jump, torso) == ()
    image = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(clean_plate(image, source, torso, limbs=()), image)
    plate = clean_plate(image, source, torso, limbs=moving)
    left_leg = body_mask(source, (64, 64), width=1.0, limbs=((KEYPOINT_INDEX["left_knee"],
                                                               KEYPOINT_INDEX["left_ankle"]),))[:, None] > 0.5
    assert torch.equal(plate[left_leg.expand_as(plate)], image[left_leg.expand_as(image)])  # a still leg stays


def test_body_mask_with_a_width_per_limb():
    pose = standing(64)
    thin = body_mask(pose, (64, 64), width=torch.tensor([[1.0] * 8]), limbs=MOVING_LIMBS)
    wide = body_mask(pose, (64, 64), width=torch.tensor([[1.0] * 4 + [4.0] * 4]), limbs=MOVING_LIMBS)
    assert wide.sum() > thin.sum()
    same = body_mask(pose, (64, 64), width=torch.tensor([[2.0] * 8]), limbs=MOVING_LIMBS)
    torch.testing.assert_close(same, body_mask(pose, (64, 64), width=2.0, limbs=MOVING_LIMBS), atol=1e-6, rtol=0)
    assert np.isfinite(thin.numpy()).all()


def test_a_jump_moves_the_whole_person_and_uncovers_the_background():
    from pgvg_scgan.compositing import person_silhouette, trunk_grid

    source = standing(64)
    target = source.clone()
    target[..., 1] -= 6.0  # the whole body 6 px up
    grid = trunk_grid(source, target, (64, 64))  # every pixel samples 6 px lower
    torch.testing.assert_close(grid[0, 10, 20], torch.tensor([(20 + 0.5) / 32 - 1, (16 + 0.5) / 32 - 1]))
    torso = float(torso_and_hips(source[0].numpy())[0])
    person = person_silhouette(source, (64, 64), torch.tensor([torso]))[:, None] > 0.5  # [1, 1, H, W]
    photo = torch.where(person, torch.ones(1, 3, 64, 64), -torch.ones(1, 3, 64, 64))  # white person on black
    frame = layered_frame(source, target, 64, photo, photo)
    hip = source[0, KEYPOINT_INDEX["right_hip"], :2].round().long()
    assert frame[0, 0, hip[1] - 6, hip[0]] > 0.9  # the hip, 6 px higher
    feet = source[0, [KEYPOINT_INDEX["right_ankle"], KEYPOINT_INDEX["left_ankle"]], 1].max().round().long()
    rows = slice(int(feet) - 1, int(feet) + 2)
    was_there = person[0, 0, rows]  # the feet's pixels in the photo ...
    assert was_there.sum() > 3
    assert frame[0, 0, rows][was_there].mean() < -0.5  # ... uncovered by the jump: the background shows


def test_the_background_behind_the_person_given_once_gives_the_same_frames():
    from pgvg_scgan.compositing import behind_the_person

    source = standing(64)
    generator = torch.Generator().manual_seed(0)
    photo, other = (torch.rand(1, 3, 128, 128, generator=generator) * 2 - 1 for _ in range(2))
    targets = [raised_forearm(source), source + torch.tensor([4.0, -6.0, 0.0])]  # an arm up; a jump
    behind = behind_the_person(source, 64, photo)  # [1, 3, 128, 128]
    for target in targets:
        assert torch.equal(layered_frame(source, target, 64, photo, photo, behind),
                           layered_frame(source, target, 64, photo, photo))
    # Another photo has another background.
    assert (behind_the_person(source, 64, other) - behind).abs().mean() > 0.1


def test_a_clip_in_layers_fills_the_background_once(monkeypatch):
    """The background behind the person is the same for every frame of a clip: render_clip makes it once."""
    from pgvg_scgan import objective as scgan_objective
    from pgvg_scgan.models import SCGANGenerator

    from pgvg_core.objective import DataInfo

    data = DataInfo(num_classes=1, classes=("wave",), frames=4, resolution=64)
    renderer = scgan_objective.SCGANObjective(terms={}, augmentations={}, data=data, refiner_warmup=0)
    calls = []
    made = scgan_objective.behind_the_person
    monkeypatch.setattr(scgan_objective, "behind_the_person", lambda *a: calls.append(1) or made(*a))
    source = standing(64)
    poses = torch.stack([source[0], raised_forearm(source)[0], source[0] + torch.tensor([2.0, -3.0, 0.0])])[None]
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    detail = torch.rand(1, 3, 128, 128) * 2 - 1
    net = SCGANGenerator(ngf=4, n_res_blocks=1).eval()
    frames = renderer.render_clip(net, image, source, poses, detail=detail, composition="layers")
    assert frames.shape == (1, 3, 3, 128, 128) and calls == [1]
    assert renderer.compositions == ("layers", "network", "warp")


def test_with_a_segmentation_a_wide_sleeve_leaves_the_plate_whole_and_the_rest_of_the_person_is_not_smeared():
    """An arm held out sideways in a sleeve three times as wide as an arm's reach: by the limb's width alone a
    rim of the sleeve stays in the plate; with the person's segmentation the sleeve goes whole off the trunk
    (over the trunk as the body fills it, the trunk is kept), and the hole is filled from the background only
    (not from the person's other, red, arm)."""
    from pgvg_scgan.compositing import trunk_body

    source = standing(64)
    torso = float(torso_and_hips(source[0].numpy())[0])
    shoulder, elbow, wrist = (KEYPOINT_INDEX[f"right_{j}"] for j in ("shoulder", "elbow", "wrist"))
    out = -1.0 if source[0, shoulder, 0] < source[0, KEYPOINT_INDEX["left_shoulder"], 0] else 1.0  # away from the body
    source[0, elbow, :2] = source[0, shoulder, :2] + torch.tensor([out * 0.4 * torso, 0.0])
    source[0, wrist, :2] = source[0, elbow, :2] + torch.tensor([out * 0.35 * torso, 0.0])
    arm = ((shoulder, elbow), (elbow, wrist))
    sleeve = body_mask(source, (64, 64), width=0.36 * torso, limbs=arm)[:, None] > 0.5  # [1, 1, H, W]
    other_arm = body_mask(source, (64, 64), width=0.12 * torso,
                          limbs=((KEYPOINT_INDEX["left_elbow"], KEYPOINT_INDEX["left_wrist"]),))[:, None] > 0.5
    background = torch.full((1, 3, 64, 64), -1.0)  # black
    photo = torch.where(sleeve, torch.ones(1, 3, 64, 64), background)  # a white sleeve
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 64, 64)
    photo = torch.where(other_arm, red, photo)
    person = (sleeve | other_arm).float()
    by_width = clean_plate(photo, source, torso, limbs=arm)
    whole = clean_plate(photo, source, torso, limbs=arm, person=person)
    # What of this (very wide) sleeve lies beside the neck, above the shoulder, is the neck's and collar's in a
    # real photo: it stays with the head; the rest off the trunk goes.
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    neck_x, (shoulder_x, shoulder_y) = source[0, KEYPOINT_INDEX["neck"], 0], source[0, shoulder, :2]
    beside_neck = ((xs - shoulder_x) * (xs - neck_x) <= 0) & (ys < shoulder_y)
    only_sleeve = sleeve & ~other_arm & ~trunk_body(source, (64, 64), torso) & ~beside_neck
    assert (by_width[:, 1:][only_sleeve.expand(1, 2, 64, 64)] > 0).float().mean() > 0.05  # a rim of white left
    assert (whole[:, 1:][only_sleeve.expand(1, 2, 64, 64)] > -0.5).float().mean() < 0.01  # all of it gone
    assert whole[:, 0][only_sleeve[:, 0]].max() < -0.5  # filled black, not red from the other arm
    kept = other_arm.expand(1, 3, 64, 64)
    torch.testing.assert_close(whole[kept], photo[kept], atol=1e-5, rtol=0)  # the other arm is kept


def test_with_a_segmentation_the_background_beside_the_person_is_the_photo_s_own():
    """Where the segmentation says the person is not, the photo shows the background itself: the clean plate and
    the background behind the person keep it (a limb's band and the keypoints' silhouette reach past a thin
    person; a blur there was a halo beside the head and between the legs in every frame)."""
    from pgvg_scgan.compositing import PERSON_GROW, behind_the_person, grown

    source = standing(64)
    torso = float(torso_and_hips(source[0].numpy())[0])
    thin = body_mask(source, (64, 64), width=0.06 * torso)[:, None] > 0.5  # a person thinner than the bands
    generator = torch.Generator().manual_seed(0)
    texture = torch.rand(1, 3, 64, 64, generator=generator) * 2 - 1  # a textured background
    photo = torch.where(thin, torch.ones(1, 3, 64, 64), texture)
    person = thin.float()
    beside = ~grown(person, torso * PERSON_GROW)  # [1, 1, H, W]
    outside = beside.expand(1, 3, 64, 64)
    plate = clean_plate(photo, source, torso, person=person)
    behind = behind_the_person(source, 64, plate, person)
    assert outside.float().mean() > 0.5
    torch.testing.assert_close(plate[outside], photo[outside], atol=1e-6, rtol=0)
    torch.testing.assert_close(behind[outside], photo[outside], atol=1e-6, rtol=0)
    # By the keypoints alone, the silhouette's band beside the person is filled: it differs from the photo.
    band = body_mask(source, (64, 64), width=0.15 * torso)[:, None] > 0.5
    assert (behind_the_person(source, 64, plate) - photo)[(band & beside).expand(1, 3, 64, 64)].abs().mean() > 0.2


def test_a_moving_leg_does_not_carry_the_other_one():
    """Two legs side by side, one moving: the person's pixels that go with it are its own, not the still
    leg's (nearest bone, not any bone near)."""
    from pgvg_scgan.compositing import moving_parts

    source = standing(64)
    torso = float(torso_and_hips(source[0].numpy())[0])
    legs = {side: ((KEYPOINT_INDEX[f"{side}_hip"], KEYPOINT_INDEX[f"{side}_knee"]),
                   (KEYPOINT_INDEX[f"{side}_knee"], KEYPOINT_INDEX[f"{side}_ankle"])) for side in ("right", "left")}
    person = body_mask(source, (64, 64), width=0.25 * torso, limbs=legs["right"] + legs["left"])[:, None]
    parts = moving_parts(source, person, torch.tensor([torso]), limbs=legs["right"])  # [1, 1, H, W]
    left_shin = ((source[0, KEYPOINT_INDEX["left_knee"], :2] + source[0, KEYPOINT_INDEX["left_ankle"], :2]) / 2)
    right_shin = ((source[0, KEYPOINT_INDEX["right_knee"], :2] + source[0, KEYPOINT_INDEX["right_ankle"], :2]) / 2)
    assert parts[0, 0, int(right_shin[1].round()), int(right_shin[0].round())]
    assert not parts[0, 0, int(left_shin[1].round()), int(left_shin[0].round())]


def test_the_head_and_the_trunk_s_edge_beside_a_hanging_arm_are_not_the_arm_s():
    """A person whose upper arms hang close to the head and the body (a segmentation of head, trunk and arms):
    the face and the chin are the head's, the body's edge beside the arm the trunk's — none of it goes with
    the arm when it is raised (it went, and the face was carried across the chest)."""
    from pgvg_scgan.compositing import TRUNK_MARGIN, part_owners, torso_mask

    source = standing(128)
    torso = float(torso_and_hips(source[0].numpy())[0])
    nose = source[0, KEYPOINT_INDEX["nose"], :2]
    ys, xs = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    head = (xs - nose[0]).square() + (ys - nose[1]).square() < (0.3 * torso) ** 2  # [H, W]
    arms = body_mask(source, (128, 128), width=0.5 * torso, limbs=MOVING_LIMBS[:4])[0] > 0.5  # wide sleeves
    trunk = torso_mask(source, (128, 128))[0]
    person = (head | arms | trunk).float()[None, None]
    owners = part_owners(source, person, torch.tensor([torso]))[0]  # [H, W]
    assert (owners[head] == -1).all()  # the face and hair stay with the head
    near_trunk = ~trunk & (torch.nn.functional.max_pool2d(trunk.float()[None, None], 3, 1, 1)[0, 0] > 0)
    assert (owners[near_trunk & arms] == -1).all()  # the body's edge under the sleeve stays with the trunk
    assert TRUNK_MARGIN * torso > 1
    hand = source[0, KEYPOINT_INDEX["right_wrist"], :2].round().long()
    assert owners[hand[1], hand[0]] == MOVING_LIMBS.index((KEYPOINT_INDEX["right_elbow"], KEYPOINT_INDEX["right_wrist"]))


def test_a_far_limb_is_drawn_behind_the_trunk_and_a_near_one_in_front():
    from pgvg_scgan.compositing import MOVING_LIMBS

    source = standing(64)
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 128, 128).clone()  # the limbs' photo
    green = torch.tensor([-1.0, 1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 128, 128).clone()  # the plate
    forearm = MOVING_LIMBS.index((KEYPOINT_INDEX["right_elbow"], KEYPOINT_INDEX["right_wrist"]))
    far = torch.zeros(1, len(MOVING_LIMBS), dtype=torch.bool)
    far[0, forearm] = True
    middle = ((source[0, ARM[0], :2] + source[0, ARM[1], :2]) / 2 * 2).round().long()  # in 128-px pixels
    near_frame = layered_frame(source, source, 64, red, green)
    far_frame = layered_frame(source, source, 64, red, green, far=far)
    assert near_frame[0, 0, middle[1], middle[0]] > 0.9  # in front: the limb's own pixels
    pixel = far_frame[0, :, middle[1], middle[0]]  # behind: the trunk layer covers it where they overlap
    assert pixel[1] > 0.5 and pixel[0] < -0.5


def test_an_inferred_limb_carries_its_twin_s_pixels():
    """A right forearm inferred over the belly (its wrist hidden) and held out to the side: drawn from the left
    forearm's pixels (red), not from the belly it was inferred over (blue)."""
    from pgvg_scgan.compositing import far_limbs

    from pgvg_core.poses.keypoints import INFERRED

    source = standing(64)
    torso = float(torso_and_hips(source[0].numpy())[0])
    elbow, wrist = ARM
    hips = source[0, [KEYPOINT_INDEX["right_hip"], KEYPOINT_INDEX["left_hip"]], :2].mean(0)
    source[0, wrist, :2] = hips + torch.tensor([0.0, -0.25 * torso])
    source[0, wrist, 2] = INFERRED
    target = source.clone()
    out = 1.0 if source[0, elbow, 0] > source[0, KEYPOINT_INDEX["neck"], 0] else -1.0  # away from the body
    target[0, wrist, :2] = source[0, elbow, :2] + torch.tensor([out * 0.4 * torso, 0.0])  # held out sideways
    big = source.clone()
    big[..., :2] *= 2  # 128-px pixels
    twin = ((KEYPOINT_INDEX["left_elbow"], KEYPOINT_INDEX["left_wrist"]),)
    red_arm = body_mask(big, (128, 128), width=0.15 * torso * 2, limbs=twin)[:, None] > 0.5
    blue = torch.tensor([-1.0, -1.0, 1.0]).view(1, 3, 1, 1).expand(1, 3, 128, 128)
    photo = torch.where(red_arm, torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1), blue)
    frame = layered_frame(source, target, 64, photo, photo, far=far_limbs(source))
    t_elbow, t_wrist = (target[0, k, :2] * 2 for k in ARM)
    middle = (t_elbow + 0.7 * (t_wrist - t_elbow)).round().long()  # on the forearm, clear of the body
    pixel = frame[0, :, middle[1], middle[0]]
    assert pixel[0] > 0.5 and pixel[2] < -0.5  # red: the twin's look


def test_a_side_view_s_hidden_arm_is_inferred_from_its_twin_with_a_note():
    from pgvg_core.app.photo import check_body, infer_hidden_limbs
    from pgvg_core.poses.keypoints import INFERRED

    pose = standing(64)[0].numpy().copy()
    hidden = [KEYPOINT_INDEX[name] for name in ("left_elbow", "left_wrist")]
    pose[hidden, 2] = 0  # seen from the side: the left arm behind the body
    inferred, notes = infer_hidden_limbs(pose)
    offset = pose[KEYPOINT_INDEX["left_shoulder"], :2] - pose[KEYPOINT_INDEX["right_shoulder"], :2]
    for joint in ("elbow", "wrist"):
        np.testing.assert_allclose(inferred[KEYPOINT_INDEX[f"left_{joint}"], :2],
                                   pose[KEYPOINT_INDEX[f"right_{joint}"], :2] + offset)
        assert inferred[KEYPOINT_INDEX[f"left_{joint}"], 2] == INFERRED
    assert notes == ["the person's left arm is hidden in the photo (seen from the side?): inferred from the right "
                     "one and drawn behind the body"]
    np.testing.assert_array_equal(np.delete(inferred, hidden, 0), np.delete(pose, hidden, 0))  # the rest as seen
    moved = set(range(18))  # an action that moves every joint (a jump) is no longer refused
    assert check_body(inferred, Path("side.jpg"), "jump", moved) == []
    # Both arms hidden: nothing to infer from.
    pose[[KEYPOINT_INDEX["right_elbow"], KEYPOINT_INDEX["right_wrist"]], 2] = 0
    assert infer_hidden_limbs(pose)[1] == []


def test_a_hand_hidden_in_front_of_the_belly_is_inferred_from_the_twin_forearm():
    """Seen from behind, the right wrist hidden by the body while the elbow shows: the wrist is put below the
    elbow as the left wrist is below the left elbow, with a note, and the limb goes behind the trunk."""
    from pgvg_scgan.compositing import far_limbs

    from pgvg_core.app.photo import check_body, infer_hidden_limbs
    from pgvg_core.poses.keypoints import INFERRED

    pose = standing(64)[0].numpy().copy()
    wrist, elbow = KEYPOINT_INDEX["right_wrist"], KEYPOINT_INDEX["right_elbow"]
    pose[wrist, 2] = 0
    moved = set(range(18))
    with pytest.raises(DataError, match="right_wrist"):  # refused as it is in the photo
        check_body(pose, Path("back.jpg"), "wave-both", moved)
    inferred, notes = infer_hidden_limbs(pose)
    twin_forearm = pose[KEYPOINT_INDEX["left_wrist"], :2] - pose[KEYPOINT_INDEX["left_elbow"], :2]
    np.testing.assert_allclose(inferred[wrist, :2], pose[elbow, :2] + twin_forearm)
    assert inferred[wrist, 2] == INFERRED and inferred[elbow, 2] == pose[elbow, 2]
    assert notes == ["the person's right wrist is hidden in the photo: inferred from the left arm and drawn behind "
                     "the body"]
    assert check_body(inferred, Path("back.jpg"), "wave-both", moved) == []
    far = far_limbs(torch.from_numpy(inferred)[None])[0]
    upper_arm = (KEYPOINT_INDEX["right_shoulder"], elbow)
    assert far[MOVING_LIMBS.index((elbow, wrist))] and not far[MOVING_LIMBS.index(upper_arm)]


def test_a_hand_inferred_behind_the_body_leaves_the_trunk_in_the_plate():
    """The forearm of a hand hidden in front of the belly (seen from behind) is inferred, not seen: the photo
    shows the back there, so the clean plate keeps it when the arm moves (filling that band smeared the
    shorts' black across the back)."""
    from pgvg_scgan.compositing import plate_for, trunk_body

    from pgvg_core.poses.keypoints import INFERRED

    source = standing(64)
    torso = float(torso_and_hips(source[0].numpy())[0])
    elbow, wrist = ARM
    hips = source[0, [KEYPOINT_INDEX["right_hip"], KEYPOINT_INDEX["left_hip"]], :2].mean(0)
    source[0, wrist, :2] = hips + torch.tensor([0.0, -0.25 * torso])  # on the belly, behind the body
    source[0, wrist, 2] = INFERRED
    clip = torch.stack([source[0], raised_forearm(source)[0]])[None]  # [1, T, K, 3]: the arm moves
    generator = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 64, 64, generator=generator) * 2 - 1  # a textured back and background
    person = (body_mask(source, (64, 64), width=0.2 * torso)[:, None] > 0.5).float()
    plate = plate_for("layers", photo, source, clip, person)
    forearm = body_mask(source, (64, 64), width=0.1 * torso, limbs=(ARM,))[:, None] > 0.5
    on_back = (forearm & trunk_body(source, (64, 64), torso)).expand(1, 3, 64, 64)
    assert on_back.sum() > 20
    torch.testing.assert_close(plate[on_back], photo[on_back], atol=1e-6, rtol=0)
    seen = source.clone()
    seen[0, wrist, 2] = 1.0  # the same forearm seen in front of the body: it goes, filled
    assert (plate_for("layers", photo, seen, clip, person) - photo)[on_back].abs().mean() > 0.1


def test_a_hand_beyond_the_limb_goes_rigidly_with_its_forearm():
    """A part of the photo owned by the right forearm (a hand past the wrist) lands where the forearm's own
    similarity takes it when the forearm is raised; other owners' pixels stay out of the layer."""
    from pgvg_scgan.compositing import MOVING_LIMBS, part_shares, rigid_parts

    source = standing(64)
    target = raised_forearm(source)
    forearm = MOVING_LIMBS.index(ARM)
    elbow, wrist = (source[0, k, :2] for k in ARM)
    hand = (wrist + 0.3 * (wrist - elbow)).round().long()  # a pixel past the wrist, on the bone's line
    owners = torch.full((1, 64, 64), -1, dtype=torch.long)
    owners[0, hand[1] - 1 : hand[1] + 2, hand[0] - 1 : hand[0] + 2] = forearm
    detail = torch.full((1, 3, 64, 64), -1.0)
    detail[0, :, hand[1] - 1 : hand[1] + 2, hand[0] - 1 : hand[0] + 2] = 1.0  # a white hand on black
    layer, alpha = rigid_parts(source, target, part_shares(owners), detail)
    t_elbow, t_wrist = (target[0, k, :2] for k in ARM)
    moved = (t_wrist + 0.3 * (t_wrist - t_elbow)).round().long()  # the same point of the raised forearm
    assert alpha[0, 0, moved[1], moved[0]] > 0.5 and layer[0, 0, moved[1], moved[0]] > 0.5
    assert alpha[0, 0, hand[1], hand[0]] < 0.5  # it left its old place


def test_growing_a_mask_by_rows_then_columns_is_the_square_max_pool():
    from pgvg_scgan.compositing import grown

    mask = (torch.rand(2, 1, 97, 131, generator=torch.Generator().manual_seed(0)) > 0.97).float()
    for radius in (0, 1, 5, 12):
        square = torch.nn.functional.max_pool2d(mask, 2 * radius + 1, stride=1, padding=radius) if radius else mask
        assert torch.equal(grown(mask, radius), square > 0.5), radius
