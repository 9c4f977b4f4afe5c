"""Action-specific motion of a front-facing 2D skeleton: joint-angle trajectories and forward kinematics.

Angles are abductions in radians: 0 = the limb hangs straight down, pi/2 = horizontal and outward, pi = straight
up. A side's abduction is mirrored on the image (the person's right is on the image's left). Legs are solved
by two-bone inverse kinematics from an ankle target so feet can stay planted.
"""

from __future__ import annotations

import attrs
import numpy as np

ACTIONS: tuple[str, ...] = (
    "wave-right", "wave-both", "clap", "jump", "squat",
    "walk", "punch", "kick", "arm-circles", "side-bend",
)  # fmt: skip


@attrs.frozen(kw_only=True)
class Proportions:
    """Body dimensions in pixels."""

    torso: float
    shoulder: float  # half width
    hip: float  # half width
    neck: float
    head: float  # radius
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    limb: float  # limb thickness (radius of an upper arm)

    @classmethod
    def sample(cls, rng: np.random.Generator, resolution: int) -> "Proportions":
        height = resolution * rng.uniform(0.6, 0.68)  # pelvis-to-crown plus legs, before the head
        width = rng.uniform(0.85, 1.2)
        leg = height * rng.uniform(0.46, 0.52)
        return cls(
            torso=height * 0.36,
            shoulder=height * 0.125 * width,
            hip=height * 0.075 * width,
            neck=height * 0.05,
            head=height * rng.uniform(0.085, 0.1),
            upper_arm=height * 0.21,
            forearm=height * 0.19,
            thigh=leg * 0.52,
            shin=leg * 0.48,
            limb=height * 0.035 * width,
        )


@attrs.frozen(kw_only=True)
class Motion:
    """Per-frame pose parameters, each ``[T]`` (root ``[T, 2]``)."""

    root: np.ndarray  # pelvis offset from its rest position, pixels
    lean: np.ndarray  # torso lean, radians, positive = towards the image's right
    arm: dict[str, np.ndarray]  # side -> upper-arm abduction
    elbow: dict[str, np.ndarray]  # side -> forearm bend (added to the upper arm's abduction)
    ankle: dict[str, np.ndarray]  # side -> ankle target offset from rest [T, 2]


REST_ARM = 0.18  # upper-arm abduction of a person standing at rest
REST_ELBOW = 0.12  # forearm bend at rest
# A hand held across the face: the upper arm across the chest at shoulder height, the forearm up over the face.
FACE_ARM = -1.45
FACE_ELBOW = 4.05


def ease_in(motion: Motion, frames: int, *, arm: dict[str, float] | None = None,
            elbow: dict[str, float] | None = None) -> Motion:
    """The same performance started from rest: every pose parameter blends from its rest value into the
    action's over the first ``frames`` frames (a smoothstep), the way a person standing still begins it.
    ``arm`` / ``elbow`` (side -> angle) start a side's arm elsewhere (a hand held across the face).

    Clips cut from the middle of a performance show the action from their first frame (a waving arm is
    already up); a photo of someone standing does not. Clips that begin at rest teach stage 1 to get from a
    standing pose into the action."""
    arm, elbow = arm or {}, elbow or {}
    steps = motion.lean.shape[0]
    ramp = np.clip(np.arange(steps) / max(frames, 1), 0.0, 1.0)
    weight = ramp * ramp * (3 - 2 * ramp)  # [T], 0 at the first frame, 1 from `frames` on

    def blend(value: np.ndarray, rest: float) -> np.ndarray:
        shape = (steps,) + (1,) * (value.ndim - 1)
        return rest + weight.reshape(shape) * (value - rest)

    return Motion(
        root=blend(motion.root, 0.0), lean=blend(motion.lean, 0.0),
        arm={side: blend(value, arm.get(side, REST_ARM)) for side, value in motion.arm.items()},
        elbow={side: blend(value, elbow.get(side, REST_ELBOW)) for side, value in motion.elbow.items()},
        ankle={side: blend(value, 0.0) for side, value in motion.ankle.items()},
    )


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, scale: float) -> np.ndarray:
    """A few low-frequency sines: jitter that is smooth in time, like a real performer's."""
    noise = np.zeros_like(t)
    for _ in range(2):
        noise += rng.normal(0, scale) * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return noise


