import numpy as np
import pytest
import torch

from pgvg_core.poses.keypoints import (
    FLIP_PERMUTATION,
    KEYPOINT_NAMES,
    LIMBS,
    body_size,
    draw_skeleton,
    heatmap_sigma,
    heatmaps_to_keypoints,
    render_heatmaps,
    soft_keypoints,
)


def test_skeleton_is_openpose_coco18():
    assert len(KEYPOINT_NAMES) == 18
    assert KEYPOINT_NAMES[:2] == ("nose", "neck") and KEYPOINT_NAMES[-1] == "left_ear"
    assert len(LIMBS) == 17 and all(0 <= a < 18 and 0 <= b < 18 for a, b in LIMBS)
    names = [KEYPOINT_NAMES[i] for i in FLIP_PERMUTATION]
    assert names[2] == "left_shoulder" and names[5] == "right_shoulder" and names[0] == "nose"
    assert sorted(FLIP_PERMUTATION) == list(range(18))


def test_heatmap_peaks_at_keypoint_with_its_confidence():
    keypoints = torch.tensor([[[10.0, 20.0, 1.0], [30.0, 5.0, 0.5], [3.0, 3.0, 0.0]]])  # [1, 3, 3]
    maps = render_heatmaps(keypoints, (32, 40), sigma=2.0)
    assert maps.shape == (1, 3, 32, 40)
    assert maps[0, 0, 20, 10] == pytest.approx(1.0)
    assert maps[0, 1, 5, 30] == pytest.approx(0.5)
    assert maps[0, 2].max() == 0  # missing joint: empty map
    # One sigma away the Gaussian is exp(-1/2).
    assert maps[0, 0, 20, 12] == pytest.approx(np.exp(-0.5), rel=1e-5)


def test_heatmaps_hold_no_denormal_floats():
    # Far tails multiplied together were denormals (below 1e-38), which a CPU computes with ~100x slower: the
    # convolutions reading heatmaps took 2-3x their time. Beyond 5.7 sigma a map is exactly 0.
    keypoints = torch.tensor([[2.0, 2.0, 1.0], [61.0, 60.0, 0.7], [30.5, 31.2, 1.0]])
    maps = render_heatmaps(keypoints, 64, sigma=1.5)
    tiny = (maps > 0) & (maps < torch.finfo(torch.float32).tiny)
    assert not tiny.any()
    assert maps[0, 2, 2] == 1.0 and maps[0, 40, 40] == 0.0  # the peak as it was, the far field exactly 0
    assert maps[0, 2, 10] == pytest.approx(np.exp(-(8 / 1.5) ** 2 / 2), rel=1e-5)  # 5.3 sigma: kept


def test_sigma_scale_column_widens_the_gaussian():
    narrow = render_heatmaps(torch.tensor([[8.0, 8.0, 1.0, 1.0]]), 16, sigma=1.0)
    wide = render_heatmaps(torch.tensor([[8.0, 8.0, 1.0, 2.0]]), 16, sigma=1.0)
    assert wide.sum().item() == pytest.approx(4 * narrow.sum().item(), rel=1e-3)


def test_heatmaps_round_trip_to_subpixel_keypoints():
    keypoints = torch.tensor([[12.3, 40.6, 1.0], [50.2, 7.7, 1.0], [0.0, 0.0, 0.0]])
    recovered = heatmaps_to_keypoints(render_heatmaps(keypoints, 64, sigma=1.5))
    assert torch.allclose(recovered[:2, :2], keypoints[:2, :2], atol=0.02)
    assert recovered[2, 2] == 0


def test_body_size_is_bounding_box_diagonal_of_visible_joints():
    keypoints = torch.zeros(18, 3)
    keypoints[0] = torch.tensor([0.0, 0.0, 1.0])
    keypoints[1] = torch.tensor([3.0, 4.0, 1.0])
    keypoints[2] = torch.tensor([100.0, 100.0, 0.0])  # invisible: ignored
    assert body_size(keypoints).item() == pytest.approx(5.0)


def test_draw_skeleton_draws_only_visible_limbs():
    image = np.zeros((32, 32, 3), np.uint8)
    keypoints = np.zeros((18, 3), np.float32)
    keypoints[1] = [16, 8, 1]
    keypoints[2] = [8, 8, 1]
    drawn = draw_skeleton(image, keypoints)
    assert drawn[8, 12].tolist() == [255, 0, 0]  # neck -> right shoulder is OpenPose red
    assert drawn[20:].max() == 0
    assert image.max() == 0  # the input is not modified


def test_soft_keypoints_find_gaussian_centres_and_ignore_a_faint_background():
    keypoints = torch.tensor([[10.3, 12.7, 1.0], [20.1, 5.5, 0.6], [0.0, 0.0, 0.0]])
    maps = render_heatmaps(keypoints, 32, sigma=0.75)
    for background in (0.0, 0.03):
        found = soft_keypoints(maps + background)
        assert torch.allclose(found[:2, :2], keypoints[:2, :2], atol=0.05)
    found = soft_keypoints(maps)
    assert found[:2, 2].tolist() == pytest.approx(maps[:2].flatten(1).amax(1).tolist())
    assert found[2].tolist() == [15.5, 15.5, 0.0]  # an empty map: its centre, confidence 0
    moving = keypoints.clone().requires_grad_(True)
    soft_keypoints(render_heatmaps(moving, 32, sigma=0.75))[0, 0].backward()
    assert 0.8 < moving.grad[0, 0] < 1.2  # d x_found / d x: a position gradient of about 1


@pytest.mark.parametrize("sigma", [0.75, 1.5, 3.0])
def test_heatmap_sigma_measures_the_gaussian_width(sigma):
    keypoints = torch.tensor([[[10.3, 12.7, 1.0], [20.1, 5.5, 1.0], [0.0, 0.0, 0.0]]])
    assert heatmap_sigma(render_heatmaps(keypoints, 32, sigma)).item() == pytest.approx(sigma, rel=1e-3)
    assert heatmap_sigma(torch.zeros(1, 3, 32, 32)).isnan().all()
