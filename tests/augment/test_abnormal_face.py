"""Abnormal face landmarks: each face-specific error does what it says, on the face-68 skeleton only."""

import pytest
import torch
from pgvg_augment.abnormal import AbnormalFace

from pgvg_core.config import ComponentSpec, build
from pgvg_core.poses.skeleton import FACE_68

ONLY = dict(sigma=False, scale=False, shift=False, displace=False, drop=False, swap=False, jitter=False,
            drift=False, collapse=False, corner=False)


def faces(batch=64, frames=3):
    """A plausible face: points spread over a 40-pixel box, the same in every frame."""
    torch.manual_seed(0)
    points = torch.rand(1, 1, 68, 2) * 40 + 10
    xy = points.expand(batch, frames, -1, -1)
    return torch.cat([xy, torch.ones(batch, frames, 68, 1)], dim=-1)


def corrupted(kind, **rates):
    augment = AbnormalFace(severity=1.0, **{**ONLY, kind: True}, **rates)
    keypoints = faces()
    return keypoints, augment.apply(keypoints, augment.sample(keypoints.shape, torch.Generator().manual_seed(3)))


def test_drift_moves_a_run_of_jaw_points_together_and_nothing_else():
    keypoints, out = corrupted("drift", drift_rate=1.0)
    moved = (out[..., :2] - keypoints[..., :2]).norm(dim=-1)  # [B, T, K]
    assert moved[..., 17:].max() == 0 and moved[..., :17].max(dim=-1).values.min() > 0.5  # every face's jaw
    assert torch.equal(moved[:, 0], moved[:, 1])  # one drift per clip, not per frame
    strongest = moved[:, 0, :17].argmax(dim=-1)
    neighbours = moved[torch.arange(64), 0, (strongest + 1).clamp(max=16)]
    assert (neighbours > 0.3 * moved[:, 0, :17].max(dim=-1).values).float().mean() > 0.9  # a run, not one point


def test_collapse_pulls_one_eye_to_its_centre():
    keypoints, out = corrupted("collapse", collapse_rate=1.0)
    spread = lambda k, eye: (k[:, 0, eye, :2] - k[:, 0, eye, :2].mean(1, keepdim=True)).norm(dim=-1).mean(-1)  # noqa: E731
    right, left = list(range(36, 42)), list(range(42, 48))
    shrunk = torch.stack([spread(out, right) / spread(keypoints, right), spread(out, left) / spread(keypoints, left)])
    assert ((shrunk.min(dim=0).values <= 0.4) & (shrunk.max(dim=0).values == 1)).all()  # one eye of each face
    assert torch.equal(out[..., :36, :2], keypoints[..., :36, :2])


def test_a_lost_mouth_corner_is_missing_outside_and_inside():
    keypoints, out = corrupted("corner", corner_rate=1.0)
    lost = out[:, 0, :, 2] == 0  # [B, K]
    assert (lost[:, [48, 60]].all(dim=1) ^ lost[:, [54, 64]].all(dim=1)).all()  # one corner, both points
    assert lost.sum(dim=1).eq(2).all() and torch.equal(out[..., :2], keypoints[..., :2])


def test_severity_zero_changes_nothing_and_the_body_skeleton_is_refused():
    augment = AbnormalFace(severity=0.0, jitter=False)
    keypoints = faces()
    out = augment.apply(keypoints, augment.sample(keypoints.shape, torch.Generator().manual_seed(0)))
    assert torch.allclose(out[..., :3], keypoints)
    with pytest.raises(ValueError, match="abnormal-face corrupts face-68 landmarks; skeleton 'body-18' has 18"):
        AbnormalFace(skeleton="body-18")
    built = build("augmentations", ComponentSpec(name="abnormal-face"), skeleton=FACE_68)
    assert isinstance(built, AbnormalFace) and not built.enabled["swap"] and "AbnormalFace(" in repr(built)
