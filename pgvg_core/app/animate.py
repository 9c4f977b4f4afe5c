"""``pgvg animate``: a photo of a person + an action -> a video of that person doing it, in the photo.

1. The person's pose in the photo (MediaPipe, or ``--keypoints FILE``; ``--person N`` picks among several).
2. A square crop around the person that frames them as the model's training data frames people
   (:mod:`pgvg_core.poses.framing`): same torso length, same hip position. The first pose is mapped into it.
3. Stage 1 (PSGAN) makes the pose sequence in the crop; stage 2 renders the frames there at ``render_size``
   pixels (``render_clip(detail=...)``): by default from the photo's own pixels in layers (the limbs that
   move warped over the photo without them, the rest of the person moved with the trunk; ``compose="layers"``,
   see ``pgvg_scgan.models.layered_frame``), or as stage 2 was trained (``compose="network"``).
4. The rendered crop is pasted back into the photo where the person is and was (a soft body mask), and the
   video shows the photo around the person, scaled so the crop is ``render_size`` pixels wide.

With a face model (skeleton ``face-68``) the same steps run on a face: MediaPipe's face mesh finds its 68
landmarks, the crop matches the eye midpoint and the eyes-to-mouth length of the training faces, stage 2's
network renders the frames (the layers are a body's), and they are pasted back inside the face's outline.

Beside the video, a JSON file records the crop, the framing, the view and every pose in photo pixels.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from pgvg_core.app.timing import PhaseClock
from pgvg_core.errors import DataError, PgvgError
from pgvg_core.poses.framing import PersonCrop, crop_photo, person_crop
from pgvg_core.poses.keypoints import KEYPOINT_INDEX, KEYPOINT_NAMES, body_size, limb_mask, rescale_keypoints
from pgvg_core.poses.skeleton import FACE_68, Skeleton, skeleton_by_name, torso_and_hips

log = logging.getLogger("pgvg.animate")

# Joints without which there is no body to animate.
REQUIRED_JOINTS = ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip")
MIN_FACE = 8        # photo pixels from the eyes to the mouth: below, too small to animate
RENDER_SIZE = 512   # pixels of the rendered person crop: the person is about 60 % of it tall (~300 px)
MIN_TORSO = 10      # photo pixels from neck to hips (a person about 30 px tall): below, too small to animate
UNSURE = 0.3        # a photo's joint found with less confidence than this counts as missing
VIEW_CONTEXT = 2.0  # the video shows this many crop widths of the photo around the person (where it has them)


def default_pose_source(skeleton: str) -> str:
    """The pose source that finds keypoints of ``skeleton`` in photos and videos (``Skeleton.pose_source``)."""
    name = skeleton_by_name(skeleton).pose_source
    if name is None:
        raise PgvgError(f"skeleton '{skeleton}' names no pose source for real photos (Skeleton.pose_source): give "
                        "--pose-source NAME, or the keypoints with --keypoints / --poses")
    return name


def read_photo(path: Path) -> np.ndarray:
    """An RGB photo as uint8 ``[H, W, 3]``; grayscale, RGBA and non-images are errors that say what to do."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"image not found: {path}")
    try:
        with Image.open(path) as picture:
            mode = picture.mode
            if mode in ("L", "LA", "1", "I", "I;16", "F"):
                raise DataError(f"{path}: a grayscale image ({mode}); pgvg animates colour photos: give an RGB image")
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in picture.info):
                raise DataError(f"{path}: an image with transparency ({mode}); flatten it onto a background "
                                "and save it as RGB (e.g. JPEG)")
            return np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path}: not a readable image ({error}); use a PNG or JPEG photo") from None


def _person_size(points: np.ndarray) -> float:
    measured = torso_and_hips(points)
    return measured[0] if measured else 0.0


