"""Rendering a skeleton as a person: shaded capsules for limbs, a torso, a head with hair and a face.

Everything is vectorised over the T frames of a clip, and each body part is painted only inside the
bounding box it sweeps over the clip, which keeps a 64x64 clip at a few milliseconds.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 86], [160, 102, 62], [110, 70, 45], [80, 52, 36]],
    dtype=np.float32,
) / 255.0
HAIR_COLOURS = np.array(
    [[30, 22, 18], [70, 45, 25], [120, 80, 40], [200, 160, 90], [150, 60, 30], [90, 90, 90], [20, 20, 30]],
    dtype=np.float32,
) / 255.0
TEXTURES = ("plain", "horizontal-stripes", "vertical-stripes", "checks")


@attrs.frozen(kw_only=True)
class Appearance:
    """How one identity looks: colours in [0, 1] RGB."""

    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    shirt_accent: np.ndarray
    texture: str
    texture_period: float
    pants: np.ndarray
    shoes: np.ndarray
    long_sleeves: bool
    background_top: np.ndarray
    background_bottom: np.ndarray
    floor: np.ndarray
    wall_stripes: float  # contrast of the wall's vertical stripes (0 = none)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Appearance":
        def colour(low: float = 0.05, high: float = 0.95) -> np.ndarray:
            return rng.uniform(low, high, 3).astype(np.float32)

        shirt = colour()
        return cls(
            skin=SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05),
            hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))],
            shirt=shirt,
            shirt_accent=np.clip(1.0 - shirt + rng.normal(0, 0.1, 3), 0, 1).astype(np.float32),
            texture=TEXTURES[rng.integers(len(TEXTURES))],
            texture_period=float(rng.uniform(3.0, 6.0)),
            pants=colour(0.05, 0.7),
            shoes=colour(0.0, 0.35),
            long_sleeves=bool(rng.random() < 0.5),
            background_top=colour(0.3, 1.0),
            background_bottom=colour(0.2, 0.9),
            floor=colour(0.15, 0.7),
            wall_stripes=float(rng.choice([0.0, 0.0, 0.06, 0.12])),
        )


def background(look: Appearance, size: int, floor_y: float) -> np.ndarray:
    """The still background ``[H, W, 3]``: a wall gradient with optional stripes, and a floor."""
    ys = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    wall = look.background_top * (1 - ys) + look.background_bottom * ys
    if look.wall_stripes:
        xs = np.arange(size, dtype=np.float32)[None, :, None]
        wall = wall * (1 - look.wall_stripes * (np.sin(xs * 2 * np.pi / (size / 6)) > 0))
    wall = np.broadcast_to(wall, (size, size, 3)).copy()
    rows = np.arange(size)
    floor_rows = rows[rows >= floor_y]
    wall[floor_rows] = look.floor * (0.85 + 0.15 * (floor_rows[:, None, None] - floor_y) / size)
    return wall


def _unit_interval(x: np.ndarray) -> np.ndarray:
    """``x`` (a temporary: changed in place) clipped to [0, 1]: ``np.clip``'s values without its overhead,
    which is a third of a small capsule's time."""
    return np.minimum(np.maximum(x, 0.0, out=x), 1.0, out=x)


class Canvas:
    """A clip ``[T, H, W, 3]`` that body parts are painted on, back to front."""

    def __init__(self, base: np.ndarray, frames: int) -> None:
        self.size = base.shape[0]
        self.pixels = np.repeat(base[None], frames, axis=0).astype(np.float32)
        grid = np.arange(self.size, dtype=np.float32)
        self.xs, self.ys = grid[None, None, :], grid[None, :, None]

    def _box(self, points: np.ndarray, radius: float) -> tuple[slice, slice] | None:
        # Python numbers: a box is 4 of them, and NumPy's clip costs more than the arithmetic here.
        (x0, y0), (x1, y1) = points.min(axis=(0, 1)).tolist(), points.max(axis=(0, 1)).tolist()
        left, top = (min(max(math.floor(v - radius - 1), 0), self.size) for v in (x0, y0))
        right, bottom = (min(max(math.ceil(v + radius + 2), 0), self.size) for v in (x1, y1))
        if right <= left or bottom <= top:
            return None
        return slice(top, bottom), slice(left, right)

    def capsule(self, a: np.ndarray, b: np.ndarray, radius: float, colour, *, shade: float = 0.35) -> None:
        """Paint a segment ``a -> b`` (``[T, 2]`` each) of ``radius``, shaded like a cylinder.

        ``colour``: an RGB ``[3]``, or a function ``(xs, ys) -> [T, h, w, 3]`` for textures.
        """
        box = self._box(np.stack([a, b], axis=1), radius)
        if box is None:
            return
        rows, cols = box
        xs, ys = self.xs[:, :, cols], self.ys[:, rows, :]
        ax, ay = a[:, 0, None, None], a[:, 1, None, None]
        dx, dy = (b[:, 0] - a[:, 0])[:, None, None], (b[:, 1] - a[:, 1])[:, None, None]
        length2 = np.maximum(dx * dx + dy * dy, 1e-6)
        along = _unit_interval(((xs - ax) * dx + (ys - ay) * dy) / length2)
        distance = np.sqrt((xs - ax - along * dx) ** 2 + (ys - ay - along * dy) ** 2)  # [T, h, w]
        self._composite(rows, cols, distance, radius, colour, shade)

    def disc(self, centre: np.ndarray, radius: float, colour, *, shade: float = 0.25) -> None:
        """Paint a disc at ``centre`` ``[T, 2]``."""
        box = self._box(centre[:, None, :], radius)
        if box is None:
            return
        rows, cols = box
        xs, ys = self.xs[:, :, cols], self.ys[:, rows, :]
        distance = np.sqrt((xs - centre[:, 0, None, None]) ** 2 + (ys - centre[:, 1, None, None]) ** 2)
        self._composite(rows, cols, distance, radius, colour, shade)

    def _composite(self, rows: slice, cols: slice, distance: np.ndarray, radius: float, colour, shade: float) -> None:
        alpha = _unit_interval(radius - distance + 0.5)[..., None]  # anti-aliased edge
        lit = (1.0 - shade * np.minimum(distance / max(radius, 1e-3), 1.0) ** 2)[..., None]
        paint = colour(self.xs[:, :, cols], self.ys[:, rows, :]) if callable(colour) else colour
        region = self.pixels[:, rows, cols]
        region += alpha * (paint * lit - region)


