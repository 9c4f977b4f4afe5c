import numpy as np
import pytest
import torch
from pgvg_data.faces import EXPRESSIONS, TRAIN_FACE_SIZE, SyntheticFaces

from pgvg_core.poses.skeleton import FACE_68

SMILE, SURPRISE, ANGER, SADNESS, BLINK, TALK, TURN, NOD = range(8)


def pixel(frame, point):
    x, y = np.round(point).astype(int)
    return frame[y, x].astype(int)


def distance(a, b):
    return int(np.abs(a - b).sum())


def inter_ocular(keypoints):
    """[T] distances between the eyes' centres: a face-size unit for landmark-only measures."""
    return np.linalg.norm(keypoints[:, 36:42, :2].mean(1) - keypoints[:, 42:48, :2].mean(1), axis=-1)


def mouth_opening(keypoints):
    return np.linalg.norm(keypoints[:, 62, :2] - keypoints[:, 66, :2], axis=-1) / inter_ocular(keypoints)


def eye_opening(keypoints):
    upper, lower = keypoints[:, [37, 38, 43, 44], :2], keypoints[:, [41, 40, 47, 46], :2]
    return np.linalg.norm(upper - lower, axis=-1).mean(1) / inter_ocular(keypoints)


def brow_height(keypoints):
    return (keypoints[:, 36:48, 1].mean(1) - keypoints[:, 17:27, 1].mean(1)) / inter_ocular(keypoints)


def test_item_shapes_ranges_and_types():
    dataset = SyntheticFaces(split="train", resolution=64, frames=8, clips=20)
    item = dataset[3]
    assert item["frames"].shape == (8, 3, 64, 64) and item["frames"].dtype == torch.float32
    assert -1.0 <= item["frames"].min() and item["frames"].max() <= 1.0
    assert item["keypoints"].shape == (8, 68, 3) and item["keypoints"].dtype == torch.float32
    assert item["label"].item() == 3 and dataset.classes[3] == EXPRESSIONS[3] == "sadness"
    assert item["label"].dtype == item["identity"].dtype == torch.long
    assert len(dataset) == 20 and dataset.classes == EXPRESSIONS and dataset.skeleton == "face-68"
    clip = dataset.sample(3)
    assert clip["frames"].shape == (8, 64, 64, 3) and clip["frames"].dtype == np.uint8
    assert clip["head_pose"].shape == (8, 3) and clip["keypoints"][..., 2].min() == 1.0
    assert "SyntheticFaces(split='train', clips=20" in repr(dataset)


def test_deterministic_given_seed_and_index():
    a = SyntheticFaces(split="train", clips=10, frames=4, seed=1).sample(4)
    b = SyntheticFaces(split="train", clips=10, frames=4, seed=1).sample(4)
    c = SyntheticFaces(split="train", clips=10, frames=4, seed=2).sample(4)
    np.testing.assert_array_equal(a["frames"], b["frames"])
    np.testing.assert_array_equal(a["keypoints"], b["keypoints"])
    assert not np.array_equal(a["frames"], c["frames"])
    assert not np.array_equal(a["keypoints"], c["keypoints"])


def test_keypoints_only_mode_gives_the_same_keypoints():
    rendered = SyntheticFaces(split="test", clips=16, frames=6)
    bare = SyntheticFaces(split="test", clips=16, frames=6, render=False)
    for i in (0, 5, 14):
        clip = bare.sample(i)
        assert "frames" not in clip and "frames" not in bare[i]
        np.testing.assert_array_equal(clip["keypoints"], rendered.sample(i)["keypoints"])


def test_test_identities_are_unseen_in_training():
    train = SyntheticFaces(split="train", clips=300, render=False, frames=2)
    test = SyntheticFaces(split="test", clips=100, render=False, frames=2)
    unseen = SyntheticFaces(split="unseen-pose", clips=60, render=False, frames=2)
    train_ids = {train.sample(i)["identity"] for i in range(300)}
    test_ids = {test.sample(i)["identity"] for i in range(100)}
    assert len(train_ids) > 50 and train_ids.isdisjoint(test_ids)
    assert {unseen.sample(i)["identity"] for i in range(60)} <= {test.identity_id(i) for i in range(24)}


def test_unseen_pose_split_goes_beyond_training_poses_and_amplitudes():
    train = [SyntheticFaces(split=s, clips=80, render=False).sample(i) for s in ("train", "test") for i in range(80)]
    unseen = [SyntheticFaces(split="unseen-pose", clips=80, render=False).sample(i) for i in range(80)]
    assert max(c["amplitude"] for c in train) < min(c["amplitude"] for c in unseen)
    # No expression rolls the head: a tilt beyond the training range is the resting pose's alone.
    roll = [np.abs(c["head_pose"][:, 2]) for c in train], [np.abs(c["head_pose"][:, 2]) for c in unseen]
    assert max(r.max() for r in roll[0]) < min(r.min() for r in roll[1])
    for axis in (0, 1):  # yaw and pitch: beyond training's resting pose in clips without a turn or a nod
        calm = lambda clips: [c for c in clips if c["label"] not in (TURN, NOD)]  # noqa: E731
        assert (max(np.abs(c["head_pose"][:, axis]).max() for c in calm(train))
                < min(np.abs(c["head_pose"][:, axis]).min() for c in calm(unseen)))
    low, high = TRAIN_FACE_SIZE
    assert all(low <= c["face_size"] <= high for c in train)
    assert not any(low <= c["face_size"] <= high for c in unseen)
    # The landmarks follow: many unseen faces are smaller or larger than any in training.
    def span(c):
        return np.ptp(c["keypoints"][0, :, 1])

    train_spans = [span(c) for c in train]
    assert sum(not min(train_spans) <= span(c) <= max(train_spans) for c in unseen) > len(unseen) / 3


