"""``synthetic-faces``: procedural videos of faces making expressions, with exact 68-point landmarks.

Each clip draws an identity (face shape, skin, eyes, brows, lips, nose, hair style and colour, glasses or
not, background) and a performance of one expression (speed, amplitude, onset and timing, phase, a little
head sway). The landmarks come from a neutral 3D template of the 68 iBUG 300-W points (x, y and a depth z),
shaped per identity, deformed per frame by the expression (blend shapes for the jaw, lips, brows and lids),
turned by the head's yaw, pitch and roll and projected with a mild perspective; the face is then drawn from
those very landmarks, so they are exact. Everything is a pure function of ``(seed, split, index)``: no files,
nothing to download. Identities of the train split never appear in the test splits; the ``unseen-pose``
split uses test identities with head poses (yaw, pitch, roll, size and placement in the frame) and expression
amplitudes beyond the training range, the paper's "poses far from the training data" failure case.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from pgvg_data.face_render import FaceLook, background, render_face
from pgvg_data.procedural import ProceduralClips

EXPRESSIONS: tuple[str, ...] = ("smile", "surprise", "anger", "sadness", "blink", "talk", "head-turn", "nod")
SPLITS = ("train", "test", "unseen-pose")
# Identities of each group come from disjoint seeds, so no test identity is ever seen in training.
_IDENTITY_GROUP = {"train": 0, "test": 1, "unseen-pose": 1}
_SPLIT_CODE = {"train": 0, "test": 1, "unseen-pose": 2}
TRAIN_AMPLITUDE = (0.7, 1.05)
UNSEEN_AMPLITUDE = (1.25, 1.5)
DEFAULT_CLIPS = {"train": 4000, "test": 400, "unseen-pose": 400}
DEFAULT_IDENTITIES = {"train": 200, "test": 24, "unseen-pose": 24}
# The head's resting pose in a clip (degrees: yaw, pitch, roll) and the face's height as a share of the frame.
# Train and test keep within the first ranges; unseen-pose goes beyond all of them at once.
TRAIN_REST_POSE = (8.0, 5.0, 6.0)
UNSEEN_REST_POSE = ((14.0, 24.0), (9.0, 15.0), (11.0, 18.0))
TRAIN_FACE_SIZE = (0.55, 0.75)
UNSEEN_FACE_SIZE = ((0.42, 0.5), (0.8, 0.88))
SWAY = 1.0  # degrees; the head's idle sway stays within twice this
# Beyond about 40 degrees the yaw is eased towards this limit: further round, the jaw's landmarks stop
# outlining the face (the far cheek hides behind the nose) and a 68-point face is no longer well defined.
YAW_LIMIT = 60.0

# ------------------------------------------------------------------------------------------- geometry
# Face coordinates: x to the image's right, y down, z towards the camera, in units of the face's half-width
# (about 2.5 units from the forehead's top to the chin). Points after the 68 landmarks shape the rest of the
# head for drawing only.
LANDMARKS = 68
EXTRA_PARTS = {"forehead": 9, "cranium": 1, "ear_right": 8, "ear_left": 8, "neck": 2, "front_hair": 14}
_PART_SLICES: dict[str, slice] = {}
_start = LANDMARKS
for _name, _count in EXTRA_PARTS.items():
    _PART_SLICES[_name] = slice(_start, _start + _count)
    _start += _count
POINTS = _start
PIVOT = np.array([0.0, 0.1, -1.0])  # the head turns about a point behind the face, between the ears
FOCAL = 7.0  # perspective: a point 1 unit nearer the camera looks 1/7 larger
HAIRLINE_TOP = -1.45  # y of the top of the face outline

# Expression channels: blend shapes added to the neutral landmarks, each scaled per frame.
CHANNELS = ("jaw", "part", "smile", "frown", "press", "round", "brow_up", "brow_inner_up", "brow_down",
            "lid_up", "squint")
_CHANNEL = {name: i for i, name in enumerate(CHANNELS)}
UPPER_LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper lid point, the lower lid point below it)


@attrs.frozen(kw_only=True)
class FaceShape:
    """One identity's neutral head ``points`` ``[POINTS, 3]`` and blend shapes ``[len(CHANNELS), 68, 3]``."""

    points: np.ndarray
    blend: np.ndarray
    height: float  # forehead top to chin, in face units

    @classmethod
    def sample(cls, rng: np.random.Generator, hair_style: str) -> "FaceShape":
        p = np.zeros((POINTS, 3))
        width = rng.uniform(0.9, 1.05)  # half-width at the cheekbones (ears)
        jaw = rng.uniform(0.8, 1.0)  # the lower face's width relative to that
        chin_y = rng.uniform(1.0, 1.15)
        chin_flat = rng.uniform(0.0, 0.25)
        top_y = -0.38
        # Jaw 0-16: from the subject's right ear (image left) down round the chin and up to the left ear.
        phi = np.linspace(0, np.pi, 17)
        c, s = np.cos(phi), np.sin(phi)
        taper = 1 - (1 - jaw) * s**2
        p[0:17, 0] = -np.sign(c) * np.abs(c) ** (0.72 - 0.5 * chin_flat) * width * taper
        p[0:17, 1] = top_y + (chin_y - top_y) * s ** (1.1 + chin_flat)
        p[0:17, 2] = -0.55 * c**2 + 0.1 * s

        eye_y = rng.uniform(-0.42, -0.32)
        eye_x = rng.uniform(0.38, 0.46)  # eye centres at +-eye_x
        eye_w = rng.uniform(0.15, 0.19)  # half-width
        eye_h = rng.uniform(0.055, 0.075)  # half-height of the opening
        for sign, (outer, up_out, up_in, inner, low_in, low_out) in ((-1, (36, 37, 38, 39, 40, 41)),
                                                                    (1, (45, 44, 43, 42, 47, 46))):
            cx = sign * eye_x
            p[outer] = [cx + sign * eye_w, eye_y + 0.012, 0]
            p[inner] = [cx - sign * eye_w, eye_y + 0.012, 0]
            p[up_out] = [cx + sign * 0.38 * eye_w, eye_y - eye_h, 0]
            p[up_in] = [cx - sign * 0.33 * eye_w, eye_y - eye_h * 0.95, 0]
            p[low_in] = [cx - sign * 0.33 * eye_w, eye_y + eye_h * 0.85, 0]
            p[low_out] = [cx + sign * 0.38 * eye_w, eye_y + eye_h * 0.8, 0]
        eyes = np.r_[36:48]
        p[eyes, 2] = 0.08 - 0.35 * p[eyes, 0] ** 2

        brow_gap = rng.uniform(0.2, 0.28)
        arch = rng.uniform(0.02, 0.08)
        brow_in = rng.uniform(0.1, 0.17)
        brow_out = eye_x + eye_w * rng.uniform(1.05, 1.35)
        u = np.linspace(0, 1, 5)  # outer -> inner
        bx = brow_out + (brow_in - brow_out) * u
        by = eye_y - brow_gap - arch * np.sin(np.pi * (0.25 + 0.75 * u)) + 0.03 * u
        p[17:22, 0], p[17:22, 1] = -bx, by
        p[22:27, 0], p[22:27, 1] = bx[::-1], by[::-1]
        brows = np.r_[17:27]
        p[brows, 2] = 0.2 - 0.35 * p[brows, 0] ** 2

        tip_y = rng.uniform(0.1, 0.22)
        nose_w = rng.uniform(0.16, 0.24)
        nose_z = rng.uniform(0.35, 0.5)
        p[27:31, 1] = np.linspace(eye_y - 0.02, tip_y, 4)
        p[27:31, 2] = np.linspace(0.12, nose_z, 4)
        p[31:36, 0] = np.array([-1, -0.5, 0, 0.5, 1]) * nose_w
        p[31:36, 1] = tip_y + np.array([0.09, 0.115, 0.125, 0.115, 0.09])
        p[31:36, 2] = np.array([0.18, 0.26, 0.32, 0.26, 0.18])

        mouth_y = tip_y + rng.uniform(0.32, 0.42)
        mouth_w = rng.uniform(0.3, 0.42)  # half-width
        upper = rng.uniform(0.06, 0.1)
        lower = rng.uniform(0.08, 0.13)
        outer = np.array([[-1, 0], [-0.6, -0.8], [-0.25, -1.05], [0, -0.85], [0.25, -1.05], [0.6, -0.8],
                          [1, 0], [0.6, 0.85], [0.28, 1.0], [0, 1.02], [-0.28, 1.0], [-0.6, 0.85]])
        p[48:60, 0] = outer[:, 0] * mouth_w
        p[48:60, 1] = mouth_y + np.where(outer[:, 1] < 0, outer[:, 1] * upper, outer[:, 1] * lower)
        inner = np.array([[-0.82, 0], [-0.35, -0.01], [0, -0.01], [0.35, -0.01], [0.82, 0],
                          [0.35, 0.01], [0, 0.01], [-0.35, 0.01]])
        p[60:68, 0] = inner[:, 0] * mouth_w
        p[60:68, 1] = mouth_y  # closed: the inner lips meet
        lips = np.r_[48:68]
        p[lips, 2] = 0.3 - 0.6 * p[lips, 0] ** 2

        # The rest of the head, for drawing: the forehead's outline from the subject's left temple (image
        # right) over to the right one, continuing the jaw's line round.
        theta = np.linspace(0, np.pi, 11)[1:-1]
        forehead = _PART_SLICES["forehead"]
        p[forehead, 0] = width * np.cos(theta)
        p[forehead, 1] = top_y - (top_y - HAIRLINE_TOP) * np.sin(theta)
        p[forehead, 2] = -0.55 * np.cos(theta) ** 2 + 0.05 * np.sin(theta)
        p[_PART_SLICES["cranium"]] = [0.0, -0.5, -0.9]
        for name, sign in (("ear_right", -1), ("ear_left", 1)):
            angle = np.linspace(0, 2 * np.pi, 8, endpoint=False)
            centre = np.array([sign * width * 0.99, eye_y + 0.22, -0.45])
            out = np.array([sign * 0.75, 0.0, -0.66])
            p[_PART_SLICES[name]] = (centre + np.sin(angle)[:, None] * [0, 0.3, 0]
                                     + (0.13 * (1 + np.cos(angle)))[:, None] * out)
        p[_PART_SLICES["neck"]] = [[-0.42, 0.8, -0.7], [0.42, 0.8, -0.7]]
        p[_PART_SLICES["front_hair"]] = _front_hair(hair_style, width, rng)

        return cls(points=p, blend=_blend_shapes(p, mouth_w), height=float(chin_y - HAIRLINE_TOP))


