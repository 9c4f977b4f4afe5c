"""Rendering a face from its 68 landmarks: filled polygons, strokes and discs, vectorised over a clip's frames.

Every shape is a polygon in pixel coordinates ``[T, N, 2]`` (pixel centres at integers), filled by a scanline
rasteriser: each edge's crossings of a few sub-rows per pixel row are scattered into a ``[T, rows, W]`` array
and summed along the row, which gives the winding number with horizontal coverage anti-aliased; averaging the
sub-rows anti-aliases vertically. Its cost grows with ``T x rows x (edges + W)``, not with pixels x edges, and
each shape is painted only inside the bounding box it sweeps over the clip. The features are drawn from the
landmarks themselves (the face outline through the jaw points, the eyes' and lips' outlines through theirs,
the brows along theirs), so the landmarks are exact.
"""

from __future__ import annotations

import attrs
import numpy as np

from pgvg_data.render import HAIR_COLOURS, SKIN_TONES

HAIR_STYLES = ("short", "long", "fringe", "bald")
IRIS_COLOURS = np.array(
    [[70, 42, 22], [105, 70, 35], [60, 90, 140], [80, 120, 90], [110, 110, 120], [40, 28, 20]], dtype=np.float32
) / 255.0
MOUTH = np.array([0.22, 0.06, 0.07], np.float32)  # the inside of an open mouth
TEETH = np.array([0.93, 0.91, 0.86], np.float32)
SCLERA = np.array([0.95, 0.94, 0.92], np.float32)
PUPIL = np.array([0.04, 0.03, 0.03], np.float32)


def _far_from(colour: np.ndarray, others: list[np.ndarray], distance: float) -> bool:
    """Whether ``colour`` differs from each of ``others`` by at least ``distance`` (sum over RGB in [0, 1])."""
    return all(np.abs(colour - other).sum() >= distance for other in others)


@attrs.frozen(kw_only=True)
class FaceLook:
    """How one identity looks: colours in [0, 1] RGB and a few style choices."""

    skin: np.ndarray
    lips: np.ndarray
    brows: np.ndarray
    hair: np.ndarray
    hair_style: str  # one of HAIR_STYLES
    iris: np.ndarray
    glasses: np.ndarray | None  # frame colour, None without glasses
    shirt: np.ndarray
    background_top: np.ndarray
    background_bottom: np.ndarray
    background_kind: str  # "vertical", "horizontal" or "radial" gradient
    light: float  # horizontal direction of the light on the face, -1 (image left) .. 1

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "FaceLook":
        skin = (SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05)).clip(0, 1).astype(np.float32)
        # Lips: the skin reddened and darkened, always visibly apart from it.
        tint = np.array([0.72, 0.42, 0.45], np.float32) * rng.uniform(0.85, 1.05)
        lips = (skin * tint + np.array([0.18, 0.02, 0.05], np.float32) * rng.uniform(0.6, 1.2)).clip(0, 1)
        hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.9, 1.1)
        while not _far_from(hair, [skin], 0.35):  # e.g. blond on fair skin: darker hair instead
            hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.6, 1.1)
        hair = hair.clip(0, 1).astype(np.float32)
        brows = (hair * rng.uniform(0.55, 0.8)).astype(np.float32)

        def colour(low: float, high: float, avoid: list[np.ndarray]) -> np.ndarray:
            while True:  # backgrounds, shirts and glasses never blend into the face
                value = rng.uniform(low, high, 3).astype(np.float32)
                if _far_from(value, avoid, 0.4):
                    return value

        while True:  # the gradient in between keeps away from the skin too
            top, bottom = colour(0.15, 1.0, [skin, hair]), colour(0.1, 0.9, [skin, hair])
            if all(_far_from(top * (1 - w) + bottom * w, [skin], 0.3) for w in (0.25, 0.5, 0.75)):
                break
        glasses = colour(0.0, 0.45, [skin]) if rng.random() < 0.25 else None
        return cls(
            skin=skin,
            lips=lips.astype(np.float32),
            brows=brows,
            hair=hair,
            hair_style=HAIR_STYLES[rng.integers(len(HAIR_STYLES))],
            iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))],
            glasses=glasses,
            shirt=colour(0.05, 0.95, [skin]),
            background_top=top,
            background_bottom=bottom,
            background_kind=("vertical", "horizontal", "radial")[rng.integers(3)],
            light=float(rng.uniform(-1, 1)),
        )