def test_every_expression_present_and_labels_cycle():
    dataset = SyntheticFaces(split="train", clips=24, render=False, frames=4)
    assert [dataset.label_of(i) for i in range(24)] == [i % 8 for i in range(24)]
    assert [dataset.sample(i)["label"] for i in range(8)] == list(range(8))
    subset = SyntheticFaces(expressions=["blink", "nod"], clips=4, frames=4, render=False)
    assert subset.classes == ("blink", "nod") and subset.sample(3)["label"] == 1


def test_landmarks_are_exact():
    """The features are drawn at their landmarks: lips at the lip points, eyes open at the eyes' points and
    shut in a blink, skin only inside the jaw's outline."""
    dataset = SyntheticFaces(split="test", clips=40, resolution=128, frames=16, onset=0.0)
    for i in range(BLINK, 40, 8):  # blinks: every eye shuts fully at least once
        clip = dataset.sample(i)
        frames, keypoints = clip["frames"], clip["keypoints"]
        openness = eye_opening(keypoints)
        shut, wide = int(openness.argmin()), int(openness.argmax())
        assert openness[shut] < 0.01 < 0.1 < openness[wide]
        closed, open_ = frames[shut], frames[wide]
        for eye in (slice(36, 42), slice(42, 48)):
            centre, shut_centre = keypoints[wide, eye, :2].mean(0), keypoints[shut, eye, :2].mean(0)
            lid = (keypoints[wide, eye.start + 1, :2] + keypoints[wide, eye.start + 2, :2]) / 2 - centre
            # Skin just under the eye (inside glasses, if any), two lid heights below its centre.
            below, shut_below = pixel(open_, centre - 2 * lid), pixel(closed, shut_centre - 2 * lid)
            assert distance(pixel(open_, centre), below) > 80, "an open eye's centre shows the eye"
            # Shut, the lid covers the eye (a faint lash line runs where the lids meet, near the centre).
            assert distance(pixel(closed, shut_centre + lid), shut_below) < 40, "a shut eye shows its lid"
            assert distance(pixel(closed, shut_centre), shut_below) < distance(pixel(open_, centre), below) / 2
        for t in (shut, wide):  # lips: reddened skin between the outer and inner lip lines
            frame, points = frames[t], keypoints[t, :, :2]
            skin = pixel(frame, (points[2] + points[31]) / 2)
            for outer, inner in ((51, 62), (57, 66)):
                lip = pixel(frame, (points[outer] + points[inner]) / 2)
                assert lip[0] / max(lip[1], 1) > 1.25 * skin[0] / max(skin[1], 1), (i, t, lip, skin)
            for k in (5, 11):  # well outside the jaw: background, hair or clothes, never skin
                outside = points[k] + 0.4 * (points[k] - points[30])
                assert distance(pixel(frame, outside), skin) > 50, (i, t, k)
    for i in range(SURPRISE, 40, 8):  # an open mouth is dark inside
        clip = dataset.sample(i)
        t = int(mouth_opening(clip["keypoints"]).argmax())
        inside = (clip["keypoints"][t, 62, :2] + 2 * clip["keypoints"][t, 66, :2]) / 3
        assert pixel(clip["frames"][t], inside).sum() < 200


def test_mirrored_faces_keep_left_and_right():
    dataset = SyntheticFaces(split="train", clips=16, render=False, frames=4)
    for i in range(16):
        keypoints = dataset.sample(i)["keypoints"][0]
        mirrored = keypoints[list(FACE_68.flip_permutation)].copy()
        mirrored[:, 0] = dataset.resolution - 1 - mirrored[:, 0]
        for face in (keypoints, mirrored):
            x = face[:, 0]
            assert x[36:42].max() < x[42:48].min()  # the subject's right eye on the image's left
            assert x[17:22].mean() < x[22:27].mean() and x[0] < x[16] and x[48] < x[54] and x[60] < x[64]
            assert x[36] < x[39] < x[42] < x[45]  # outer and inner corners in order across the face
            assert x[31] < x[33] < x[35] and x[4] < x[8] < x[12]
        # A mirrored face is a face of this dataset: its eye lids are above and below, its brows above.
        assert (mirrored[[37, 38, 43, 44], 1] < mirrored[[41, 40, 47, 46], 1]).all()
        assert mirrored[17:27, 1].max() < mirrored[36:48, 1].min()