def _front_hair(style: str, width: float, rng: np.random.Generator) -> np.ndarray:
    """The outline ``[14, 3]`` of the hair in front of the forehead: 7 points along the top of the head (a
    little outside the face's outline) from the image's right to its left, then 7 along the hairline back."""
    theta = np.linspace(0.12, np.pi - 0.12, 7)
    top = np.stack([1.06 * width * np.cos(theta), -0.38 - (-0.38 - HAIRLINE_TOP + 0.06) * np.sin(theta),
                    -0.55 * np.cos(theta) ** 2 + 0.06], axis=-1)
    x = np.linspace(-1, 1, 7) * width * 0.96  # back from the subject's right (image left) to the left
    u = x / width
    if style == "fringe":
        y = rng.uniform(-1.08, -0.98) + 0.04 * np.abs(np.sin(np.arange(7) * 1.7)) - 0.05 * u**2
    elif style == "long":  # a side parting: swept low on one side
        side = rng.choice([-1.0, 1.0])
        y = -1.3 + 0.22 * (1 + side * u) / 2 + 0.1 * u**2
    else:
        y = rng.uniform(-1.3, -1.18) + rng.uniform(0.1, 0.25) * u**2
    low = np.stack([x, y, -0.55 * u**2 + 0.07], axis=-1)
    return np.concatenate([top, low], axis=0)


