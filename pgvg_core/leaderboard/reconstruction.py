"""The reconstruction protocol: real footage as the judge (``pgvg bench real-reconstruction --videos DIR``).

How the field measures a pose-guided video generator (First Order Motion Model on TaiChi-HD and VoxCeleb,
Everybody Dance Now, Animate Anyone and MagicAnimate on TikTok): a real clip's first frame is the photo, the
clip's own poses drive it, and the frames made are compared with the real ones. Per clip:

1. ``frames`` frames from the clip's start, ``seconds`` apart in all (the stride follows the clip's frame rate);
   the person is the largest one in the first frame, tracked (:mod:`pgvg_core.app.motion_transfer`), poses by
   MediaPipe (cached by the clip's hash).
2. Every method renders the same poses from the same first frame at the clip's own size and place
   (``pgvg animate --canvas photo``): ``copy-first`` repeats the first frame (the floor every method must
   beat), ``warp``, ``layers`` and ``network`` are ``pgvg animate``'s ``--compose`` modes.
3. Frames 1..T-1 (frame 0 is the input) are compared on one square crop around the person's track (the union
   of their keypoint boxes over the window, grown by ``HEAD_AND_FEET`` of its height for the head and feet,
   made square and ``MARGIN`` times wider), the same crop for every method, resized to ``size`` pixels
   (Lanczos): L1 and PSNR on [0, 1], SSIM (scikit-image's convention), LPIPS-ST (and LPIPS where its weights
   are present), and from an independent eye, MediaPipe on the generated and the real crops: AKD (mean
   distance of the keypoints found on both, in body heights of the real pose), MKR (the share of keypoints
   found on the real crop and not on the generated one) and ``found`` (the share of generated frames in which
   MediaPipe finds a person at all).
4. The *ghost region* of frame t: where a limb of the first frame's pose was (its bones drawn ``GHOST_WIDTH``
   of the torso thick) and no limb of frame t's pose is: what an animation must clear, not keep. ``ghost``
   measures only there: L1 over its pixels, and LPIPS-ST between the real frame and the real frame with the
   generated pixels pasted into the region (so the rest of the picture plays no part), over the frames whose
   region covers at least ``GHOST_MIN_AREA`` of the crop.

Each (method, clip) is stored as a result whose ``seed`` is the clip's index in the protocol (clips sorted by
name): a leaderboard row is then a method's mean ± std over clips. The protocol hash covers the settings and
the bytes of every clip, so numbers from many machines stack only when they measured the same footage.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from pgvg_core.errors import DataError, PgvgError
from pgvg_core.poses.framing import SEEN, PersonCrop, crop_photo

log = logging.getLogger("pgvg.reconstruction")

SUITE = "real-reconstruction"
VERSION = 2  # 2: the ghost region's metrics
METHODS = ("copy-first", "warp", "layers", "network")  # the floor, then SCGAN's compositions for bodies
#: The keypoint box is grown by this share of its height above and below (the head's top, the feet's soles).
HEAD_AND_FEET = 0.12
#: The square crop is this many times the grown box's longer side.
MARGIN = 1.2
#: The body joints an independent estimator is compared on (nose to ankles; MediaPipe's eyes and ears differ
#: in placement from other skeletons' and are left out). A face's: all of them.
BODY_JOINTS = tuple(range(14))
OWN = "own"  # Protocol.estimator: the model skeleton's own pose source
#: How thick a limb is drawn for the ghost region, in torso lengths (a clothed arm or leg, with a margin).
GHOST_WIDTH = 0.2
#: A frame's ghost region counts from this share of the crop's pixels on.
GHOST_MIN_AREA = 0.005


@attrs.frozen(kw_only=True)
class Protocol:
    frames: int = 16
    seconds: float = 1.6
    size: int = 256
    pose_source: str | None = None  # the driving poses (None: the model skeleton's own pose source)
    estimator: str | None = OWN  # the independent eye of AKD / MKR / found (None: not measured)

    def for_skeleton(self, skeleton: Any) -> "Protocol":
        """The protocol for a model of ``skeleton``: the driving poses and the independent eye, where not
        named, from the skeleton's own pose source (MediaPipe's pose for bodies, its face mesh for faces)."""
        from pgvg_core.app.photo import default_pose_source

        needed = self.pose_source is None or self.estimator == OWN
        own = (skeleton.pose_source or default_pose_source(skeleton.name)) if needed else None
        return attrs.evolve(self, pose_source=self.pose_source or own,
                            estimator=own if self.estimator == OWN else self.estimator)

    def stride(self, fps: float) -> int:
        """Frames of the clip between two measured frames: ``seconds`` over ``frames - 1`` steps."""
        return max(1, round(fps * self.seconds / max(1, self.frames - 1)))


def compared_joints(skeleton: Any) -> tuple[int, ...]:
    """The joints the independent eye compares for a model of ``skeleton``: a body's ``BODY_JOINTS``, a face's
    every landmark."""
    return BODY_JOINTS if skeleton.name == "body-18" else tuple(range(skeleton.num_keypoints))


def find_clips(folder: str | Path) -> list[Path]:
    """Every clip under ``folder``: video files and folders of frames (any depth; video-folder's
    ``root/<class>/<clip>`` layout too), sorted by their path."""
    from pgvg_core.media.video import IMAGE_SUFFIXES, is_video

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"--videos {folder}: not a folder (give a folder of video files or of frame folders)")
    clips = [p for p in root.rglob("*") if is_video(p)]
    clips += [p for p in root.rglob("*") if p.is_dir() and not any(c.is_dir() for c in p.iterdir())
              and sum(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir()) >= 2]
    if not clips:
        raise DataError(f"--videos {folder}: no clips (video files, or folders of at least 2 frames) under it")
    return sorted(clips)


def protocol_crop(poses: np.ndarray, size: int) -> PersonCrop:
    """The square around a person's track ``[T, K, 3]`` (see the module docstring), seen at ``size`` pixels."""
    seen = poses[..., 2] > SEEN
    if not seen.any():
        raise DataError("no keypoint of the person was found in the clip")
    points = poses[seen][:, :2]
    (left, top), (right, bottom) = points.min(0), points.max(0)
    grow = HEAD_AND_FEET * (bottom - top)
    top, bottom = top - grow, bottom + grow
    side = max(8, int(math.ceil(MARGIN * max(right - left, bottom - top))))
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    return PersonCrop(left=int(round(centre_x - side / 2)), top=int(round(centre_y - side / 2)), size=side,
                      resolution=size)