def photo_pose(photo: np.ndarray, path: Path, *, pose_source: str | None, keypoints_file: str | None,
               person: int | None = None, skeleton: str = "body-18") -> np.ndarray:
    """The keypoints ``[K, 3]`` of the person (or face, for a ``face-68`` model) to animate, in the photo's
    pixels."""
    from pgvg_core.config import ComponentSpec, build

    if keypoints_file:
        params = {"file": keypoints_file, **({"skeleton": skeleton} if skeleton != "body-18" else {})}
        spec, option = ComponentSpec(name="keypoints-file", params=params), "--keypoints"
        source = f"keypoints file {keypoints_file}"
    else:
        name = pose_source or default_pose_source(skeleton)
        spec, option, source = ComponentSpec(name=name), "--pose-source", f"pose source '{name}'"
    estimator = build("pose_sources", spec, path=option)
    if getattr(estimator, "provides_ground_truth", False):
        raise PgvgError("--pose-source ground-truth has no poses for a photo; use mediapipe or --keypoints")
    people = estimator.people(photo, path=path)
    people = np.array(people, dtype=np.float32)  # [P, K, 3]
    # Pose estimators guess joints beyond the frame or hidden (MediaPipe gives the hips of a bust, below the
    # picture or at its edge, with low visibility): a joint outside the photo, or one the estimator is unsure
    # of, is missing.
    height, width = photo.shape[:2]
    outside = (people[..., 0] < 0) | (people[..., 0] > width - 1) | (people[..., 1] < 0) | (people[..., 1] > height - 1)
    people[..., 2] = np.where(outside | (people[..., 2] < UNSURE), 0.0, people[..., 2])
    if people.shape[1:] != (skeleton_by_name(skeleton).num_keypoints, 3):
        raise PgvgError(f"{source} gives keypoints of shape {list(people.shape[1:])}; the model's skeleton "
                        f"'{skeleton}' has {skeleton_by_name(skeleton).num_keypoints} (use a pose source for it: "
                        f"{skeleton_by_name(skeleton).pose_source or 'keypoints-file'})")
    if skeleton == FACE_68.name:
        return _the_face(people, path, source, person)
    found = [p for p in people if sum(p[KEYPOINT_INDEX[j], 2] > 0.1 for j in REQUIRED_JOINTS) >= 3]
    if not found:
        raise DataError(f"{path}: no person found by {source} (a person needs at least 3 of "
                        f"{', '.join(REQUIRED_JOINTS)}); use a photo where the person's shoulders and hips are "
                        "visible, or give --keypoints")
    # The largest person first: the one a viewer takes for the subject.
    found.sort(key=_person_size, reverse=True)
    if person is not None and not 0 <= person < len(found):
        raise PgvgError(f"--person {person}: {source} has {len(found)} people in {path} (0 to {len(found) - 1}, "
                        "largest first)")
    if len(found) > 1:
        log.warning("%d people in %s (%s); animating person %d (%s, largest first); --person N picks another",
                    len(found), path.name, source, person or 0, "torso %.0f px" % _person_size(found[person or 0]))
    return found[person or 0].astype(np.float32)


def _the_face(faces: np.ndarray, path: Path, source: str, person: int | None) -> np.ndarray:
    """The face to animate among ``faces [P, 68, 3]`` (largest first): one whose eyes and mouth were found."""
    measured = [(FACE_68.measure(face), face) for face in faces]
    found = [face for size, face in sorted((m for m in measured if m[0] is not None), key=lambda m: -m[0][0])]
    if not found:
        raise DataError(f"{path}: no face found by {source}; use a photo where a face looks towards the camera, "
                        "eyes and mouth visible, or give its 68 landmarks with --keypoints (.npz [1, 68, 3] or "
                        "OpenFace .csv)")
    if person is not None and not 0 <= person < len(found):
        raise PgvgError(f"--person {person}: {source} has {len(found)} faces in {path} (0 to {len(found) - 1}, "
                        "largest first)")
    if len(found) > 1:
        log.warning("%d faces in %s; animating face %d (largest first); --person N picks another", len(found),
                    path.name, person or 0)
    return found[person or 0].astype(np.float32)