def _blend_shapes(p: np.ndarray, mouth_width: float) -> np.ndarray:
    """Landmark displacements ``[len(CHANNELS), 68, 3]`` of each expression channel at full strength, for a
    neutral face ``p``; the corners' sideways moves scale with the mouth's half-width."""
    blend = np.zeros((len(CHANNELS), LANDMARKS, 3))
    mouth_w = mouth_width / 0.36  # about 1

    def move(channel: str, points, dx=0.0, dy=0.0, mirror=True) -> None:
        """Move ``points`` by (dx, dy); dx points outwards (away from the face's midline) when ``mirror``."""
        for k in np.atleast_1d(points):
            side = np.sign(p[k, 0]) if mirror else 1.0
            blend[_CHANNEL[channel], k, 0] += dx * side
            blend[_CHANNEL[channel], k, 1] += dy

    # jaw: the lower jaw swings down, the chin most; the lower lip rides with it
    y0, y1 = p[0, 1], p[8, 1]
    for k in range(17):
        blend[_CHANNEL["jaw"], k, 1] = 0.45 * np.clip((p[k, 1] - y0) / (y1 - y0), 0, 1) ** 1.5
    move("jaw", [55, 56, 57, 58, 59], dy=0.4)
    move("jaw", [65, 66, 67], dy=0.38)
    move("jaw", [48, 54, 60, 64], dx=-0.02, dy=0.13)
    move("jaw", [49, 53], dy=0.02)
    # part: the lips come apart
    move("part", [61, 62, 63], dy=-0.025)
    move("part", [65, 66, 67], dy=0.1)
    move("part", [55, 56, 57, 58, 59], dy=0.06)
    move("part", [60, 64], dy=0.02)
    # smile: the corners go up and out, the lips stretch; the cheeks push the lower lids up
    move("smile", [48, 54, 60, 64], dx=0.11 * mouth_w, dy=-0.15)
    move("smile", [49, 53], dx=0.04, dy=-0.05)
    move("smile", [59, 55], dx=0.05, dy=-0.08)
    move("smile", [50, 51, 52], dy=-0.02)
    move("smile", [56, 57, 58], dy=-0.03)
    move("smile", [61, 63], dx=0.04, dy=-0.05)
    move("smile", [65, 67], dx=0.04, dy=-0.06)
    move("smile", [62], dy=-0.03)
    move("smile", [66], dy=-0.04)
    move("smile", [31, 35], dx=0.03, dy=-0.02)
    move("smile", [40, 41, 46, 47], dy=-0.025)
    # frown: the corners pull down, the chin pushes the lower lip up
    move("frown", [48, 54, 60, 64], dx=-0.02, dy=0.11)
    move("frown", [59, 55, 49, 53], dy=0.05)
    move("frown", [65, 67, 61, 63], dy=0.04)
    move("frown", [56, 57, 58], dy=-0.025)
    # press: the lips thin out against each other, the mouth narrows
    move("press", [50, 51, 52], dy=0.045)
    move("press", [49, 53], dy=0.025)
    move("press", [56, 57, 58], dy=-0.05)
    move("press", [55, 59], dy=-0.03)
    move("press", [48, 54, 60, 64], dx=-0.035)
    # round: the mouth narrows into an O
    move("round", [48, 54], dx=-0.15 * mouth_w)
    move("round", [60, 64], dx=-0.14 * mouth_w)
    move("round", [49, 53, 59, 55], dx=-0.08 * mouth_w)
    move("round", [61, 63], dx=-0.05, dy=-0.03)
    move("round", [65, 67], dx=-0.05, dy=0.04)
    move("round", [62, 51], dy=-0.02)
    move("round", [66, 57], dy=0.02)
    # brows
    move("brow_up", np.r_[17:27], dy=-0.15)
    move("brow_up", [20, 21, 22, 23], dy=-0.025)
    move("brow_inner_up", [21, 22], dx=-0.01, dy=-0.13)
    move("brow_inner_up", [20, 23], dy=-0.07)
    move("brow_inner_up", [19, 24], dy=-0.02)
    move("brow_inner_up", [17, 26], dy=0.025)
    move("brow_down", [21, 22], dx=-0.06, dy=0.12)
    move("brow_down", [20, 23], dx=-0.03, dy=0.09)
    move("brow_down", [19, 24], dy=0.06)
    move("brow_down", [18, 25], dy=0.04)
    move("brow_down", [17, 26], dy=0.03)
    # lids
    move("lid_up", [37, 38, 43, 44], dy=-0.05)
    move("lid_up", [40, 41, 46, 47], dy=0.015)
    move("squint", [37, 38, 43, 44], dy=0.025)
    move("squint", [40, 41, 46, 47], dy=-0.03)
    return blend


