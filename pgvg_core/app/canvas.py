"""The video's canvas: the part of the photo a video shows around its person, where a rendered crop replaces the
photo (where the person is or was: :func:`person_mask`, from the skeleton's outline or its limbs), and the
rendered crops pasted into the photo."""

from __future__ import annotations

import attrs
import numpy as np
import torch

from pgvg_core.poses.framing import PersonCrop, crop_photo
from pgvg_core.poses.keypoints import FOUND, body_size, limb_mask, rescale_keypoints
from pgvg_core.poses.skeleton import Skeleton

VIEW_CONTEXT = 2.0  # the video shows this many crop widths of the photo around the person (where it has them)
#: The motion's box (every frame's keypoints) is grown by this share of its height for what the keypoints do not
#: reach (the top of the head above the eyes, the soles below the ankles, the fingers past the wrists).
MOTION_MARGIN = 0.1


@attrs.frozen
class View:
    """The part of the photo the video shows (photo pixels) and its scale to the video's pixels."""

    left: int
    top: int
    right: int
    bottom: int
    scale: float

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in video pixels, even (H.264 wants even sizes)."""
        even = lambda v: max(2, int(round(v * self.scale)) // 2 * 2)  # noqa: E731
        return even(self.right - self.left), even(self.bottom - self.top)


def view_around(photo_shape: tuple[int, ...], crop: PersonCrop, render_size: int,
                poses_photo: np.ndarray | None = None) -> View:
    """``VIEW_CONTEXT`` crop widths of the photo around the crop's centre (as far as the photo goes), at the
    scale that makes the crop ``render_size`` pixels; grown beyond the photo where the motion ``poses_photo
    [T, K, 3]`` (photo pixels) leaves it (a jump's head above a photo cut at the hair; within the crop, where
    the frames are drawn): :func:`composite` fills what is beyond the photo from the photo (:func:`_fill_beyond`)."""
    height, width = photo_shape[:2]
    centre_x, centre_y = crop.left + crop.size / 2, crop.top + crop.size / 2
    half = VIEW_CONTEXT * crop.size / 2
    left, top = max(0, int(centre_x - half)), max(0, int(centre_y - half))
    right, bottom = min(width, int(np.ceil(centre_x + half))), min(height, int(np.ceil(centre_y + half)))
    box = motion_box(poses_photo, crop) if poses_photo is not None else None
    if box is not None:
        left, top = min(left, box[0]), min(top, box[1])
        right, bottom = max(right, box[2]), max(bottom, box[3])
    return View(left=left, top=top, right=right, bottom=bottom, scale=render_size / crop.size)


def motion_box(poses_photo: np.ndarray, crop: PersonCrop) -> tuple[int, int, int, int] | None:
    """The box ``(left, top, right, bottom)`` (photo pixels, integers) that holds every frame's person: their
    keypoints' box over the clip, grown by ``MOTION_MARGIN`` of its height, within the crop; None without
    keypoints."""
    seen = poses_photo[..., 2] > FOUND
    if not seen.any():
        return None
    points = poses_photo[seen][:, :2]
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    grow = MOTION_MARGIN * (y1 - y0)
    x0, y0 = max(x0 - grow, crop.left), max(y0 - grow, crop.top)
    x1, y1 = min(x1 + grow, crop.left + crop.size), min(y1 + grow, crop.top + crop.size)
    return int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))


def beyond_photo(view: View, photo_shape: tuple[int, ...]) -> dict[str, int]:
    """How far the view reaches past each edge of the photo, in photo pixels (only the edges it passes)."""
    height, width = photo_shape[:2]
    past = {"top": -view.top, "bottom": view.bottom - height, "left": -view.left, "right": view.right - width}
    return {edge: int(amount) for edge, amount in past.items() if amount > 0}


def left_the_photo(poses_photo: np.ndarray, photo_shape: tuple[int, ...], names: tuple[str, ...]) -> list[str]:
    """A warning per keypoint that the motion takes out of the photo (``--canvas photo`` keeps its frame):
    which edge, in which frames."""
    height, width = photo_shape[:2]
    seen = poses_photo[..., 2] > FOUND
    x, y = poses_photo[..., 0], poses_photo[..., 1]
    out = []
    for edge, gone in (("top", y < 0), ("bottom", y > height - 1), ("left", x < 0), ("right", x > width - 1)):
        gone = gone & seen  # [T, K]
        joints = [names[k] for k in np.nonzero(gone.any(0))[0] if k < len(names)]
        if joints:
            frames = np.nonzero(gone.any(1))[0]
            out.append(f"the motion takes the person's {', '.join(joints)} past the photo's {edge} edge (frames "
                       f"{frames[0]}-{frames[-1]}); they are cut there (--canvas view grows the video to hold them)")
    return out


def _photo_region(photo: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    """The view's part of the photo ``[h, w, 3]`` (what lies beyond the photo: its edge repeated, a placeholder
    for :func:`_fill_beyond`) and where the photo is not, ``[h, w]`` bool (all but a rectangle)."""
    height, width = photo.shape[:2]
    pad = (max(0, -view.top), max(0, view.bottom - height), max(0, -view.left), max(0, view.right - width))
    beyond = np.ones((view.bottom - view.top, view.right - view.left), bool)
    beyond[pad[0] : beyond.shape[0] - pad[1], pad[2] : beyond.shape[1] - pad[3]] = False
    if not any(pad):
        return photo[view.top : view.bottom, view.left : view.right], beyond
    padded = np.pad(photo, ((pad[0], pad[1]), (pad[2], pad[3]), (0, 0)), mode="edge")
    return padded[view.top + pad[0] : view.bottom + pad[0], view.left + pad[2] : view.right + pad[2]], beyond


def detail_crop(photo: np.ndarray, crop: PersonCrop, size: int, person: np.ndarray) -> np.ndarray:
    """The crop of ``photo`` at ``size`` pixels (:func:`~pgvg_core.poses.framing.crop_photo`), what of it lies
    beyond the photo filled as the view is (:func:`_fill_beyond`: the photo's part reflected, its person
    ``person [size, size]`` bool left out) instead of the photo's edge repeated, whose bands the frames would
    carry wherever a limb moves past the photo -> uint8 ``[size, size, 3]``."""
    square = crop_photo(photo, crop, size)
    height, width = photo.shape[:2]
    scale = size / crop.size
    left, right = round(max(0, -crop.left) * scale), round(min(crop.size, width - crop.left) * scale)
    top, bottom = round(max(0, -crop.top) * scale), round(min(crop.size, height - crop.top) * scale)
    beyond = np.ones((size, size), bool)
    beyond[top:bottom, left:right] = False
    if not beyond.any() or beyond.all():
        return square
    return _fill_beyond(square, beyond, person)


def _fill_beyond(background: np.ndarray, beyond: np.ndarray, person: np.ndarray) -> np.ndarray:
    """``background`` uint8 ``[H, W, 3]`` with its ``beyond`` pixels (``[H, W]`` bool: all but a rectangle,
    the photo's part) filled by reflecting the photo's part *without its person* (``person [H, W]`` bool,
    filled from around it first: :func:`~pgvg_core.media.fill.textured_fill`). The photo reflected as it is put
    a mirrored copy of a person standing near its edge beside them; a fill from the edge alone, bands of the
    edge's colours."""
    from pgvg_core.media.fill import textured_fill

    rows, cols = np.nonzero(~beyond)
    if rows.size == 0:
        return background
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    inside = background[top:bottom, left:right]
    hidden = person[top:bottom, left:right]
    if hidden.any() and not hidden.all():
        image = torch.tensor(inside).permute(2, 0, 1)[None].float() / 127.5 - 1  # [1, 3, h, w]
        filled = textured_fill(image, torch.from_numpy(hidden)[None, None].float())[0].permute(1, 2, 0)
        inside = ((filled + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    height, width = beyond.shape
    mirrored = np.pad(inside, ((top, height - bottom), (left, width - right), (0, 0)), mode="symmetric")
    return np.where(beyond[..., None], mirrored, background)


def person_mask(poses: torch.Tensor, side: int, skeleton: Skeleton) -> torch.Tensor:
    """Where the person is in each frame: poses ``[T, K, 3]`` in pixels of a ``side``-pixel square ->
    ``[T, side, side]``. Within the skeleton's outline (a face: its jaw and brows) grown by a third about its
    centre, for the forehead and hair the keypoints do not reach; for a skeleton without one (a body), its
    limbs drawn as thick as 0.45 of the framing length (a body's torso)."""
    if skeleton.outline:
        from PIL import Image, ImageDraw

        masks = []
        for pose in poses.numpy():
            outline = pose[[skeleton.index(name) for name in skeleton.outline], :2]
            centre = outline.mean(axis=0)
            grown = centre + (outline - centre) * 1.35
            picture = Image.new("L", (side, side), 0)
            ImageDraw.Draw(picture).polygon([tuple(p) for p in grown], fill=255)
            masks.append(np.asarray(picture, np.float32) / 255)
        return torch.from_numpy(np.stack(masks))
    measured = skeleton.measure(poses[0].numpy())
    width = 0.45 * measured[0] if measured else 0.1 * float(body_size(poses[:1])[0])
    return limb_mask(poses, (side, side), width=width, limbs=skeleton.limbs)


def paste_masks(poses_render: torch.Tensor, size: int, out: int, skeleton: Skeleton) -> torch.Tensor:
    """Where a rendered crop replaces the photo, for poses ``[T, K, 3]`` in pixels of a ``size``-pixel render:
    where the person is now or was in the first frame (that place is uncovered) -> ``[T, 1, out, out]``. The
    mask is smooth: drawn at up to 128 px and interpolated."""
    factor = min(1.0, 128 / size)
    side = round(size * factor)
    masks = person_mask(rescale_keypoints(poses_render, factor), side, skeleton)  # [T, s, s]
    masks = torch.maximum(masks, masks[:1])[:, None]
    return torch.nn.functional.interpolate(masks, size=(out, out), mode="bilinear", align_corners=False)


def composite(photo: np.ndarray, crop: PersonCrop, view: View, rendered: np.ndarray,
              poses_render: torch.Tensor, *, skeleton: Skeleton) -> np.ndarray:
    """The rendered crops ``[T, S, S, 3]`` pasted into the photo's view where the person is or was.

    :param poses_render: ``[T, K, 3]`` in the rendered crop's pixels, frame 0 the photo's pose.
    :param skeleton: the poses' (where the person is: :func:`person_mask`).
    :returns: uint8 ``[T, H, W, 3]``.
    """
    from PIL import Image

    size = rendered.shape[1]
    width, height = view.size
    region, beyond = _photo_region(photo, view)
    background = np.asarray(Image.fromarray(np.ascontiguousarray(region))
                            .resize((width, height), Image.Resampling.LANCZOS))  # uint8 [H, W, 3]
    masks = paste_masks(poses_render, size, size, skeleton)[:, 0].numpy()[..., None]  # [T, S, S, 1]
    x0 = int(round((crop.left - view.left) * view.scale))
    y0 = int(round((crop.top - view.top) * view.scale))
    # The part of the crop inside the view.
    cx0, cy0 = max(0, -x0), max(0, -y0)
    cx1, cy1 = min(size, width - x0), min(size, height - y0)
    if beyond.any():
        beyond = np.asarray(Image.fromarray(beyond).resize((width, height), Image.Resampling.NEAREST))
        person = np.zeros((height, width), bool)  # where the photo's person is (frame 0's paste mask)
        person[y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1] = masks[0, cy0:cy1, cx0:cx1, 0] > 0.5
        background = _fill_beyond(background, beyond, person)
    frames = np.repeat(background[None], len(rendered), axis=0)
    if cx1 > cx0 and cy1 > cy0:  # blended in floats there only: the rest of the view is the photo's bytes
        region = frames[:, y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1]
        _blend_into(region, rendered[:, cy0:cy1, cx0:cx1], masks[:, cy0:cy1, cx0:cx1])
    return frames


def _blend_into(region: np.ndarray, drawn: np.ndarray, weight: np.ndarray) -> None:
    """``region`` uint8 ``[T, h, w, 3]`` (a view of the frames) := ``weight * drawn + (1 - weight) * region``,
    rounded; ``weight [T, h, w, 1]`` in [0, 1]."""
    below = region.astype(np.float32)
    region[:] = (weight * drawn + (1 - weight) * below).round().clip(0, 255).astype(np.uint8)


def composite_on_photo(photo: np.ndarray, crop: PersonCrop, rendered: np.ndarray, poses_render: torch.Tensor, *,
                       skeleton: Skeleton) -> np.ndarray:
    """The rendered crops ``[T, S, S, 3]`` resized to the crop's size in the photo and pasted there where the
    person is or was; everywhere else the photo's own pixels: uint8 ``[T, H, W, 3]`` at the photo's size."""
    import torch.nn.functional as F

    size = rendered.shape[1]
    masks = paste_masks(poses_render, size, crop.size, skeleton)  # [T, 1, crop, crop]
    pixels = torch.from_numpy(rendered).permute(0, 3, 1, 2).float()  # [T, 3, S, S]
    if crop.size != size:
        pixels = F.interpolate(pixels, size=(crop.size, crop.size), mode="bilinear", antialias=crop.size < size,
                               align_corners=False)
    height, width = photo.shape[:2]
    frames = np.repeat(photo[None], len(rendered), axis=0)  # uint8 [T, H, W, 3]
    x0, y0 = max(0, crop.left), max(0, crop.top)
    x1, y1 = min(width, crop.left + crop.size), min(height, crop.top + crop.size)
    if x1 > x0 and y1 > y0:
        inside = (slice(y0 - crop.top, y1 - crop.top), slice(x0 - crop.left, x1 - crop.left))
        weight = masks[:, 0][:, inside[0], inside[1]].numpy()[..., None]
        drawn = pixels.permute(0, 2, 3, 1)[:, inside[0], inside[1]].numpy()
        _blend_into(frames[:, y0:y1, x0:x1], drawn, weight)
    return frames