def check_face(points: np.ndarray, path: Path) -> list[str]:
    """Refuse a face too small to animate."""
    length = FACE_68.measure(points)[0]
    if length < MIN_FACE:
        raise DataError(f"{path}: the face is too small to animate (eyes to mouth {length:.0f} px; at least "
                        f"{MIN_FACE} px is needed): use a photo where the face is larger, or crop it around it")
    return []


def check_body(points: np.ndarray, path: Path, action: str, moved: set[int]) -> list[str]:
    """Refuse what cannot be animated, with the reason; return warnings for what can, with a loss."""
    torso = _person_size(points)
    if torso == 0.0:
        raise DataError(f"{path}: the person's neck or both hips are missing (a bust or a crop above the waist?); "
                        "pgvg animates people whose shoulders and hips are in the photo")
    if torso < MIN_TORSO:
        raise DataError(f"{path}: the person is too small to animate (neck to hips {torso:.0f} px, about "
                        f"{torso * 3:.0f} px tall; at least {MIN_TORSO} px from neck to hips is needed): use a "
                        "photo where the person is larger, or crop it around them")
    missing = [KEYPOINT_NAMES[k] for k in sorted(moved) if points[k, 2] <= 0.1]
    if missing:
        raise DataError(f"{path}: '{action}' moves {', '.join(missing)}, which the photo does not show (cut by "
                        "the frame edge or hidden); use a photo that shows them, or an action that moves only "
                        "what is visible")
    absent = [name for name in ("right_knee", "left_knee", "right_ankle", "left_ankle")
              if points[KEYPOINT_INDEX[name], 2] <= 0.1]
    warnings = []
    if absent:
        warnings.append(f"the person's {', '.join(absent)} are not in the photo; '{action}' does not move them, "
                        "so they stay out of the video")
    return warnings


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


def view_around(photo_shape: tuple[int, ...], crop: PersonCrop, render_size: int) -> View:
    """``VIEW_CONTEXT`` crop widths of the photo around the crop's centre (as far as the photo goes), at the
    scale that makes the crop ``render_size`` pixels."""
    height, width = photo_shape[:2]
    centre_x, centre_y = crop.left + crop.size / 2, crop.top + crop.size / 2
    half = VIEW_CONTEXT * crop.size / 2
    left, top = max(0, int(centre_x - half)), max(0, int(centre_y - half))
    right, bottom = min(width, int(np.ceil(centre_x + half))), min(height, int(np.ceil(centre_y + half)))
    return View(left=left, top=top, right=right, bottom=bottom, scale=render_size / crop.size)


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
    background = np.asarray(Image.fromarray(photo[view.top : view.bottom, view.left : view.right])
                            .resize((width, height), Image.Resampling.LANCZOS)).astype(np.float32)
    masks = paste_masks(poses_render, size, size, skeleton)[:, 0].numpy()[..., None]  # [T, S, S, 1]
    x0 = int(round((crop.left - view.left) * view.scale))
    y0 = int(round((crop.top - view.top) * view.scale))
    # The part of the crop inside the view.
    cx0, cy0 = max(0, -x0), max(0, -y0)
    cx1, cy1 = min(size, width - x0), min(size, height - y0)
    frames = np.repeat(background[None], len(rendered), axis=0)
    if cx1 > cx0 and cy1 > cy0:
        region = frames[:, y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1]
        mask = masks[:, cy0:cy1, cx0:cx1]
        region[:] = mask * rendered[:, cy0:cy1, cx0:cx1] + (1 - mask) * region
    return frames.round().clip(0, 255).astype(np.uint8)


CANVASES = ("view", "photo")