@attrs.frozen
class Clip:
    """One clip as the protocol reads it: its frames ``[T, H, W, 3]`` (uint8), the driving person's poses
    ``[T, K, 3]`` in their pixels, and the crop every method is compared on."""

    path: Path
    frames: np.ndarray
    poses: np.ndarray
    crop: PersonCrop
    stride: int
    fps: float
    lost: int
    sha256: str


def read_clip(path: Path, protocol: Protocol, *, skeleton: Any, cache_dir: str | Path | None = None) -> Clip:
    from pgvg_core.app.motion_transfer import driving_motion, video_fps
    from pgvg_core.media.video import read_video
    from pgvg_core.poses.cache import clip_hash

    fps = video_fps(path)
    stride = protocol.stride(fps)
    motion = driving_motion(video=str(path), skeleton=skeleton, pose_source=protocol.pose_source, stride=stride,
                            max_frames=protocol.frames, cache_dir=cache_dir)
    if len(motion.poses) < protocol.frames:
        raise DataError(f"{path}: {len(motion.poses)} frames at stride {stride}; the protocol measures "
                        f"{protocol.frames}")
    frames = read_video(path, frames=list(motion.frame_indices))
    return Clip(path=path, frames=frames, poses=motion.poses, crop=protocol_crop(motion.poses, protocol.size),
                stride=stride, fps=fps, lost=len(motion.lost_frames), sha256=clip_hash(path))