def _rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``[T, 3, 3]`` rotations (radians): yaw about the vertical axis (positive turns the nose to the image's
    right, the subject's left), then pitch (positive tips the chin down), then roll in the image plane."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    one, zero = np.ones_like(yaw), np.zeros_like(yaw)
    r_yaw = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1),
                      np.stack([-sy, zero, cy], -1)], -2)
    r_pitch = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, sp], -1),
                        np.stack([zero, -sp, cp], -1)], -2)
    r_roll = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1),
                       np.stack([zero, zero, one], -1)], -2)
    return r_roll @ r_pitch @ r_yaw


# -------------------------------------------------------------------------------------------- motion


@attrs.frozen(kw_only=True)
class Performance:
    """Per-frame expression parameters: ``channels`` ``[T, len(CHANNELS)]``, eye ``closure`` ``[T, 2]``
    (right, left; 1 = shut), the expression's head rotation ``turn`` ``[T, 3]`` (yaw, pitch, roll in degrees,
    added to the clip's resting pose) and ``shift`` ``[T, 2]`` (a drift, in face units)."""

    channels: np.ndarray
    closure: np.ndarray
    turn: np.ndarray
    shift: np.ndarray


def _soften(angle: np.ndarray, limit: float, knee: float = 40.0) -> np.ndarray:
    """``angle`` unchanged within ``knee`` degrees, eased beyond it so that it never passes ``limit``."""
    over = np.abs(angle) - knee
    eased = knee + (limit - knee) * np.tanh(np.maximum(over, 0) / (limit - knee))
    return np.where(over > 0, np.sign(angle) * eased, angle)


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, scale: float) -> np.ndarray:
    """Two slow sines: an idle sway that is smooth in time and stays within ``2 * scale``."""
    noise = np.zeros_like(t)
    for _ in range(2):
        noise += rng.uniform(-1, 1) * scale * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return noise


