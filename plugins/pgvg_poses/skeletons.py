"""Built-in skeletons (kind ``skeletons``): factories that take nothing and return a
:class:`pgvg_core.poses.skeleton.Skeleton` named as registered."""

from __future__ import annotations

from pgvg_core.poses.skeleton import BODY_18, FACE_68, Skeleton


def body_18() -> Skeleton:
    """The human body: 18 keypoints in COCO/OpenPose order, OpenPose's 17 limbs and colours."""
    return BODY_18


def face_68() -> Skeleton:
    """The face: 68 landmarks in iBUG 300-W order (dlib, OpenFace): jaw, brows, nose, eyes, lips."""
    return FACE_68
