"""``synthetic-actions``: procedural videos of people doing actions, with exact poses.

Each clip draws an identity (body proportions, skin, hair, clothing colours and texture, background) and a
performance of one action (speed, amplitude, phase, noise, drift). Everything is a pure function of
``(seed, split, index)``: no files, nothing to download. Identities of the train split never appear in the
test splits; the ``unseen-pose`` split uses test identities and amplitudes beyond the training range, the
paper's "poses far from the training data" failure case; the ``occlusion`` split uses test identities whose
clips begin with a hand held across the face (the paper's other failure case: an occluded face comes out
blurry) and ease from there into the action.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pgvg_data.motion import ACTIONS, FACE_ARM, FACE_ELBOW, Proportions, action_motion, ease_in, forward_kinematics
from pgvg_data.procedural import ProceduralClips
from pgvg_data.render import Appearance, background, render_person

SPLITS = ("train", "test", "unseen-pose", "occlusion")
# Identities of each group come from disjoint seeds, so no test identity is ever seen in training.
_IDENTITY_GROUP = {"train": 0, "test": 1, "unseen-pose": 1, "occlusion": 1}
_SPLIT_CODE = {"train": 0, "test": 1, "unseen-pose": 2, "occlusion": 3}
TRAIN_AMPLITUDE = (0.7, 1.05)
UNSEEN_AMPLITUDE = (1.25, 1.5)
DEFAULT_CLIPS = {"train": 4000, "test": 400, "unseen-pose": 400, "occlusion": 400}
DEFAULT_IDENTITIES = {"train": 200, "test": 24, "unseen-pose": 24, "occlusion": 24}


class SyntheticActions(ProceduralClips):
    """Procedural people doing 10 actions (wave, clap, jump, squat, walk, punch, kick, ...); exact poses."""

    splits = SPLITS
    skeleton = "body-18"  # the synthetic bodies are built joint by joint in COCO/OpenPose order
    all_classes, class_kind = ACTIONS, "actions"
    default_clips, default_identities, identity_group = DEFAULT_CLIPS, DEFAULT_IDENTITIES, _IDENTITY_GROUP

    def __init__(
        self,
        *,
        split: str = "train",
        resolution: int = 64,
        frames: int = 16,
        clips: int | None = None,
        identities: int | None = None,
        actions: Sequence[str] | None = None,
        translate: bool = True,
        render: bool = True,
        onset: float = 0.5,
        seed: int = 0,
    ) -> None:
        """
        :param onset: the share of clips that begin at rest and ease into the action over their first quarter
            to half (the rest start where a photo of a standing person would be); the others are cut from
            the middle of a performance.
        """
        super().__init__(split=split, resolution=resolution, frames=frames, clips=clips, identities=identities,
                         classes=actions, translate=translate, render=render, onset=onset, seed=seed)

    def _make_identity(self, identity: int) -> tuple[Appearance, Proportions, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, _IDENTITY_GROUP[self.split], identity, 7])
        look = Appearance.sample(rng)
        body = Proportions.sample(rng, self.resolution)
        leg = body.thigh + body.shin
        floor = self.resolution * rng.uniform(0.9, 0.95)
        pelvis = np.array([self.resolution * (0.5 + rng.uniform(-0.06, 0.06)), floor - leg * 0.985 - body.limb])
        return look, body, pelvis, background(look, self.resolution, floor)

    def sample(self, index: int, frames: Sequence[int] | None = None, *,
               render: bool | None = None) -> dict[str, np.ndarray | int]:
        """One clip as numpy: frames uint8 ``[T, H, W, 3]`` (unless ``render`` or, where None, the dataset's
        ``render`` is False: poses only, ~10x faster), keypoints ``[T, K, 3]``, label, identity; with
        ``frames``, those time indices alone."""
        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip {index} out of range for {self.num_clips} clips")
        rng = np.random.default_rng([self.seed, _SPLIT_CODE[self.split], index])
        label = self.label_of(index)  # the classes in turn
        identity = int(rng.integers(self.num_identities))
        look, body, pelvis, base = self._identity(identity)
        amplitude = rng.uniform(*(UNSEEN_AMPLITUDE if self.split == "unseen-pose" else TRAIN_AMPLITUDE))
        motion = action_motion(
            self.classes[label], self.frames, rng, amplitude=amplitude, body=body, translate=self.translate
        )
        # Drawn after the performance, so a clip's action, speed and phase do not depend on `onset`.
        eased = rng.uniform() < self.onset
        ramp = int(rng.integers(max(1, self.frames // 4), max(2, self.frames // 2) + 1))
        if self.split == "occlusion":  # every clip begins with one hand across the face
            side = ("right", "left")[int(rng.integers(2))]
            motion = ease_in(motion, ramp, arm={side: FACE_ARM}, elbow={side: FACE_ELBOW})
        elif eased:
            motion = ease_in(motion, ramp)
        joints = forward_kinematics(motion, body, pelvis)  # [T, K, 2]
        if frames is not None:
            joints = joints[np.asarray(frames, dtype=np.int64)]  # [F, K, 2]
        inside = ((joints >= 0) & (joints <= self.resolution - 1)).all(axis=-1)
        keypoints = np.concatenate([joints, inside[..., None]], axis=-1).astype(np.float32)
        clip = {"keypoints": keypoints, "label": label, "identity": self.identity_id(identity),
                "amplitude": float(amplitude)}
        if self.render if render is None else render:  # the call's choice, else the dataset's
            pixels = render_person(joints, look, body, base)  # [T, H, W, 3] in [0, 1]
            clip["frames"] = (pixels * 255 + 0.5).astype(np.uint8)
        return clip