def animate_photo(image: str, *, action: str | None = None, model: str | None = None, out: str | None,
                  frames: int | None = None, pose_source: str | None = None, keypoints_file: str | None = None,
                  seed: int = 0, person: int | None = None, panels: bool = False,
                  render_size: int = RENDER_SIZE, compose: str | None = None, animator: Any = None,
                  drive: str | None = None, poses_file: str | None = None, motion: str = "relative",
                  drive_person: int = 0, stride: int = 1, max_frames: int | None = None,
                  canvas: str = "view", fps: float | None = None,
                  drive_pose_source: str | None = None, cache_dir: str | None = None,
                  refine_poses: bool | None = None) -> dict[str, Any]:
    """Animate the person in ``image`` doing ``action`` (PSGAN makes the poses), or moving as the person in the
    video ``drive`` (or the keypoints file ``poses_file``) moves (:mod:`pgvg_core.app.motion_transfer`, ``motion``
    relative or absolute); ``animator`` reuses a loaded model (a ``pipeline.Animator``) instead of loading
    ``model``. ``compose``: how stage 2 draws the person at the photo's resolution, one of the renderer's
    ``compositions`` (default its first; SCGAN's for bodies: ``"layers"`` from the photo's own pixels, the arms
    and legs warped over the photo without them; ``"network"`` as stage 2 was trained; ``"warp"`` the photo
    moved into each pose without removing anything: :mod:`pgvg_scgan.compositing`). ``canvas``: ``"view"`` shows
    the photo around the person at the render size, ``"photo"`` writes frames of exactly the photo's size and
    place (what the reconstruction protocol compares pixel for pixel with a video's frames). ``out=None``
    writes nothing: the frames are in the returned ``frames_written`` (uint8 ``[T, H, W, 3]``).
    ``refine_poses``: whether stage 2's pose refiner reads the poses (default: for PSGAN's, not for a driving
    video's, which are measured)."""
    if canvas not in CANVASES:
        raise PgvgError(f"canvas={canvas!r}: use one of {', '.join(CANVASES)}")
    if sum(x is not None for x in (action, drive, poses_file)) != 1:
        raise PgvgError("give exactly one of --action ACTION, --drive VIDEO or --poses FILE")
    from pgvg_core.app.pipeline import Animator
    from pgvg_core.measure.score import to_model_range
    from pgvg_core.media.video import to_uint8, write_video

    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.suffix.lower() not in (".mp4", ".gif"):
        raise PgvgError(f"--out {out}: write a .mp4 or .gif file")
    path = Path(image)
    clock = PhaseClock()
    points = None  # the photo's pose, where picking the model found it already
    if animator is None and model is None:
        photo = read_photo(path)
        model, points = _model_for(photo, path, pose_source=pose_source, keypoints_file=keypoints_file,
                                   person=person)
        clock.lap("pose")
    animator = animator or Animator(model)  # the model first: the cheapest error to find
    if action is not None:
        animator.action_index(action)
    if points is None:
        photo = read_photo(path)
    clock.lap("model")
    skeleton = animator.stage1.data.skeleton
    face = skeleton.name == FACE_68.name  # which checks apply to the photo: a face's or a body's
    compose = compose or animator.compositions[0]
    if compose not in animator.compositions:
        raise PgvgError(f"--compose {compose}: the model's frame renderer draws {', '.join(animator.compositions)} "
                        f"for '{skeleton.name}' poses; use one of those")
    if points is None:
        points = photo_pose(photo, path, pose_source=pose_source, keypoints_file=keypoints_file, person=person,
                            skeleton=skeleton.name)
        clock.lap("pose")
    driving = None
    if action is None:
        from pgvg_core.app.motion_transfer import driving_motion, retarget

        driving = driving_motion(video=drive, poses_file=poses_file, skeleton=skeleton,
                                 pose_source=drive_pose_source or default_pose_source(skeleton.name),
                                 person=drive_person, stride=stride, max_frames=max_frames, fps=fps,
                                 cache_dir=cache_dir)
        driven = retarget(points, driving.poses, skeleton, motion)  # [T, K, 3] photo pixels
        clock.lap("driving poses")
    what = action or "the driving motion"
    moved = animator.moved_joints(action) if action is not None else set()
    warnings = check_face(points, path) if face else check_body(points, path, what, moved)
    if driving is not None and not face:
        warnings += _unshown_moved(points, driven)
    for warning in warnings:
        log.warning("%s", warning)

    resolution = animator.resolution
    crop = person_crop(points, animator.framing)
    render_size = max(resolution, render_size // resolution * resolution)  # a whole multiple of the model's size
    image_tensor = to_model_range(crop_photo(photo, crop, resolution)[None])[0]  # [3, R, R]
    detail = to_model_range(crop_photo(photo, crop, render_size)[None])[0]  # [3, S, S]
    first = torch.from_numpy(crop.to_model(points))  # [K, 3] in the model's pixels
    if driving is None:
        poses = _pose_sequence(animator, first, action, seed=seed, frames=frames)  # [T, K, 3]
        clock.lap("stage1")
    else:
        poses = torch.from_numpy(crop.to_model(driven)).float()  # [T, K, 3] in the model's pixels
    poses_render = rescale_keypoints(poses, render_size / resolution)
    # Measured poses (a driving video's) are followed as given; stage 1's through stage 2's pose refiner.
    refine = refine_poses if refine_poses is not None else driving is None
    clip = to_uint8(animator.frames(image_tensor, first, poses, detail=detail, composition=compose,
                                    refine_poses=refine))  # [T, S, S, 3]
    clock.lap("stage2")
    rate = driving.fps if driving is not None else 8
    if canvas == "photo":
        view = View(left=0, top=0, right=photo.shape[1], bottom=photo.shape[0], scale=1.0)
        video = composite_on_photo(photo, crop, clip, poses_render, skeleton=skeleton)
    else:
        view = view_around(photo.shape, crop, render_size)
        video = composite(photo, crop, view, clip, poses_render, skeleton=skeleton)
    poses_photo = crop.to_photo(poses.numpy())
    written = {"video": out_path, "frames": len(poses), "fps": rate, "crop": crop, "view": view,
               "poses_photo": poses_photo, "warnings": warnings, "driving": driving, "frames_written": video}
    if out_path is None:
        return {**written, "seconds": clock.rounded(4)}
    write_video(out_path, video, fps=rate)
    clock.lap("encode")
    if panels:
        written["panels"] = _write_panels(out_path, clip, poses_render, render_size, skeleton, fps=rate)
    record = {"image": str(path), "image_size": list(photo.shape[:2]), "action": action, "seed": seed,
              "frames": len(poses), "fps": rate,
              "pose": "keypoints file" if keypoints_file else (pose_source or default_pose_source(skeleton.name)),
              "compose": compose, "canvas": canvas, "refine_poses": refine,
              "model": animator.source,
              "framing": animator.framing.as_dict(), "crop": crop.as_dict(), "render_size": render_size,
              "view": {**attrs.asdict(view), "video_size": list(view.size)}, "warnings": warnings,
              "keypoint_names": list(skeleton.keypoint_names), "poses_photo": np.round(poses_photo, 2).tolist()}
    if driving is not None:
        record["driving"] = {**driving.record(), "motion": motion, "person": drive_person}
    crop_file = out_path.with_suffix(".json")
    crop_file.write_text(json.dumps(record, indent=1))
    log.info("person crop of %d px at (%d, %d) seen at %d px; video %dx%d", crop.size, crop.left, crop.top,
             resolution, *view.size)
    log.info("seconds: %s", ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in clock.laps.items()))
    return {**written, "crop_file": crop_file, "seconds": clock.rounded(4)}