def textured(look: Appearance, anchor: np.ndarray):
    """The shirt's colour function, its pattern anchored to a moving point ``[T, 2]`` (the neck)."""
    base, accent, period = look.shirt, look.shirt_accent, look.texture_period

    def paint(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        if look.texture == "plain":
            return base
        u = xs - anchor[:, 0, None, None]
        v = ys - anchor[:, 1, None, None]
        if look.texture == "horizontal-stripes":
            mask = np.sin(v * np.pi / period) > 0
        elif look.texture == "vertical-stripes":
            mask = np.sin(u * np.pi / period) > 0
        else:
            mask = (np.sin(u * np.pi / period) > 0) ^ (np.sin(v * np.pi / period) > 0)
        return np.where(mask[..., None], accent, base)

    return paint


def render_person(joints: np.ndarray, look: Appearance, body, base: np.ndarray) -> np.ndarray:
    """Frames ``[T, H, W, 3]`` float in [0, 1] of a person at ``joints`` ``[T, 18, 2]`` on ``base``."""
    frames = joints.shape[0]
    canvas = Canvas(base, frames)
    j = lambda i: joints[:, i]  # noqa: E731
    limb = body.limb
    shirt = textured(look, j(1))
    sleeve = shirt if look.long_sleeves else look.skin

    for hip, knee, ankle, sign in ((8, 9, 10, -1), (11, 12, 13, 1)):  # legs, then feet
        canvas.capsule(j(hip), j(knee), limb * 1.3, look.pants)
        canvas.capsule(j(knee), j(ankle), limb * 1.1, look.pants)
        toe = j(ankle) + np.array([sign * limb * 1.6, limb * 0.3])
        canvas.capsule(j(ankle), toe, limb * 0.8, look.shoes, shade=0.2)
    canvas.capsule(j(8), j(11), limb * 1.6, look.pants)  # hips
    mid_shoulder = (j(2) + j(5)) / 2
    mid_hip = (j(8) + j(11)) / 2
    torso_radius = body.shoulder * 0.85
    canvas.capsule(mid_shoulder + (mid_hip - mid_shoulder) * 0.25, mid_hip, torso_radius, shirt, shade=0.3)
    canvas.capsule(j(2), j(5), limb * 1.25, shirt, shade=0.3)  # shoulder line
    canvas.capsule(j(1), j(1) + (j(0) - j(1)) * 0.5, limb * 0.9, look.skin)  # neck
    head = j(0) + (j(0) - j(1)) / np.linalg.norm(j(0) - j(1), axis=-1, keepdims=True).clip(1e-6) * body.head * 0.15
    up = (j(1) - mid_hip) / np.linalg.norm(j(1) - mid_hip, axis=-1, keepdims=True).clip(1e-6)
    canvas.disc(head + up * body.head * 0.2, body.head * 1.05, look.hair, shade=0.2)
    canvas.disc(head - up * body.head * 0.08, body.head * 0.9, look.skin)
    eye = max(body.head * 0.12, 0.6)
    canvas.disc(j(14), eye, np.array([0.1, 0.08, 0.08], np.float32), shade=0.0)
    canvas.disc(j(15), eye, np.array([0.1, 0.08, 0.08], np.float32), shade=0.0)
    mouth = head - up * body.head * 0.45
    across = np.stack([-up[:, 1], up[:, 0]], axis=-1)
    canvas.capsule(mouth - across * body.head * 0.25, mouth + across * body.head * 0.25, eye * 0.6,
                   np.array([0.55, 0.2, 0.2], np.float32), shade=0.0)
    for shoulder, elbow, wrist in ((2, 3, 4), (5, 6, 7)):  # arms last: they pass in front of the body
        canvas.capsule(j(shoulder), j(elbow), limb, shirt)
        canvas.capsule(j(elbow), j(wrist), limb * 0.85, sleeve)
        canvas.disc(j(wrist), limb * 1.05, look.skin)
    return np.clip(canvas.pixels, 0.0, 1.0)