def render_method(method: str, clip: Clip, animator: Any, workdir: Path) -> np.ndarray:
    """The frames ``[T, H, W, 3]`` (uint8, the clip's size) a method makes from the clip's first frame and
    poses."""
    if method == "copy-first":
        return np.repeat(clip.frames[:1], len(clip.frames), axis=0)
    from PIL import Image

    from pgvg_core.app.animate import animate_photo

    photo, keypoints, poses = workdir / "first.png", workdir / "first.npz", workdir / "poses.npz"
    if not photo.exists():  # written once per clip (``workdir`` is the clip's), read by every method
        Image.fromarray(clip.frames[0]).save(photo)
        np.savez(keypoints, keypoints=clip.poses[:1])
        np.savez(poses, keypoints=clip.poses)
    written = animate_photo(str(photo), keypoints_file=str(keypoints), poses_file=str(poses), animator=animator,
                            out=None, compose=method, canvas="photo", fps=clip.fps)
    return written["frames_written"]


def crops(frames: np.ndarray, crop: PersonCrop) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 -> the protocol's crop of each ``[T, S, S, 3]``."""
    return np.stack([crop_photo(frame, crop, crop.resolution) for frame in frames])


class Scorer:
    """The protocol's metrics on generated vs real crops (uint8 ``[T, S, S, 3]``, frame 0 left out)."""

    def __init__(self, estimator: str | None = "mediapipe", device: str = "cpu",
                 joints: Sequence[int] = BODY_JOINTS) -> None:
        from pgvg_core.config import ComponentSpec, build

        self.device, self.joints = torch.device(device), tuple(joints)
        self.metrics, self.skipped = {}, {}
        for name in ("ssim", "psnr", "lpips-st", "lpips"):
            try:
                self.metrics[name] = build("metrics", ComponentSpec(name=name), device=self.device)
            except (PgvgError, OSError, RuntimeError, ValueError) as error:
                self.skipped[name] = str(error).splitlines()[0]
                log.info("reconstruction: metric %s skipped: %s", name, self.skipped[name])
        self.estimator = None
        if estimator is not None:
            self.estimator = build("pose_sources", ComponentSpec(name=estimator), path="reconstruction estimator")
            try:
                self.estimator(np.zeros((1, 64, 64, 3), np.uint8))  # mediapipe missing: said once, here
            except PgvgError as error:
                self.skipped["akd"] = self.skipped["mkr"] = self.skipped["found"] = str(error).splitlines()[0]
                log.warning("reconstruction: AKD, MKR and found are not measured: %s", str(error).splitlines()[0])
                self.estimator = None
        self._real_poses: dict[int, np.ndarray] = {}

    def estimator_settings(self) -> dict[str, Any]:
        return dict(self.estimator.settings()) if self.estimator is not None else {}

    def provenance(self) -> dict[str, Any]:
        out = {name: metric.provenance() for name, metric in self.metrics.items()}
        if self.estimator is not None:
            out["akd"] = out["mkr"] = out["found"] = {"estimator": self.estimator_settings(),
                                                      "joints": list(self.joints)}
        out["skipped"] = self.skipped
        return out

    def score(self, real: np.ndarray, fake: np.ndarray, key: int,
              ghost: np.ndarray | None = None) -> dict[str, dict[str, float]]:
        """``key`` names the real crops (their keypoints are found once for every method); ``ghost`` is each
        frame's ghost region ``[T, S, S]`` bool (:func:`ghost_regions`)."""
        from pgvg_core.measure.score import to_model_range

        real, fake = real[1:], fake[1:]
        values: dict[str, dict[str, float]] = {
            "l1": {"l1": float(np.abs(real.astype(np.float64) - fake.astype(np.float64)).mean() / 255)}}
        a, b = to_model_range(real).to(self.device), to_model_range(fake).to(self.device)
        for name, metric in self.metrics.items():
            metric.reset()
            metric.update(a, b)
            values[name] = {k: float(v) for k, v in metric.compute().items()}
        if ghost is not None:
            values["ghost"] = self.ghost_metrics(real, fake, ghost[1:])
        if self.estimator is None:
            return values
        if key not in self._real_poses:
            self._real_poses[key] = self.estimator(real)
        values.update(keypoint_metrics(self._real_poses[key], self.estimator(fake), self.joints))
        return values


    def ghost_metrics(self, real: np.ndarray, fake: np.ndarray, ghost: np.ndarray) -> dict[str, float]:
        """L1 and LPIPS-ST in each frame's ghost region (see the module docstring), and the region's mean area
        (share of the crop) over the frames counted; NaN where no frame has one."""
        from pgvg_core.measure.score import to_model_range

        counted = ghost.mean(axis=(1, 2)) >= GHOST_MIN_AREA  # [T]
        area = float(ghost[counted].mean()) if counted.any() else 0.0
        if not counted.any():
            return {"l1": float("nan"), "lpips-st": float("nan"), "area": 0.0, "frames": 0.0}
        real, fake, ghost = real[counted], fake[counted], ghost[counted][..., None]  # ghost [T', S, S, 1]
        error = np.abs(real.astype(np.float64) - fake.astype(np.float64)) / 255
        l1 = float((error * ghost).sum() / (ghost.sum() * 3))
        lpips = float("nan")
        if "lpips-st" in self.metrics:
            pasted = np.where(ghost, fake, real)  # the real frame, but for the region: only it can differ
            metric = self.metrics["lpips-st"]
            metric.reset()
            metric.update(to_model_range(real).to(self.device), to_model_range(pasted).to(self.device))
            lpips = float(metric.compute()["lpips"])
        return {"l1": l1, "lpips-st": lpips, "area": area, "frames": float(counted.sum())}