def background(look: FaceLook, size: int) -> np.ndarray:
    """The still background ``[H, W, 3]``: a gradient between two colours."""
    grid = np.linspace(0, 1, size, dtype=np.float32)
    if look.background_kind == "vertical":
        w = np.broadcast_to(grid[:, None], (size, size))
    elif look.background_kind == "horizontal":
        w = np.broadcast_to(grid[None, :], (size, size))
    else:
        w = np.sqrt((grid[:, None] - 0.5) ** 2 + (grid[None, :] - 0.5) ** 2) / np.sqrt(0.5)
    w = w[..., None]
    return (look.background_top * (1 - w) + look.background_bottom * w).astype(np.float32)


# ----------------------------------------------------------------------------------------- rasterising


def smooth_curve(points: np.ndarray, *, closed: bool, steps: int = 3) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` ``[T, N, 2]``: ``steps`` points per segment, passing through
    every input point (so outlines drawn from it go exactly through the landmarks)."""
    if closed:
        p0, p1, p2, p3 = (np.roll(points, shift, axis=1) for shift in (1, 0, -1, -2))
    else:
        padded = np.concatenate([2 * points[:, :1] - points[:, 1:2], points, 2 * points[:, -1:] - points[:, -2:-1]], 1)
        p0, p1, p2, p3 = padded[:, :-3], padded[:, 1:-2], padded[:, 2:-1], padded[:, 3:]
    s = (np.arange(steps, dtype=np.float32) / steps)[None, None, :, None]
    s2, s3 = s * s, s * s * s
    p0, p1, p2, p3 = (p[:, :, None, :] for p in (p0, p1, p2, p3))
    curve = 0.5 * (2 * p1 + (-p0 + p2) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s2 + (-p0 + 3 * p1 - 3 * p2 + p3) * s3)
    curve = curve.reshape(points.shape[0], -1, 2)
    return curve if closed else np.concatenate([curve[:, : (points.shape[1] - 1) * steps], points[:, -1:]], 1)


def stroke(points: np.ndarray, width: np.ndarray | float) -> np.ndarray:
    """The outline ``[T, 2N, 2]`` of a polyline ``[T, N, 2]`` drawn ``width`` pixels wide (a scalar, or ``[N]``
    to taper it), its ends extended by half a width: a polygon to fill."""
    width = np.broadcast_to(np.asarray(width, np.float32), points.shape[1])
    tangent = np.zeros_like(points)
    tangent[:, 1:-1] = points[:, 2:] - points[:, :-2]
    tangent[:, 0] = points[:, 1] - points[:, 0]
    tangent[:, -1] = points[:, -1] - points[:, -2]
    tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True).clip(1e-6)
    normal = np.stack([-tangent[..., 1], tangent[..., 0]], axis=-1) * (width[None, :, None] / 2)
    ends = points.copy()
    ends[:, 0] -= tangent[:, 0] * width[0] / 2
    ends[:, -1] += tangent[:, -1] * width[-1] / 2
    return np.concatenate([ends + normal, (ends - normal)[:, ::-1]], axis=1)


def ellipse(centre: np.ndarray, axis_x: np.ndarray, axis_y: np.ndarray, count: int = 20) -> np.ndarray:
    """A polygon ``[T, count, 2]`` round an ellipse: ``centre`` and two semi-axis vectors, each ``[T, 2]``."""
    angle = np.linspace(0, 2 * np.pi, count, endpoint=False, dtype=np.float32)
    return (centre[:, None] + np.cos(angle)[None, :, None] * axis_x[:, None] + np.sin(angle)[None, :, None]
            * axis_y[:, None])


class FaceCanvas:
    """A clip ``[T, H, W, 3]`` that shapes are painted on, back to front."""

    def __init__(self, base: np.ndarray, frames: int, *, subrows: int = 3) -> None:
        self.size = base.shape[0]
        self.pixels = np.repeat(base[None], frames, axis=0).astype(np.float32)
        self.frames = frames
        self.offsets = ((np.arange(subrows, dtype=np.float32) + 0.5) / subrows - 0.5)
        grid = np.arange(self.size, dtype=np.float32)
        self.xs, self.ys = grid[None, None, :], grid[None, :, None]

    def box(self, points: np.ndarray, margin: float = 1.0) -> tuple[slice, slice] | None:
        """Rows and columns that points ``[T, N, 2]`` (plus ``margin``) cover in any frame; None if off-frame."""
        finite = points[np.isfinite(points).all(-1)]
        if finite.size == 0:
            return None
        low = np.floor(finite.min(axis=0) - margin).astype(int).clip(0, self.size)
        high = np.ceil(finite.max(axis=0) + margin + 1).astype(int).clip(0, self.size)
        if (high <= low).any():
            return None
        return slice(low[1], high[1]), slice(low[0], high[0])

    def coverage(self, polygon: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
        """Anti-aliased coverage ``[T, h, w]`` in [0, 1] of a closed polygon ``[T, N, 2]`` inside ``box``
        (non-zero winding)."""
        rows, cols = box
        frames, count = polygon.shape[:2]
        sub = len(self.offsets)
        height, width = rows.stop - rows.start, cols.stop - cols.start
        ys = (np.arange(rows.start, rows.stop, dtype=np.float32)[:, None] + self.offsets[None, :]).reshape(-1)
        polygon = polygon.astype(np.float32)
        nxt = np.roll(polygon, -1, axis=1)
        below = polygon[:, None, :, 1] <= ys[None, :, None]  # [T, R, N]: vertex above sample row
        crossing = below != np.roll(below, -1, axis=2)  # the edge from each vertex to the next crosses it
        t_index, r_index, e_index = np.nonzero(crossing)
        if t_index.size == 0:
            return np.zeros((frames, height, width), np.float32)
        ex0, ey0 = polygon[t_index, e_index, 0], polygon[t_index, e_index, 1]
        ex1, ey1 = nxt[t_index, e_index, 0], nxt[t_index, e_index, 1]
        xc = ex0 + (ys[r_index] - ey0) * (ex1 - ex0) / (ey1 - ey0) - cols.start
        direction = np.where(ey1 > ey0, 1.0, -1.0).astype(np.float32)
        k = np.floor(xc + 0.5)
        frac = (xc + 0.5 - k).astype(np.float32)
        k = k.astype(np.int64)
        base = (t_index * (height * sub) + r_index) * (width + 1)
        size = frames * height * sub * (width + 1)
        # Each crossing adds its direction to the pixels right of it: part to the pixel it falls in, the rest
        # from the next one on; the running sum along the row is then the (anti-aliased) winding number.
        delta = np.bincount(np.concatenate([base + np.clip(k, 0, width), base + np.clip(k + 1, 0, width)]),
                            np.concatenate([direction * (1 - frac), direction * frac]), minlength=size)
        winding = np.cumsum(delta.reshape(frames, height, sub, width + 1)[..., :width], axis=-1)
        return np.minimum(np.abs(winding), 1.0).mean(axis=2).astype(np.float32)

    def fill(self, polygon: np.ndarray, colour, *, alpha: np.ndarray | float = 1.0, clip=None) -> None:
        """Paint a polygon ``[T, N, 2]``. ``colour``: RGB ``[3]`` or a function ``(xs, ys) -> [T, h, w, 3]``;
        ``alpha``: a per-frame opacity ``[T]`` or a scalar; ``clip``: an earlier :meth:`mask` to paint inside."""
        box = self.box(polygon)
        if box is None:
            return
        cover = self.coverage(polygon, box)
        self._composite(box, cover, colour, alpha, clip)

    def mask(self, polygon: np.ndarray) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """A polygon's box and coverage, to paint with :meth:`paint` and clip later shapes (an iris to its
        eye) with; None when it is off the frame."""
        box = self.box(polygon)
        return None if box is None else (box, self.coverage(polygon, box))

    def paint(self, mask: tuple[tuple[slice, slice], np.ndarray], colour, *, alpha: np.ndarray | float = 1.0) -> None:
        """Paint the shape of an earlier :meth:`mask`."""
        self._composite(mask[0], mask[1], colour, alpha, None)

    def disc(self, centre: np.ndarray, radius: np.ndarray | float, colour, *, clip=None) -> None:
        """Paint discs at ``centre`` ``[T, 2]`` of ``radius`` pixels (scalar or ``[T]``), anti-aliased."""
        radius = np.broadcast_to(np.asarray(radius, np.float32), (centre.shape[0],))
        if clip is not None:
            box = clip[0]
        else:
            box = self.box(centre[:, None, :], float(radius.max()) + 1)
        if box is None:
            return
        rows, cols = box
        r = radius[:, None, None]
        distance = np.sqrt((self.xs[:, :, cols] - centre[:, 0, None, None]) ** 2
                           + (self.ys[:, rows, :] - centre[:, 1, None, None]) ** 2)
        self._composite(box, np.clip(r - distance + 0.5, 0.0, 1.0), colour, 1.0, clip)

    def _composite(self, box, cover: np.ndarray, colour, alpha, clip) -> None:
        rows, cols = box
        if clip is not None:
            clip_box, clip_cover = clip
            cover = cover * _crop(clip_cover, clip_box, box)
        alpha = np.asarray(alpha, np.float32)
        if alpha.ndim == 1:
            alpha = alpha[:, None, None]
        weight = (cover * alpha)[..., None]
        paint = colour(self.xs[:, :, cols], self.ys[:, rows, :]) if callable(colour) else colour
        region = self.pixels[:, rows, cols]
        region += weight * (paint - region)


def _crop(cover: np.ndarray, box: tuple[slice, slice], inner: tuple[slice, slice]) -> np.ndarray:
    """``cover`` (over ``box``) seen over the box ``inner``, zero outside ``box``."""
    frames = cover.shape[0]
    rows, cols = inner
    out = np.zeros((frames, rows.stop - rows.start, cols.stop - cols.start), np.float32)
    r0, r1 = max(rows.start, box[0].start), min(rows.stop, box[0].stop)
    c0, c1 = max(cols.start, box[1].start), min(cols.stop, box[1].stop)
    if r1 > r0 and c1 > c0:
        out[:, r0 - rows.start:r1 - rows.start, c0 - cols.start:c1 - cols.start] = \
            cover[:, r0 - box[0].start:r1 - box[0].start, c0 - box[1].start:c1 - box[1].start]
    return out


def union(*loops: np.ndarray) -> np.ndarray:
    """One polygon covering closed contours ``[T, N_i, 2]`` together (non-zero winding): each turned the same
    way round, then joined by bridges there and back, which cancel."""
    parts = []
    for loop in loops:
        x, y = loop[..., 0], loop[..., 1]
        area = (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)  # twice the signed area
        turned = np.where((area < 0)[:, None, None], loop[:, ::-1], loop)
        parts += [turned, turned[:, :1]]
    return np.concatenate(parts, axis=1)


def _ring(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """One polygon ``[T, 2N + 3, 2]`` for the band between two closed contours (non-zero winding): the outer
    one, then the inner one the other way round, joined by a bridge there and back."""
    return np.concatenate([outer, outer[:, :1], inner[:, :1], inner[:, :0:-1], inner[:, :1]], axis=1)


def render_face(landmarks: np.ndarray, parts: dict[str, np.ndarray], look: FaceLook, base: np.ndarray, *,
                scale: float, roll: np.ndarray, gaze: np.ndarray) -> np.ndarray:
    """Frames ``[T, H, W, 3]`` float in [0, 1] of a face with ``landmarks`` ``[T, 68, 2]`` (pixels) on ``base``.

    :param parts: the rest of the head in pixels, ``[T, n, 2]`` each: ``forehead`` (the face outline's top,
        from the image's right over to its left), ``cranium`` (the skull's centre), ``ear_right``/``ear_left``,
        ``neck`` (two points where the neck meets the head) and ``front_hair`` (the fringe's outline).
    :param scale: pixels per face unit (half the face's width).
    :param roll: the head's tilt in the image plane per frame ``[T]``, radians.
    :param gaze: where the irises sit in the eyes, in eye half-widths ``[2]``.
    """
    frames = landmarks.shape[0]
    canvas = FaceCanvas(base, frames, subrows=3 if base.shape[0] <= 96 else 2)
    s = float(scale)
    lm = landmarks
    across = np.stack([np.cos(roll), np.sin(roll)], axis=-1)  # the head's right-hand direction in the image
    down = np.stack([-np.sin(roll), np.cos(roll)], axis=-1)
    hair_style = look.hair_style

    # Behind the head: hair (or a bald crown), the shoulders and the neck.
    cranium = parts["cranium"][:, 0]
    big = 1.12 if hair_style == "long" else 1.0
    if hair_style == "long":  # hair falling to the shoulders behind the neck
        top = cranium + down * 0.2 * s
        bottom = cranium + down * 2.3 * s
        curtain = np.stack([top - across * 1.3 * s, top + across * 1.3 * s,
                            bottom + across * 1.45 * s, bottom - across * 1.45 * s], axis=1)
        canvas.fill(curtain, look.hair * 0.88)
    if hair_style == "bald":  # a fringe of hair round the back and sides, a bare crown
        canvas.fill(ellipse(cranium + down * 0.35 * s, across * 1.14 * s, down * 0.9 * s), look.hair)
        canvas.fill(ellipse(cranium - down * 0.05 * s, across * 1.08 * s, down * 1.12 * s), look.skin * 0.93)
    else:
        canvas.fill(ellipse(cranium, across * 1.17 * big * s, down * 1.13 * big * s, 24), look.hair)
    neck_top = parts["neck"]
    rest = neck_top.mean(axis=1)  # [T, 2]
    chest = rest + np.array([0.0, 1.2 * s])
    canvas.fill(ellipse(chest + np.array([0.0, 0.75 * s]), np.array([[2.5 * s, 0]] * frames),
                        np.array([[0, 0.95 * s]] * frames), 24), look.shirt)
    neck = np.concatenate([neck_top, chest[:, None] + np.array([[0.5 * s, 0.1 * s], [-0.5 * s, 0.1 * s]])], 1)
    canvas.fill(neck, look.skin * 0.82)
    for ear in ("ear_right", "ear_left"):
        canvas.fill(smooth_curve(parts[ear], closed=True, steps=2), look.skin * 0.84)

    # The face: an outline through the jaw points and over the forehead, shaded round its middle. A head
    # turned far enough brings the nose, lips and chin out past the jaw's outline; each half of the face
    # (jaw, brow and the midline's profile down the nose and lips) is filled too, so they stay on skin.
    outline = smooth_curve(np.concatenate([lm[:, :17], parts["forehead"]], axis=1), closed=True)
    midline = lm[:, [27, 28, 29, 30, 33, 51, 57, 8]]
    halves = [np.concatenate([lm[:, 0:8], midline[:, ::-1], lm[:, 21:16:-1]], axis=1),
              np.concatenate([lm[:, 16:8:-1], midline[:, ::-1], lm[:, 22:27]], axis=1)]
    outline = union(outline, *halves)
    middle = lm[:, 29]
    light = look.light

    def skin(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        u = (xs - middle[:, 0, None, None]) / (1.15 * s)
        v = (ys - middle[:, 1, None, None] + 0.4 * s) / (1.6 * s)
        shade = 1.04 - 0.2 * (u * u + v * v) + 0.07 * light * u
        return look.skin * np.clip(shade, 0.6, 1.1)[..., None]

    canvas.fill(outline, skin)
    if hair_style != "bald":
        canvas.fill(smooth_curve(parts["front_hair"], closed=True, steps=2), look.hair)

    # Brows: thick strokes along the brow points, heavier at the inner end.
    taper = np.linspace(0.55, 1.0, 9) * 0.085 * s
    for brow, widths in ((slice(17, 22), taper), (slice(22, 27), taper[::-1])):
        canvas.fill(stroke(smooth_curve(lm[:, brow], closed=False, steps=2), np.maximum(widths, 0.9)), look.brows)

    # Eyes: the white inside the lids' outline, the iris and pupil clipped to it, a lash line on the upper lid.
    for eye in (slice(36, 42), slice(42, 48)):
        points = lm[:, eye]
        opening = smooth_curve(points, closed=True, steps=3)
        mask = canvas.mask(opening)
        if mask is not None:
            canvas.paint(mask, SCLERA)
            half = np.linalg.norm(points[:, 3] - points[:, 0], axis=-1) / 2  # [T]
            centre = points.mean(axis=1) + half[:, None] * (gaze[0] * across + gaze[1] * down)
            canvas.disc(centre, np.maximum(0.52 * half, 0.7), look.iris, clip=mask)
            canvas.disc(centre, np.maximum(0.3 * half, 0.45), PUPIL, clip=mask)
        lid = smooth_curve(points[:, :4], closed=False, steps=3)
        gap = np.linalg.norm(points[:, 1:3] - points[:, [5, 4]], axis=-1).mean(axis=1)  # [T]
        open_share = np.clip(gap / np.maximum(np.linalg.norm(points[:, 3] - points[:, 0], axis=-1), 1e-6) / 0.3, 0, 1)
        canvas.fill(stroke(lid, max(0.045 * s, 0.6)), look.brows * 0.5, alpha=0.25 + 0.6 * open_share)

    # Nose: a shadow down the bridge on the side away from the light, the nostrils' line under the tip.
    bridge = smooth_curve(lm[:, 28:31], closed=False, steps=2) + across[:, None] * (-np.sign(light or 1) * 0.07 * s)
    canvas.fill(stroke(bridge, max(0.07 * s, 0.7)), look.skin * 0.72, alpha=0.45)
    canvas.fill(stroke(smooth_curve(lm[:, 31:36], closed=False, steps=2), max(0.055 * s, 0.7)), look.skin * 0.55,
                alpha=0.8)

    # Lips: the outer outline filled, the lower lip lighter; an open mouth dark inside, upper teeth showing.
    canvas.fill(smooth_curve(lm[:, 48:60], closed=True), look.lips)
    lower = np.concatenate([lm[:, 54:60], lm[:, 48:49], lm[:, [60, 67, 66, 65, 64]]], axis=1)
    canvas.fill(lower, np.clip(look.lips * 1.12 + 0.02, 0, 1), alpha=0.6)
    inner = smooth_curve(lm[:, 60:68], closed=True, steps=2)
    mouth = canvas.mask(inner)
    if mouth is not None:
        canvas.paint(mouth, MOUTH)
        upper = lm[:, 60:65]
        teeth = np.concatenate([upper, (upper + down[:, None] * 0.08 * s)[:, ::-1]], axis=1)
        canvas.fill(teeth, TEETH, alpha=0.9, clip=mouth)
    canvas.fill(stroke(smooth_curve(lm[:, 60:65], closed=False, steps=2), max(0.035 * s, 0.5)), look.lips * 0.55,
                alpha=0.7)

    # Glasses: a ring round each eye and a bridge between them.
    if look.glasses is not None:
        inner_edges = []
        for outer_corner, inner_corner in ((36, 39), (45, 42)):
            half = (lm[:, outer_corner] - lm[:, inner_corner]) / 2
            centre = (lm[:, outer_corner] + lm[:, inner_corner]) / 2 - down * 0.02 * s
            axis_x = half * 1.55
            axis_y = down * 0.27 * s
            thickness = max(0.06 * s, 0.8)
            grow = 1 + thickness / (2 * np.linalg.norm(axis_x, axis=-1, keepdims=True).clip(1e-6))
            shrink = 2 - grow
            ring = _ring(ellipse(centre, axis_x * grow, axis_y + down * thickness / 2, 24),
                         ellipse(centre, axis_x * shrink, axis_y - down * thickness / 2, 24))
            canvas.fill(ring, look.glasses)
            inner_edges.append(centre - axis_x)
        nose_top = (inner_edges[0] + inner_edges[1]) / 2 - down * 0.05 * s
        canvas.fill(stroke(np.stack([inner_edges[0], nose_top, inner_edges[1]], axis=1), max(0.05 * s, 0.7)),
                    look.glasses)
    return np.clip(canvas.pixels, 0.0, 1.0)