def _unshown_moved(points: np.ndarray, driven: np.ndarray, threshold: float = 0.1) -> list[str]:
    """A warning naming the joints the driving motion moves that the photo does not show (they stay out)."""
    torso = _person_size(points) or 1.0
    travel = np.linalg.norm(driven[:, :, :2] - driven[:1, :, :2], axis=-1).max(0)  # [K]
    hidden = [KEYPOINT_NAMES[k] for k in np.nonzero((travel > threshold * torso) | (points[:, 2] <= 0.1))[0]
              if points[k, 2] <= 0.1 and k < len(KEYPOINT_NAMES)]
    if not hidden:
        return []
    return [f"the photo does not show the person's {', '.join(hidden)}; they stay out of the video"]


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
    frames = np.repeat(photo[None].astype(np.float32), len(rendered), axis=0)  # [T, H, W, 3]
    x0, y0 = max(0, crop.left), max(0, crop.top)
    x1, y1 = min(width, crop.left + crop.size), min(height, crop.top + crop.size)
    if x1 > x0 and y1 > y0:
        inside = (slice(y0 - crop.top, y1 - crop.top), slice(x0 - crop.left, x1 - crop.left))
        region = frames[:, y0:y1, x0:x1]
        weight = masks[:, 0][:, inside[0], inside[1]].numpy()[..., None]
        drawn = pixels.permute(0, 2, 3, 1)[:, inside[0], inside[1]].numpy()
        region[:] = weight * drawn + (1 - weight) * region
    return frames.round().clip(0, 255).astype(np.uint8)