def ghost_regions(poses: np.ndarray, crop: PersonCrop, skeleton: Any) -> np.ndarray:
    """Each frame's ghost region ``[T, S, S]`` bool in the protocol crop (``S = crop.resolution``): where a bone
    of frame 0's pose (drawn ``GHOST_WIDTH`` torsos thick) is and none of frame t's is. ``poses [T, K, 3]`` in
    the clip's pixels."""
    from pgvg_core.poses.keypoints import limb_mask

    points = torch.from_numpy(np.asarray(crop.to_model(poses), np.float32))  # [T, K, 3] in crop pixels
    measured = skeleton.measure(points[0].numpy(), found=SEEN)
    width = GHOST_WIDTH * measured[0] if measured else 0.05 * crop.resolution
    size = (crop.resolution, crop.resolution)
    drawn = limb_mask(points, size, width=width, limbs=skeleton.limbs, found=SEEN).numpy() > 0.5  # [T, S, S]
    return drawn[:1] & ~drawn


def keypoint_metrics(real: np.ndarray, fake: np.ndarray,
                     joints: Sequence[int] = BODY_JOINTS) -> dict[str, dict[str, float]]:
    """AKD, MKR and ``found`` from an estimator's keypoints on real and generated frames ``[T, K, 3]``, on
    ``joints``; distances in the person's (or face's) height on the real frame."""
    real, fake = real[:, list(joints)], fake[:, list(joints)]
    on_real, on_fake = real[..., 2] > 0.5, fake[..., 2] > 0.5  # [T, J]
    both = on_real & on_fake
    heights = np.array([np.ptp(r[s, 1]) if s.sum() >= 2 else np.nan for r, s in zip(real, on_real)])  # [T]
    distance = np.linalg.norm(real[..., :2] - fake[..., :2], axis=-1) / heights[:, None]  # [T, J]
    akd = float(np.nanmean(np.where(both, distance, np.nan))) if both.any() else float("nan")
    mkr = float((on_real & ~on_fake).sum() / max(1, on_real.sum()))
    found = float((fake[..., 2].max(-1) > 0).mean())
    return {"akd": {"akd": akd}, "mkr": {"mkr": mkr}, "found": {"found": found}}


