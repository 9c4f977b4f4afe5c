"""``pgvg demo``: train both stages on synthetic-actions within a CPU budget, then show what they do."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from pgvg_core.app.pipeline import (
    DEMO_METRIC_CLIPS,
    DEMO_PIPELINE,
    Animator,
    Stage,
    every_metric,
    failure_cases,
    loss_curves,
    panels,
    pipeline_stages,
    record_pipeline,
    train_stage,
    write_json,
)
from pgvg_core.app.timing import PhaseClock
from pgvg_core.interfaces import clips_by_class
from pgvg_core.media.sheets import grid, save_png
from pgvg_core.media.video import to_uint8, write_video
from pgvg_core.poses.skeleton import Skeleton
from pgvg_core.training.run import load_run

log = logging.getLogger("pgvg.demo")

VIEW_SCALE = 3  # 64-pixel frames are small: videos are written at 3x, nearest neighbour


def _enlarge(clip: np.ndarray, scale: int = VIEW_SCALE) -> np.ndarray:
    return clip.repeat(scale, axis=-3).repeat(scale, axis=-2)


def _skeletons(keypoints: torch.Tensor, size: int, skeleton: Skeleton) -> np.ndarray:
    from pgvg_core.poses.keypoints import skeleton_image

    return np.stack([skeleton_image(k, size, skeleton=skeleton) for k in keypoints.cpu().numpy()])


def scaled_steps(stage: Stage, factor: float) -> tuple[str, ...]:
    """Overrides that train ``stage`` ``factor`` times as many steps (sampling and checkpoints likewise)."""
    scaled = []
    for override in stage.overrides:
        key, _, value = override.partition("=")
        if key in ("trainer.steps", "trainer.sample_every", "trainer.checkpoint_every"):
            scaled.append(f"{key}={max(1, round(int(value) * factor))}")
    return tuple(scaled)


def run_demo(out: Path, *, progress: bool = True, quick: bool = False, steps_factor: float = 1.0,
             pipeline: Path = DEMO_PIPELINE) -> dict[str, Path]:
    """Train (or reuse) the stages of ``pipeline`` in ``out`` and write videos, a sheet, loss curves and
    metrics.json.

    ``quick`` trains a few steps only (for tests: checks the whole path, not the quality); ``steps_factor``
    trains the stages that provide poses and frames that many times longer (a finished shorter run is
    continued, exactly).
    """
    started = time.perf_counter()
    stages = pipeline_stages(pipeline)
    out.mkdir(parents=True, exist_ok=True)
    record_pipeline(stages, out)
    runs, clock = {}, PhaseClock()
    for stage in stages:
        log.info("demo: training %s", stage.name)
        if quick:
            extra: tuple[str, ...] = ("trainer.steps=4", "trainer.eval_clips=4", "trainer.log_every=2")
        else:
            # Longer training is for the two stages that generate; the metrics' helpers are good enough.
            extra = scaled_steps(stage, steps_factor) if stage.provides else ()
        runs[stage.name] = train_stage(stage, out, extra=extra, progress=progress)
        clock.lap(stage.name)
    animator = Animator(out, device="cpu")
    written: dict[str, Path] = {}
    dataset = animator.stage2.evaluation_dataset()
    size = animator.resolution
    sheet_rows, sheet_labels = [], []
    first_of = {dataset.label_of(i): i for i in reversed(clips_by_class(dataset, 3 * len(animator.classes)))}
    for label, action in enumerate(animator.classes):
        if label not in first_of:
            log.warning("demo: no test clip of '%s' among the first clips; left out of the videos", action)
            continue
        clip = dataset[first_of[label]]
        image, keypoints = clip["frames"][0], clip["keypoints"]
        poses = animator.poses(keypoints[0], action, seed=label)
        frames = animator.frames(image, keypoints[0], poses)
        generated, real = to_uint8(frames), to_uint8(clip["frames"])
        video = panels(to_uint8(image), _skeletons(poses, size, animator.stage1.data.skeleton), generated, real)
        stem = out / f"{label:02d}-{action}"
        written[f"{action}.mp4"] = write_video(stem.with_suffix(".mp4"), _enlarge(video), fps=8)
        written[f"{action}.gif"] = write_video(stem.with_suffix(".gif"), _enlarge(video, 2), fps=8)
        sheet_rows += [generated[::2], real[::2]]
        sheet_labels += [f"{action}", "  real"]
    written["sheet"] = out / "contact-sheet.png"
    save_png(written["sheet"], grid(sheet_rows, sheet_labels), scale=2)
    written["losses"] = loss_curves({stage.name: runs[stage.name] for stage in stages if stage.provides},
                                    out / "loss-curves.png")
    clock.lap("videos")
    metrics = every_metric(animator, out, clips=4 if quick else DEMO_METRIC_CLIPS)
    # The paper's failure cases beside the test split: poses beyond the training range, an occluded face.
    classifier = load_run(out / "action-classifier").nets["classifier"]
    metrics["failure_cases"], sheet = failure_cases(animator, classifier, clips=4 if quick else DEMO_METRIC_CLIPS)
    written["failure_cases"] = out / "failure-cases.png"
    save_png(written["failure_cases"], sheet, scale=2)
    clock.lap("metrics")
    # Where the time went (a reused stage takes about no time): the performance issue reports it per stage.
    metrics["stage_seconds"] = clock.rounded(1)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    written["metrics"] = write_json(out / "metrics.json", metrics)
    return written
