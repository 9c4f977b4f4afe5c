"""Layered rendering (pgvg animate --compose layers): the frames drawn from the photo's own pixels."""

import numpy as np
import torch
from pgvg_data.synthetic import SyntheticActions
from pgvg_scgan.compositing import MOVING_LIMBS, clean_plate, layered_frame, limbs_that_move, trunk_following

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