def protocol_hash(protocol: Protocol, clips: Sequence[Path], estimator_settings: dict[str, Any],
                  joints: Sequence[int] = BODY_JOINTS) -> str:
    from pgvg_core.leaderboard.results import content_hash
    from pgvg_core.poses.cache import clip_hash

    return content_hash({"suite": SUITE, "version": VERSION, **attrs.asdict(protocol),
                         "head_and_feet": HEAD_AND_FEET, "margin": MARGIN, "joints": list(joints),
                         "ghost_width": GHOST_WIDTH, "ghost_min_area": GHOST_MIN_AREA,
                         "estimator": estimator_settings,
                         "clips": [{"name": p.name, "sha256": clip_hash(p)} for p in clips]})


def run_reconstruction(videos: str | Path, *, model: str | None = None, methods: Sequence[str] | None = None,
                       protocol: Protocol = Protocol(), out: str | Path = "runs/real-reconstruction",
                       database: Any = None, cache_dir: str | None = None, label: str = "",
                       report: Callable[[str], None] = log.info, progress: bool = True) -> dict[str, Any]:
    """The protocol on every clip under ``videos`` for each method: results stored (files under ``out``, rows
    in ``database``), a contact sheet per clip (real above, each method below, every third frame) and
    ``out/table.md``. ``label`` is put before each method's name (``person-`` + ``network``), so several
    models measured under one protocol stand in one table. ``methods`` None: the floor and every composition
    the model's renderer draws (a body model's layers, warp and network; a face model's network)."""
    from tqdm.auto import tqdm

    from pgvg_core.app.animate import _shipped_model
    from pgvg_core.app.pipeline import Animator

    clips = find_clips(videos)
    animator = Animator(model or _shipped_model())
    skeleton = animator.stage1.data.skeleton
    protocol = protocol.for_skeleton(skeleton)
    available = ("copy-first", *animator.compositions)  # the floor, and each way the model's renderer draws
    methods = [m for m in METHODS if m in available] if methods is None else methods
    unknown = sorted(set(methods) - set(available))
    if unknown:
        raise PgvgError(f"no reconstruction method {', '.join(unknown)} for this model; methods: "
                        f"{', '.join(available)}")
    joints = compared_joints(skeleton)
    scorer = Scorer(protocol.estimator, joints=joints)
    digest = protocol_hash(protocol, clips, scorer.estimator_settings(), joints)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results, per_clip = [], []
    for index, path in enumerate(tqdm(clips, desc="clips", unit="clip", disable=not progress)):
        try:
            clip = read_clip(path, protocol, skeleton=skeleton, cache_dir=cache_dir)
        except DataError as error:
            report(f"{path.name}: left out ({error})")
            continue
        real = crops(clip.frames, clip.crop)
        ghost = ghost_regions(clip.poses, clip.crop, skeleton)  # [T, S, S]
        rows, measured = [real], {}
        with tempfile.TemporaryDirectory() as work:
            for method in methods:
                made = crops(render_method(method, clip, animator, Path(work)), clip.crop)
                name = method if method == "copy-first" else label + method
                measured[name] = scorer.score(real, made, index, ghost=ghost)
                rows.append(made)
                results.append(_result(digest, name, method, index, clip, measured[name], scorer, animator,
                                       protocol))
        report(f"{path.name}: " + "; ".join(f"{m} SSIM {v['ssim']['ssim']:.3f} LPIPS-ST "
                                            f"{v.get('lpips-st', {}).get('lpips', float('nan')):.3f} ghost "
                                            f"LPIPS-ST {v.get('ghost', {}).get('lpips-st', float('nan')):.3f}"
                                            for m, v in measured.items()))
        sheet = out / f"{index:03d}-{path.stem}.png"
        _contact_sheet(rows, ["real", *measured], sheet)
        per_clip.append({"clip": str(path), "index": index, "stride": clip.stride, "fps": clip.fps,
                         "lost": clip.lost, "crop": clip.crop.as_dict(), "sheet": str(sheet), "metrics": measured})
    if not per_clip:
        raise DataError(f"--videos {videos}: no clip could be measured (see the lines above)")
    for result in results:
        _store(result, out, database)
    (out / "clips.json").write_text(json.dumps(per_clip, indent=1, default=float))
    table = summary_table(per_clip, list(per_clip[0]["metrics"]))
    (out / "table.md").write_text(table)
    return {"protocol_hash": digest, "clips": per_clip, "results": results, "table": table, "out": out}