def _envelope(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """How strongly a held expression shows over the clip, in [0, 1]: already on (cut from the middle of it),
    coming on at some point, or coming on and going off again."""
    kind = rng.choice(3, p=[0.35, 0.4, 0.25])
    if kind == 0:
        return 1.0 - 0.12 * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 2 * np.pi)))
    start, rise = rng.uniform(-0.1, 0.3), rng.uniform(0.12, 0.3)
    level = _smoothstep((t - start) / rise)
    if kind == 2:
        end, fall = rng.uniform(0.7, 1.0), rng.uniform(0.12, 0.25)
        level = level * (1 - _smoothstep((t - end) / fall))
    return level


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _blinks(rng: np.random.Generator, t: np.ndarray, frames: int, count: int) -> np.ndarray:
    """Lid closure ``[T]`` of ``count`` blinks: each shuts the eyes fully for at least one frame, and the eyes
    are open in the first frame."""
    closure = np.zeros_like(t)
    width = rng.uniform(max(0.08, 1.5 / frames), max(0.14, 1.6 / frames))
    early = min(width + 0.02, 0.5)
    centres = ([rng.uniform(early, 0.88)] if count == 1
               else [rng.uniform(early, max(early, 0.4)), rng.uniform(0.6, 0.9)])
    for centre in centres:
        closure = np.maximum(closure, np.clip((1 - np.abs(t - centre) / width) * 1.7, 0, 1))
    return closure