def action_motion(
    action: str, frames: int, rng: np.random.Generator, *, amplitude: float, body: Proportions, translate: bool
) -> Motion:
    """Sample one performance of ``action``: random speed, phase and small noise around its pattern."""
    t = np.linspace(0.0, 1.0, frames, endpoint=False)
    cycles = rng.uniform(0.8, 1.6)
    phase = 2 * np.pi * cycles * t + rng.uniform(0, 2 * np.pi)
    s, c = np.sin(phase), np.cos(phase)
    a = amplitude
    zeros = np.zeros(frames)
    leg = body.thigh + body.shin

    arm = {"right": REST_ARM + zeros, "left": REST_ARM + zeros}
    elbow = {"right": REST_ELBOW + zeros, "left": REST_ELBOW + zeros}
    ankle = {side: np.zeros((frames, 2)) for side in ("right", "left")}
    root = np.zeros((frames, 2))
    lean = zeros.copy()

    if action == "wave-right":
        arm["right"] = 2.0 + 0.15 * a * s
        elbow["right"] = 0.9 + 0.75 * a * s
    elif action == "wave-both":
        for side in ("right", "left"):
            arm[side] = 2.0 + 0.15 * a * s
            elbow[side] = 0.9 + 0.75 * a * s
    elif action == "clap":
        together = np.clip(0.5 + 0.5 * s * a, 0, 1)  # 1 = hands meet in front of the chest
        for side in ("right", "left"):
            arm[side] = 0.9 - 0.45 * together
            forearm = -0.6 - 1.4 * together  # absolute: inwards and down -> inwards and up
            elbow[side] = forearm - arm[side]
    elif action == "jump":
        height = np.maximum(0.0, s)  # airborne half of each cycle
        crouch = np.maximum(0.0, -s)
        root[:, 1] = -0.35 * a * leg * height + 0.12 * leg * crouch
        for side in ("right", "left"):
            arm[side] = 0.3 + 2.3 * a * height
            elbow[side] = 0.2 + 0.3 * crouch
            ankle[side][:, 1] = root[:, 1] * (height > 0) * 0.85  # feet leave the ground
    elif action == "squat":
        depth = a * (0.5 - 0.5 * c)
        root[:, 1] = 0.38 * leg * depth
        for side in ("right", "left"):
            arm[side] = 0.25 + 1.35 * depth
            elbow[side] = 0.15 + 0.2 * depth
    elif action == "walk":
        lift = {"right": np.maximum(0.0, s), "left": np.maximum(0.0, -s)}
        root[:, 1] = -0.03 * leg * np.abs(s)
        for side, sign in (("right", 1.0), ("left", -1.0)):
            ankle[side][:, 1] = -0.32 * a * leg * lift[side] + root[:, 1]
            arm[side] = 0.22 + 0.22 * a * np.maximum(0.0, -sign * s)
            elbow[side] = 0.2 + 0.6 * a * np.maximum(0.0, -sign * s)
    elif action == "punch":
        extend = {"right": np.maximum(0.0, s) ** 0.7, "left": np.maximum(0.0, -s) ** 0.7}
        for side in ("right", "left"):
            e = np.clip(extend[side] * a, 0, 1.2)
            arm[side] = 0.7 + (np.pi / 2 - 0.7) * e  # guard -> horizontal
            elbow[side] = 2.3 * (1 - np.minimum(e, 1))  # fist near the face -> straight arm
        lean = -0.08 * a * s
    elif action == "kick":
        kick = np.maximum(0.0, s)
        lean = 0.22 * a * kick  # lean away from the kicking leg
        out = 1.15 * a * kick
        ankle["right"][:, 0] = -leg * np.sin(out)
        ankle["right"][:, 1] = -leg * (1 - np.cos(out))
        for side in ("right", "left"):
            arm[side] = 0.35 + 0.5 * kick
            elbow[side] = 0.6 + 0.3 * kick
    elif action == "arm-circles":
        arm["right"] = np.mod(phase, 2 * np.pi) * min(1.0, a)
        arm["left"] = np.mod(phase + np.pi, 2 * np.pi) * min(1.0, a)
        elbow["right"] = elbow["left"] = 0.05 + zeros
    elif action == "side-bend":
        bend = a * s
        lean = 0.38 * bend
        arm["right"] = np.where(bend > 0, 2.7, 0.25) + 0.1 * s
        arm["left"] = np.where(bend < 0, 2.7, 0.25) - 0.1 * s
        elbow["right"] = np.where(bend > 0, 0.35, 0.1) + zeros
        elbow["left"] = np.where(bend < 0, 0.35, 0.1) + zeros
    else:
        raise ValueError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")

    noise = 0.05
    for side in ("right", "left"):
        arm[side] = arm[side] + _smooth_noise(rng, t, noise)
        elbow[side] = elbow[side] + _smooth_noise(rng, t, noise)
    lean = lean + _smooth_noise(rng, t, noise / 2)
    if translate:
        drift = rng.uniform(-0.12, 0.12) * leg
        root[:, 0] += drift * (t - 0.5) * 2
    return Motion(root=root, lean=lean, arm=arm, elbow=elbow, ankle=ankle)


