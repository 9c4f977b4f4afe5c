"""``pgvg animate``: a photo of a person + an action -> a video of that person doing it, in the photo.

1. The person's pose in the photo (MediaPipe, or ``--keypoints FILE``; ``--person N`` picks among several).
2. A square crop around the person that frames them as the model's training data frames people
   (:mod:`pgvg_core.poses.framing`): same torso length, same hip position. The first pose is mapped into it.
3. Stage 1 (PSGAN) makes the pose sequence in the crop; stage 2 renders the frames there at ``render_size``
   pixels (``render_clip(detail=...)``), as one of the renderer's compositions: for a body, by default from the
   photo's own pixels in layers (the limbs that move warped over the photo without them, the rest of the person
   moved with the trunk; ``compose="layers"``, see :mod:`pgvg_scgan.compositing`), or as stage 2 was trained
   (``compose="network"``). Where the pose source segments people (MediaPipe), the person's segmentation goes
   with it (:mod:`.photo`), so what moves is cleared whole.
4. The rendered crop is pasted back into the photo where the person is and was (:mod:`.canvas`), and the
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

from pgvg_core.app.canvas import (
    View,
    beyond_photo,
    composite,
    composite_on_photo,
    detail_crop,
    left_the_photo,
    paste_masks,
    view_around,
)
from pgvg_core.app.photo import (
    _model_for,
    _person_size,
    check_body,
    check_face,
    default_pose_source,
    facing_away,
    infer_hidden_limbs,
    mirrored,
    person_segmentation,
    photo_pose,
    read_photo,
)
from pgvg_core.app.timing import PhaseClock
from pgvg_core.errors import PgvgError
from pgvg_core.poses.framing import crop_photo, person_crop
from pgvg_core.poses.keypoints import KEYPOINT_INDEX, KEYPOINT_NAMES, rescale_keypoints
from pgvg_core.poses.skeleton import FACE_68

log = logging.getLogger("pgvg.animate")

RENDER_SIZE = 512   # pixels of the rendered person crop: the person is about 60 % of it tall (~300 px)


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
    inferred = []
    if not face:
        points, inferred = infer_hidden_limbs(points)  # a side view's far arm or leg
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
    warnings = check_face(points, path) if face else inferred + check_body(points, path, what, moved)
    if driving is not None and not face:
        warnings += _unshown_moved(points, driven)
    for warning in warnings:
        log.warning("%s", warning)

    resolution = animator.resolution
    crop = person_crop(points, animator.framing)
    render_size = max(resolution, render_size // resolution * resolution)  # a whole multiple of the model's size
    image_tensor = to_model_range(crop_photo(photo, crop, resolution)[None])[0]  # [3, R, R]
    segmented = person_segmentation(photo, points, skeleton, None if keypoints_file else pose_source)  # [H, W]
    first = torch.from_numpy(crop.to_model(points))  # [K, 3] in the model's pixels
    # Where the person is in the detail crop: their keypoints' outline, and their segmentation where known.
    person_place = paste_masks(rescale_keypoints(first[None], render_size / resolution), render_size, render_size,
                               skeleton)[0, 0].numpy() > 0.5  # [S, S]
    person_detail = None
    if segmented is not None:
        as_picture = np.repeat((segmented * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
        person_detail = torch.from_numpy(crop_photo(as_picture, crop, render_size)[..., 0] / 255.0).float()[None]
        person_place |= person_detail[0].numpy() > 0.1
    detail = to_model_range(detail_crop(photo, crop, render_size, person_place)[None])[0]  # [3, S, S]
    clock.lap("segmentation")
    if driving is None:
        poses = _action_poses(animator, first, points, action, seed=seed, frames=frames, warnings=warnings,
                              body=not face)  # [T, K, 3]
        clock.lap("stage1")
    else:
        poses = torch.from_numpy(crop.to_model(driven)).float()  # [T, K, 3] in the model's pixels
    poses_render = rescale_keypoints(poses, render_size / resolution)
    # Measured poses (a driving video's) are followed as given; stage 1's through stage 2's pose refiner.
    refine = refine_poses if refine_poses is not None else driving is None
    clip = to_uint8(animator.frames(image_tensor, first, poses, detail=detail, composition=compose,
                                    person=person_detail, refine_poses=refine))  # [T, S, S, 3]
    clock.lap("stage2")
    rate = driving.fps if driving is not None else 8
    poses_photo = crop.to_photo(poses.numpy())  # [T, K, 3]
    if canvas == "photo":
        view = View(left=0, top=0, right=photo.shape[1], bottom=photo.shape[0], scale=1.0)
        for warning in left_the_photo(poses_photo, photo.shape, skeleton.keypoint_names):
            log.warning("%s", warning)
            warnings.append(warning)
        video = composite_on_photo(photo, crop, clip, poses_render, skeleton=skeleton)
    else:
        view = view_around(photo.shape, crop, render_size, poses_photo)
        video = composite(photo, crop, view, clip, poses_render, skeleton=skeleton)
        if beyond_photo(view, photo.shape):
            log.info("the video reaches past the photo (%s px) to hold the motion; filled by reflecting the photo, "
                     "the person's place filled first",
                     ", ".join(f"{edge} {px}" for edge, px in beyond_photo(view, photo.shape).items()))
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
              "person_segmentation": segmented is not None,
              "model": animator.source,
              "framing": animator.framing.as_dict(), "crop": crop.as_dict(), "render_size": render_size,
              "view": {**attrs.asdict(view), "video_size": list(view.size),
                       "beyond_photo": beyond_photo(view, photo.shape)}, "warnings": warnings,
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


def _shipped_model() -> Path:
    from pgvg_core.training.weights import SHIPPED

    if not SHIPPED.is_file():
        raise PgvgError(f"no model given and the bundled one is missing ({SHIPPED}); pass --model with a bundle "
                        "from `pgvg export` or a pipeline folder from `pgvg demo`")
    return SHIPPED


def _action_poses(animator: Any, first: torch.Tensor, points: np.ndarray, action: str, *, seed: int,
                  frames: int | None, warnings: list[str], body: bool) -> torch.Tensor:
    """Stage 1's poses of ``action`` from the photo's pose ``first [K, 3]`` (model pixels). A body seen from
    behind is moved as a front view: its pose mirrored for stage 1 (trained on people facing the camera), the
    motion mirrored back, so an action keeps its side ('wave-right' raises the person's own right arm)."""
    if not (body and facing_away(points)):
        return _pose_sequence(animator, first, action, seed=seed, frames=frames)
    note = (f"the person is seen from behind: '{action}' is made as for a front view and mirrored, so its "
            "left and right are the person's own")
    log.warning("%s", note)
    warnings.append(note)
    hips = [KEYPOINT_INDEX["right_hip"], KEYPOINT_INDEX["left_hip"]]
    centre = float(first[hips, 0].mean())
    return mirrored(_pose_sequence(animator, mirrored(first, centre), action, seed=seed, frames=frames), centre)


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