def expression_motion(expression: str, frames: int, rng: np.random.Generator, *, amplitude: float,
                      translate: bool = True) -> Performance:
    """Sample one performance of ``expression``: random speed, amplitude, timing, phase and idle sway."""
    t = np.linspace(0.0, 1.0, frames, endpoint=False)
    a = amplitude
    strength: dict[str, np.ndarray | float] = dict.fromkeys(CHANNELS, 0.0)  # channel -> [T] (or 0)
    closure = np.zeros((frames, 2))
    turn = np.zeros((frames, 3))

    if expression in ("smile", "surprise", "anger", "sadness"):
        level = a * rng.uniform(0.85, 1.1) * _envelope(rng, t)
        if expression == "smile":
            strength["smile"] = level
            strength["part"] = level * rng.uniform(0.0, 0.6)
            strength["jaw"] = level * rng.uniform(0.0, 0.12)
            strength["squint"] = level * 0.6
        elif expression == "surprise":
            strength["brow_up"] = level
            strength["lid_up"] = level
            strength["jaw"] = level * rng.uniform(0.6, 0.85)
            strength["round"] = level * rng.uniform(0.5, 0.9)
            strength["part"] = level * 0.5
        elif expression == "anger":
            strength["brow_down"] = level
            strength["squint"] = level * 0.9
            strength["press"] = level
        else:
            strength["brow_inner_up"] = level
            strength["frown"] = level
            strength["squint"] = level * 0.35
    elif expression == "blink":
        closure[:] = _blinks(rng, t, frames, 1 + int(rng.random() < 0.4))[:, None]
    elif expression == "talk":
        cycles = rng.uniform(1.8, 3.5)
        wobble = rng.uniform(0.0, 0.12)
        phase = 2 * np.pi * (cycles * t + wobble * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 6)))
        phase = phase + rng.uniform(0, 2 * np.pi)
        accent = 0.25 * np.sin(2 * np.pi * rng.uniform(0.6, 1.6) * t + rng.uniform(0, 2 * np.pi))
        opening = np.clip(0.5 + 0.6 * np.sin(phase) + accent, 0, 1)
        strength["jaw"] = a * 0.75 * opening
        strength["part"] = a * rng.uniform(0.3, 0.7) * opening
        rounding = np.clip(0.4 + 0.6 * np.sin(0.6 * phase + rng.uniform(0, 6)), 0, 1)  # "oo" against "ee"
        strength["round"] = rounding * rng.uniform(0, 0.8)
        strength["brow_up"] = 0.15 * a * np.maximum(0, accent)
    elif expression == "head-turn":
        start, duration = rng.uniform(-0.1, 0.2), rng.uniform(0.7, 1.1)
        u = (t - start) / duration
        rise, hold = rng.uniform(0.25, 0.4), rng.uniform(0.0, 0.3)
        bump = _smoothstep(u / rise) * (1 - _smoothstep((u - rise - hold) / max(1e-3, 1 - rise - hold)))
        turn[:, 0] = rng.choice([-1.0, 1.0]) * a * rng.uniform(22, 34) * bump
    elif expression == "nod":
        start, duration = rng.uniform(-0.05, 0.2), rng.uniform(0.6, 0.95)
        u = np.clip((t - start) / duration, 0, 1)
        nods = 1 + int(rng.random() < 0.5)
        turn[:, 1] = a * rng.uniform(12, 20) * (1 - np.cos(2 * np.pi * nods * u)) / 2
    else:
        raise ValueError(f"unknown expression {expression!r}; expressions: {', '.join(EXPRESSIONS)}")

    if expression != "blink" and rng.random() < 0.1:  # now and then a natural blink
        closure[:] = np.maximum(closure, _blinks(rng, t, frames, 1)[:, None])
    for axis in range(3):
        turn[:, axis] += _smooth_noise(rng, t, SWAY)
    shift = np.zeros((frames, 2))
    if translate:
        shift += rng.uniform(-0.12, 0.12, 2) * (t[:, None] - 0.5) * 2
    channels = np.stack([np.broadcast_to(strength[name], (frames,)) for name in CHANNELS], axis=-1)
    return Performance(channels=channels, closure=closure, turn=turn, shift=shift)