def _direction(angle: np.ndarray) -> np.ndarray:
    """Unit vector of an image-space angle (0 = down, +pi/2 = image right): ``[T] -> [T, 2]``."""
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)


def _two_bone_ik(hip: np.ndarray, target: np.ndarray, upper: float, lower: float, bend: float) -> tuple:
    """Knee and ankle for a hip ``[T, 2]`` reaching for ``target`` ``[T, 2]``; the knee bends to side ``bend``."""
    offset = target - hip
    distance = np.linalg.norm(offset, axis=-1, keepdims=True).clip(1e-6, (upper + lower) * 0.999)
    unit = offset / np.linalg.norm(offset, axis=-1, keepdims=True).clip(1e-6)
    ankle = hip + unit * distance
    # Law of cosines: how far along and how far off the hip-ankle line the knee sits.
    along = (upper**2 - lower**2 + distance**2) / (2 * distance)
    off = np.sqrt(np.clip(upper**2 - along**2, 0, None))
    normal = np.stack([-unit[:, 1], unit[:, 0]], axis=-1) * bend
    knee = hip + unit * along + normal * off
    return knee, ankle


def forward_kinematics(motion: Motion, body: Proportions, pelvis: np.ndarray) -> np.ndarray:
    """Joint positions ``[T, 18, 2]`` (COCO/OpenPose order) for a motion and a pelvis rest position ``[2]``."""
    frames = motion.lean.shape[0]
    joints = np.zeros((frames, 18, 2))
    centre = pelvis[None, :] + motion.root  # [T, 2]
    up = np.stack([np.sin(motion.lean), -np.cos(motion.lean)], axis=-1)  # [T, 2]
    across = np.stack([np.cos(motion.lean), np.sin(motion.lean)], axis=-1)  # towards the image's right
    neck = centre + up * body.torso
    joints[:, 1] = neck
    head = neck + up * (body.neck + body.head)
    joints[:, 0] = head - up * body.head * 0.15  # nose
    for index, sign in ((14, -1), (15, 1)):  # eyes
        joints[:, index] = head + across * (sign * body.head * 0.38) + up * body.head * 0.15
    for index, sign in ((16, -1), (17, 1)):  # ears
        joints[:, index] = head + across * (sign * body.head * 0.95) + up * body.head * 0.05

    lean = motion.lean
    for side, sign, (shoulder_i, elbow_i, wrist_i) in (("right", -1, (2, 3, 4)), ("left", 1, (5, 6, 7))):
        shoulder = neck + across * (sign * body.shoulder) - up * body.neck * 0.4
        upper_angle = lean + sign * motion.arm[side]
        elbow = shoulder + _direction(upper_angle) * body.upper_arm
        wrist = elbow + _direction(upper_angle + sign * motion.elbow[side]) * body.forearm
        joints[:, shoulder_i], joints[:, elbow_i], joints[:, wrist_i] = shoulder, elbow, wrist

    leg = body.thigh + body.shin
    for side, sign, (hip_i, knee_i, ankle_i) in (("right", -1, (8, 9, 10)), ("left", 1, (11, 12, 13))):
        hip = centre + across * (sign * body.hip)
        rest_ankle = pelvis[None, :] + np.array([sign * body.hip * 1.25, leg * 0.985])
        target = rest_ankle + motion.ankle[side] + np.stack([motion.root[:, 0], np.zeros(frames)], -1)
        knee, ankle = _two_bone_ik(hip, target, body.thigh, body.shin, bend=-sign)
        joints[:, hip_i], joints[:, knee_i], joints[:, ankle_i] = hip, knee, ankle
    return joints