def test_expressions_move_the_landmarks_as_they_should():
    dataset = SyntheticFaces(split="test", clips=160, render=False, onset=0.0)
    clips = [dataset.sample(i) for i in range(160)]

    def mean(label, measure):
        return np.mean([measure(c["keypoints"]).mean() for c in clips if c["label"] == label])

    assert mean(SURPRISE, mouth_opening) > 3 * mean(ANGER, mouth_opening)
    assert mean(TALK, mouth_opening) > 3 * mean(ANGER, mouth_opening)
    assert mean(SURPRISE, brow_height) > mean(ANGER, brow_height) * 1.3
    for c in clips:
        keypoints, pose = c["keypoints"], c["head_pose"]
        openness = eye_opening(keypoints)
        if c["label"] == BLINK:
            assert openness.min() < 0.05 * openness.max()
        if c["label"] == TURN:
            assert np.ptp(pose[:, 0]) > 8 and np.ptp(pose[:, 1]) < 8
        if c["label"] == NOD:
            assert np.ptp(pose[:, 1]) > 6 and np.ptp(pose[:, 0]) < 8
        if c["label"] == TALK:  # the mouth opens and closes
            assert np.ptp(mouth_opening(keypoints)) > 0.1
    # Smiles lift the mouth's corners above its middle, sadness pulls them down; a blink leaves them be.
    def corners(keypoints):
        middle = (keypoints[:, 62, 1] + keypoints[:, 66, 1]) / 2
        return (middle - keypoints[:, [48, 54], 1].mean(1)) / inter_ocular(keypoints)

    assert mean(SMILE, corners) > mean(BLINK, corners) + 0.06
    assert mean(SADNESS, corners) < mean(BLINK, corners) - 0.05
    assert abs(mean(BLINK, corners)) < 0.02


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "val"}, "split must be one of train, test, unseen-pose"),
    ({"resolution": 70}, "multiple of 16"),
    ({"resolution": 16}, "at least 32"),
    ({"frames": 1}, "frames must be at least 2"),
    ({"expressions": ["smile", "wink"]}, r"unknown expressions \['wink'\]; expressions: smile, surprise"),
    ({"expressions": "smile"}, "expressions must be a list"),
    ({"onset": 1.5}, "onset must be a share"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticFaces(**kwargs)


def test_other_resolutions_and_eased_clips():
    dataset = SyntheticFaces(resolution=32, frames=4, clips=4, expressions=["talk", "nod"])
    assert dataset[1]["frames"].shape == (4, 3, 32, 32)
    eased = SyntheticFaces(split="train", render=False, onset=1.0, clips=16)
    cut = SyntheticFaces(split="train", render=False, onset=0.0, clips=16)
    for i in range(16):
        a, b = eased.sample(i)["keypoints"], cut.sample(i)["keypoints"]
        np.testing.assert_allclose(a[9:], b[9:], atol=1e-4)  # past the ease-in (at most T/2 = 8 frames)
        if i % 8 in (SURPRISE, TALK):  # a neutral, closed mouth to begin with
            assert mouth_opening(a[:1])[0] < 0.01 < mouth_opening(b).max()


def test_the_rasteriser_covers_polygons_by_their_area():
    from pgvg_data.face_render import FaceCanvas, _ring, ellipse, union

    canvas = FaceCanvas(np.zeros((48, 48, 3), np.float32), 2)
    everywhere = (slice(0, 48), slice(0, 48))
    square = np.array([[[10.5, 10.5], [20.5, 10.5], [20.5, 20.5], [10.5, 20.5]]] * 2)  # pixels 11..20
    cover = canvas.coverage(square, everywhere)
    assert cover[:, 11:21, 11:21].min() == 1.0 and cover.sum() == 2 * 100
    centre, across, up = np.array([[24.0, 24.0]] * 2), np.array([[10.0, 2.0]] * 2), np.array([[-1.0, 7.0]] * 2)
    area = np.pi * (10 * 7 + 2 * 1)  # |det| of the semi-axes, times pi
    cover = canvas.coverage(ellipse(centre, across, up, 64), everywhere)
    np.testing.assert_allclose(cover.sum((1, 2)), area, rtol=0.01)
    ring = _ring(ellipse(centre, across, up, 64), ellipse(centre, across / 2, up / 2, 64))
    np.testing.assert_allclose(canvas.coverage(ring, everywhere).sum((1, 2)), area * 0.75, rtol=0.01)
    overlap = union(square, square[:, ::-1] + 5)  # two squares, one turned the other way, overlapping by 5 x 5
    assert canvas.coverage(overlap, everywhere).sum() == 2 * (100 + 100 - 25)


def test_preview_draws_the_face_skeleton(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from pgvg_core.cli import main

    out = tmp_path / "faces.png"
    result = CliRunner().invoke(main, ["data", "preview", "synthetic-faces", "--split", "test", "--clips", "2",
                                       "--out", str(out), "-p", "frames=4"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).height == 2 * 4 * 66  # 2 clips x (frames row + pose row), 64 px + a gap, doubled