def ease_in(performance: Performance, frames: int) -> Performance:
    """The same performance started from a neutral face looking ahead: the expression channels, the head's
    turn and drift blend from rest into the performance over the first ``frames`` frames (a smoothstep).
    Blinks are left as they are: they start and end with open eyes, at rest or not."""
    steps = performance.channels.shape[0]
    ramp = np.clip(np.arange(steps) / max(frames, 1), 0.0, 1.0)
    weight = (ramp * ramp * (3 - 2 * ramp))[:, None]
    return Performance(channels=performance.channels * weight, closure=performance.closure,
                       turn=performance.turn * weight, shift=performance.shift * weight)


def pose_face(shape: FaceShape, performance: Performance) -> np.ndarray:
    """The head's points ``[T, POINTS, 3]`` in face units, deformed by the expression (before the head turns)."""
    frames = performance.channels.shape[0]
    points = np.repeat(shape.points[None], frames, axis=0)
    points[:, :LANDMARKS] += np.einsum("tc,ckd->tkd", performance.channels, shape.blend)
    for eye, pairs in ((0, UPPER_LIDS[:2]), (1, UPPER_LIDS[2:])):
        c = performance.closure[:, eye, None]
        for upper, lower in pairs:  # the lids meet on a line a third of the way down from the upper one
            line = 0.3 * points[:, upper] + 0.7 * points[:, lower]
            points[:, upper] = line + (points[:, upper] - line) * (1 - c)
            points[:, lower] = line + (points[:, lower] - line) * (1 - c)
    return points


def project(points: np.ndarray, pose: np.ndarray, centre: np.ndarray, scale: float) -> np.ndarray:
    """Pixel positions ``[T, P, 2]`` of head points ``[T, P, 3]`` turned by ``pose`` ``[T, 3]`` (yaw, pitch,
    roll in degrees) about :data:`PIVOT`, seen in mild perspective, the face's origin at ``centre`` ``[T, 2]``
    and ``scale`` pixels per face unit."""
    rotation = _rotation(*np.deg2rad(pose).T)
    turned = np.einsum("tij,tpj->tpi", rotation, points - PIVOT) + PIVOT
    depth = FOCAL / (FOCAL - turned[..., 2:])
    return centre[:, None, :] + scale * depth * turned[..., :2]


# ------------------------------------------------------------------------------------------- dataset


@attrs.frozen(kw_only=True)
class _Identity:
    look: FaceLook
    shape: FaceShape
    size: float  # the face's height as a share of the frame
    offset: np.ndarray  # the face's centre from the frame's, in shares of the frame
    base: np.ndarray  # the background [H, W, 3]