def _model_for(photo: np.ndarray, path: Path, *, pose_source: str | None, keypoints_file: str | None,
               person: int | None) -> tuple[str, np.ndarray | None]:
    """The shipped model for what the photo shows: the body model where a body is found (or a keypoints file
    holds a body's), else the face model where a face is found (or the file holds 68 landmarks); and the pose
    that decided it (in the chosen model's skeleton), so it is not looked for again, or None."""
    from pgvg_core.training.weights import SHIPPED_FACE

    if keypoints_file:
        try:
            photo_pose(np.zeros((2, 2, 3), np.uint8), path, pose_source=None, keypoints_file=keypoints_file,
                       skeleton="face-68")
            return "face", None
        except PgvgError:
            return "body", None
    if pose_source is not None or not SHIPPED_FACE.is_file():
        return "body", None  # a pose source names what it finds; without the face model there is no choice
    try:
        body = photo_pose(photo, path, pose_source=None, keypoints_file=None, person=person, skeleton="body-18")
        if _person_size(body) > 0:  # a body down to the hips; a head and shoulders is a portrait
            return "body", body
        no_body = DataError(f"{path}: the person's neck or both hips are missing (a bust?), and no face was found")
    except DataError as error:
        no_body = error
    try:
        face = photo_pose(photo, path, pose_source=None, keypoints_file=None, person=person, skeleton="face-68")
    except DataError:
        raise no_body from None
    log.info("no whole body in %s, a face: the shipped face model animates it (--model body or face picks one)",
             path.name)
    return "face", face


def _shipped_model() -> Path:
    from pgvg_core.training.weights import SHIPPED

    if not SHIPPED.is_file():
        raise PgvgError(f"no model given and the bundled one is missing ({SHIPPED}); pass --model with a bundle "
                        "from `pgvg export` or a pipeline folder from `pgvg demo`")
    return SHIPPED


def _pose_sequence(animator: Any, first: torch.Tensor, action: str, *, seed: int, frames: int | None) -> torch.Tensor:
    """``frames`` poses (PSGAN's T when None): longer videos continue from the last pose."""
    poses = animator.poses(first, action, seed=seed)
    if frames and frames > len(poses):
        chunks = [poses]
        while sum(len(c) for c in chunks) < frames:
            chunks.append(animator.poses(chunks[-1][-1], action, seed=seed + len(chunks))[1:])
        poses = torch.cat(chunks)
    return poses[:frames] if frames else poses


def _write_panels(out_path: Path, clip: np.ndarray, poses_render: torch.Tensor, size: int, skeleton: Any,
                  fps: float = 8) -> Path:
    """The side-by-side strip: the person crop | the poses | the frames, at the render size."""
    from pgvg_core.app.pipeline import panels
    from pgvg_core.media.video import write_video
    from pgvg_core.poses.keypoints import skeleton_image

    skeletons = np.stack([skeleton_image(k, size, skeleton=skeleton) for k in poses_render.numpy()])
    strip = panels(clip[0], skeletons, clip)
    path = out_path.with_name(f"{out_path.stem}-panels{out_path.suffix}")
    return write_video(path, strip, fps=fps)
