import pytest
import torch
from pgvg_data.synthetic import SyntheticActions
from pgvg_scgan.models import SCGANGenerator
from pgvg_scgan.warp import limb_warp, warp_image

from pgvg_core.poses.keypoints import LIMBS, render_heatmaps


def clip(index=0, frames=8):
    return SyntheticActions(split="test", clips=4, frames=frames, resolution=64, onset=0.0)[index]  # mid-action: arms away from the body


def identity_grid(size):
    xs = (torch.arange(size) + 0.5) / size * 2 - 1
    ys, xs = torch.meshgrid(xs, xs, indexing="ij")
    return torch.stack([xs, ys], -1)[None]


def sample_at(grid, x, y):
    """Where the grid samples the source for target pixel (x, y) (integers), in source pixels."""
    size = grid.shape[1]
    gx, gy = grid[0, y, x]
    return ((gx + 1) / 2 * size - 0.5).item(), ((gy + 1) / 2 * size - 0.5).item()


def test_same_pose_is_the_identity():
    keypoints = clip()["keypoints"][:1]  # [1, K, 3]
    grid, person = limb_warp(keypoints, keypoints, (64, 64))
    torch.testing.assert_close(grid, identity_grid(64), atol=1e-5, rtol=0)
    image = clip()["frames"][:1]
    torch.testing.assert_close(warp_image(image, grid), image, atol=1e-4, rtol=0)
    # The person map covers the body, not the corners.
    x, y = keypoints[0, 1, :2].round().long()
    assert person[0, 0, y, x] > 0.9 and person[0, 0, 0, 0] < 0.01 and person[0, 0, -1, -1] < 0.01


def test_the_person_map_is_exactly_zero_far_from_the_body():
    keypoints = clip()["keypoints"][:2]  # [2, K, 3]
    _, person = limb_warp(keypoints[:1], keypoints[1:], (64, 64))
    assert not ((person > 0) & (person < torch.finfo(torch.float32).tiny)).any()  # no denormal floats
    corners = person[0, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 0).all() and person.max() > 0.99


def test_a_moved_body_samples_the_source_at_the_same_body_point():
    source = clip()["keypoints"][:1]
    target = source.clone()
    target[..., 0] += 5.0  # the whole body 5 px to the right, 3 px up
    target[..., 1] -= 3.0
    grid, _ = limb_warp(source, target, (64, 64))
    x, y = target[0, 8, :2].round().int().tolist()  # right hip in the target
    sx, sy = sample_at(grid, x, y)
    assert sx == pytest.approx(x - 5, abs=0.05) and sy == pytest.approx(y + 3, abs=0.05)
    # Far from the body the background stays where it is.
    assert sample_at(grid, 1, 1) == pytest.approx((1.0, 1.0), abs=1e-3)


def test_a_rotated_forearm_maps_onto_the_source_forearm():
    source = clip()["keypoints"][:1]
    target = source.clone()
    elbow, wrist = 3, 4
    bone = source[0, wrist, :2] - source[0, elbow, :2]
    target[0, wrist, :2] = source[0, elbow, :2] + torch.stack([bone[1], -bone[0]])  # turned out, away from the body
    grid, _ = limb_warp(source, target, (64, 64))
    # A pixel at the target wrist (far from other bones) samples the source turned back by 90 degrees about
    # the elbow: (dx, dy) -> (-dy, dx).
    x, y = target[0, wrist, :2].round().int().tolist()
    ex, ey = source[0, elbow, :2].tolist()
    expected = (ex - (y - ey), ey + (x - ex))
    assert sample_at(grid, x, y) == pytest.approx(expected, abs=0.05)


def test_missing_joints_and_wild_poses_stay_bounded():
    source = clip()["keypoints"][:1]
    target = source.clone()
    target[..., 2] = 0  # nothing visible: every pixel keeps the identity
    grid, person = limb_warp(source, target, (64, 64))
    torch.testing.assert_close(grid, identity_grid(64), atol=1e-5, rtol=0)
    assert person.max() == 0
    tiny = source.clone()
    tiny[..., :2] = tiny[..., :2] * 0.05 + 30  # a pose shrunk 20x: bone scales clamp at 2
    grid, _ = limb_warp(source, tiny, (64, 64))
    assert torch.isfinite(grid).all() and grid.abs().max() < 4


def test_warp_beats_copying_the_source():
    item = clip(frames=12)
    frames, keypoints = item["frames"], item["keypoints"]  # [T, 3, H, W], [T, K, 3]
    source = frames[:1].expand(11, -1, -1, -1)
    grid, _ = limb_warp(keypoints[:1].expand(11, -1, -1), keypoints[1:], (64, 64))
    warped = warp_image(source, grid)
    copy_error = (source - frames[1:]).abs().mean()
    warp_error = (warped - frames[1:]).abs().mean()
    assert warp_error < 0.7 * copy_error


def test_generator_warp_reads_keypoints_from_heatmaps():
    item = clip()
    keypoints = item["keypoints"]
    generator = SCGANGenerator(ngf=4, n_res_blocks=1)
    heatmaps = render_heatmaps(keypoints, 64, 1.5)  # [T, K, H, W]
    image = item["frames"][:1].expand(len(keypoints) - 1, -1, -1, -1)
    warped, person = generator.warped_source(image, heatmaps[:1].expand_as(heatmaps[1:]), heatmaps[1:])
    grid, expected_person = limb_warp(keypoints[:1].expand(len(keypoints) - 1, -1, -1), keypoints[1:], (64, 64))
    torch.testing.assert_close(warped, warp_image(image, grid), atol=2e-2, rtol=0)
    torch.testing.assert_close(person, expected_person, atol=2e-2, rtol=0)
    # At initialisation the blend leans on the warped source (88 %).
    frame = generator(image, heatmaps[:1].expand_as(heatmaps[1:]), heatmaps[1:])
    assert (frame - warped).abs().mean() < 0.5 * (frame - image).abs().mean() + 0.2


def test_generator_warp_needs_the_coco_skeleton():
    assert len(LIMBS) == 17
    with pytest.raises(ValueError, match="warp = false"):
        SCGANGenerator(keypoints=25)
    SCGANGenerator(keypoints=25, warp=False)


def test_bone_distance_is_the_distance_to_each_segment():
    """Against the distance computed point by point with numpy: to the segment's nearest point, its ends
    included; a zero-length segment is a point."""
    import numpy as np

    from pgvg_core.poses.keypoints import bone_distance as grid_distance

    xs, ys = torch.arange(5.0) + 0.5, torch.arange(4.0) - 1.0
    start = torch.tensor([[complex(1, 1), complex(3, 0), complex(2, 2)]], dtype=torch.complex64)
    end = torch.tensor([[complex(4, 3), complex(3, 0), complex(-1, 2)]], dtype=torch.complex64)
    got = grid_distance(xs, ys, start, end)  # [1, 3, 20]

    def reference(p, a, b):
        ab, ap = b - a, p - a
        t = 0.0 if not np.dot(ab, ab) else np.clip(np.dot(ap, ab) / np.dot(ab, ab), 0, 1)
        return np.linalg.norm(ap - t * ab)

    for limb in range(3):
        a = np.array([start[0, limb].real.item(), start[0, limb].imag.item()])
        b = np.array([end[0, limb].real.item(), end[0, limb].imag.item()])
        for h, y in enumerate(ys.tolist()):
            for w, x in enumerate(xs.tolist()):
                assert abs(got[0, limb, h * 5 + w].item() - reference(np.array([x, y]), a, b)) < 1e-5