class SyntheticFaces(ProceduralClips):
    """Procedural faces making 8 expressions (smile, surprise, anger, sadness, blink, talk, head-turn, nod);
    exact 68-point landmarks."""

    splits = SPLITS
    skeleton = "face-68"  # the faces are built landmark by landmark in iBUG 300-W order
    all_classes, class_kind = EXPRESSIONS, "expressions"
    default_clips, default_identities, identity_group = DEFAULT_CLIPS, DEFAULT_IDENTITIES, _IDENTITY_GROUP

    def __init__(
        self,
        *,
        split: str = "train",
        resolution: int = 64,
        frames: int = 16,
        clips: int | None = None,
        identities: int | None = None,
        expressions: Sequence[str] | None = None,
        translate: bool = True,
        render: bool = True,
        onset: float = 0.5,
        seed: int = 0,
    ) -> None:
        """
        :param expressions: a subset of :data:`EXPRESSIONS` to use as the classes (default: all, in order).
        :param translate: let the head drift a little across the frame during a clip.
        :param onset: the share of clips that begin with a neutral face looking ahead and ease into the
            expression over their first quarter to half; the others are cut from the middle of a performance.
        """
        super().__init__(split=split, resolution=resolution, frames=frames, clips=clips, identities=identities,
                         classes=expressions, translate=translate, render=render, onset=onset, seed=seed)

    def _make_identity(self, identity: int) -> _Identity:
        rng = np.random.default_rng([self.seed, _IDENTITY_GROUP[self.split], identity, 11])
        look = FaceLook.sample(rng)
        shape = FaceShape.sample(rng, look.hair_style)
        return _Identity(look=look, shape=shape, size=float(rng.uniform(*TRAIN_FACE_SIZE)),
                         offset=rng.uniform(-0.04, 0.04, 2), base=background(look, self.resolution))

    def sample(self, index: int, frames: Sequence[int] | None = None, *,
               render: bool | None = None) -> dict[str, np.ndarray | int | float]:
        """One clip as numpy: frames uint8 ``[T, H, W, 3]`` (unless ``render`` or, where None, the dataset's
        ``render`` is False: landmarks only, much faster), keypoints ``[T, 68, 3]``, label, identity, the
        expression's ``amplitude``, the head's pose ``head_pose`` ``[T, 3]`` (yaw, pitch, roll in degrees) and
        ``face_size`` (the neutral face's height, forehead to chin, as a share of the frame); with ``frames``,
        those time indices alone."""
        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip {index} out of range for {self.num_clips} clips")
        rng = np.random.default_rng([self.seed, _SPLIT_CODE[self.split], index])
        label = self.label_of(index)  # the classes in turn
        identity = int(rng.integers(self.num_identities))
        person = self._identity(identity)
        unseen = self.split == "unseen-pose"
        amplitude = rng.uniform(*(UNSEEN_AMPLITUDE if unseen else TRAIN_AMPLITUDE))
        performance = expression_motion(self.classes[label], self.frames, rng, amplitude=amplitude,
                                        translate=self.translate)
        # Drawn after the performance, so a clip's expression, speed and timing do not depend on `onset`.
        eased = rng.uniform() < self.onset
        ramp = int(rng.integers(max(1, self.frames // 4), max(2, self.frames // 2) + 1))
        if eased:
            performance = ease_in(performance, ramp)
        if unseen:  # a head turned, tipped and tilted further, and a face smaller or larger, than ever in training
            rest = np.array([rng.uniform(*r) for r in UNSEEN_REST_POSE]) * rng.choice([-1.0, 1.0], 3)
            size = rng.uniform(*UNSEEN_FACE_SIZE[int(rng.integers(2))])
            offset = rng.uniform(0.06, 0.1, 2) * rng.choice([-1.0, 1.0], 2)
        else:
            rest = rng.uniform(-1, 1, 3) * TRAIN_REST_POSE
            size, offset = person.size, person.offset
        pose = rest[None, :] + performance.turn  # [T, 3]
        pose[:, 0] = _soften(pose[:, 0], YAW_LIMIT)
        scale = size * self.resolution / person.shape.height  # pixels per face unit
        middle = (self.resolution - 1) / 2 + offset * self.resolution
        # The face's origin (on the nose) sits so that the forehead-to-chin span is centred.
        origin = middle - np.array([0.0, (HAIRLINE_TOP + person.shape.height / 2) * scale])
        centre = origin[None, :] + performance.shift * scale
        points = project(pose_face(person.shape, performance), pose, centre, scale)  # [T, POINTS, 2]
        if frames is not None:
            keep = np.asarray(frames, dtype=np.int64)
            points, pose = points[keep], pose[keep]  # [F, POINTS, 2], [F, 3]
        landmarks = points[:, :LANDMARKS]
        inside = ((landmarks >= 0) & (landmarks <= self.resolution - 1)).all(axis=-1)
        keypoints = np.concatenate([landmarks, inside[..., None]], axis=-1).astype(np.float32)
        clip = {"keypoints": keypoints, "label": label, "identity": self.identity_id(identity),
                "amplitude": float(amplitude), "head_pose": pose.astype(np.float32), "face_size": float(size)}
        gaze = rng.uniform(-0.12, 0.12, 2) * [1.0, 0.5]  # where the eyes look, in eye half-widths
        if self.render if render is None else render:  # the call's choice, else the dataset's
            parts = {name: points[:, where] for name, where in _PART_SLICES.items()}
            pixels = render_face(landmarks, parts, person.look, person.base, scale=scale,
                                 roll=np.deg2rad(pose[:, 2]), gaze=gaze)  # [T, H, W, 3] in [0, 1]
            clip["frames"] = (pixels * 255 + 0.5).astype(np.uint8)
        return clip