def _result(digest: str, name: str, method: str, index: int, clip: Clip, values: dict[str, Any], scorer: Scorer,
            animator: Any, protocol: Protocol) -> Any:
    import tomli_w

    from pgvg_core.leaderboard.results import Result, code_version, hardware

    model = animator.source if method != "copy-first" else {"model": "none: the first frame repeated"}
    settings = {k: v for k, v in attrs.asdict(protocol).items() if v is not None}
    config = tomli_w.dumps({"method": {"name": name, "compose": method}, "protocol": settings,
                            "model": {k: str(v) for k, v in model.items()}})
    return Result(suite=SUITE, protocol_hash=digest, method=name, seed=index, metrics=values,
                  provenance={**scorer.provenance(), "clip": {"path": str(clip.path), "sha256": clip.sha256,
                                                              "stride": clip.stride, "lost_frames": clip.lost,
                                                              "crop": clip.crop.as_dict()}},
                  config=config, checkpoint_sha256=str(model.get("sha256", "none")), code=code_version(),
                  hardware=hardware(), torch_version=str(torch.__version__))


def _store(result: Any, out: Path, database: Any) -> None:
    from pgvg_core.leaderboard.results import store, write_result_file

    folder = out / "results-of" / result.method / f"clip-{result.seed:03d}"
    if database is None:
        write_result_file(folder, result)
    else:
        store(result, folder, database)


def summary_table(per_clip: Sequence[dict[str, Any]], methods: Sequence[str]) -> str:
    """Markdown: one row per method, mean ± std over clips of each metric, and one row per clip and method."""
    columns = [("ssim", "ssim", "SSIM ↑"), ("psnr", "psnr", "PSNR ↑"), ("l1", "l1", "L1 ↓"),
               ("lpips-st", "lpips", "LPIPS-ST ↓"), ("lpips", "lpips", "LPIPS ↓"), ("akd", "akd", "AKD ↓"),
               ("mkr", "mkr", "MKR ↓"), ("found", "found", "found ↑"), ("ghost", "l1", "ghost L1 ↓"),
               ("ghost", "lpips-st", "ghost LPIPS-ST ↓")]
    present = [c for c in columns if any(c[0] in clip["metrics"][m] for clip in per_clip for m in methods)]
    head = "| method | " + " | ".join(c[2] for c in present) + " |\n|---|" + "---|" * len(present) + "\n"
    lines = []
    for method in methods:
        cells = []
        for metric, key, _ in present:
            values = [clip["metrics"][method][metric][key] for clip in per_clip if metric in clip["metrics"][method]]
            values = [v for v in values if math.isfinite(v)]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}"
                         if values else "—")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    clip_lines = []
    for clip in per_clip:
        for method in methods:
            cells = [f"{clip['metrics'][method][metric][key]:.3f}" if metric in clip["metrics"][method] else "—"
                     for metric, key, _ in present]
            clip_lines.append(f"| {Path(clip['clip']).name} | {method} | " + " | ".join(cells) + " |")
    per = "| clip | method | " + " | ".join(c[2] for c in present) + " |\n|---|---|" + "---|" * len(present) + "\n"
    return (f"Mean ± std over {len(per_clip)} clip(s):\n\n" + head + "\n".join(lines) + "\n\nPer clip:\n\n" + per
            + "\n".join(clip_lines) + "\n")


def _contact_sheet(rows: Sequence[np.ndarray], labels: Sequence[str], path: Path, every: int = 3) -> Path:
    from pgvg_core.media.sheets import grid, save_png

    save_png(path, grid([row[::every] for row in rows], list(labels)))
    return path
