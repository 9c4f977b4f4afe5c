"""Which runs of a pipeline folder provide poses (stage 1) and frames (stage 2), the contract each must
implement, and what an action moves in a stage's training data: what both the pipeline and its bundles read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pgvg_core.errors import PgvgError
from pgvg_core.objective import FrameRenderer, PoseSequenceModel
from pgvg_core.poses.framing import Framing

#: What a stage of a pipeline may provide, and the contract its run's objective must implement for it.
CONTRACTS = {"poses": PoseSequenceModel, "frames": FrameRenderer}
#: The run folders that provide poses and frames in a pipeline folder that records no pipeline file.
DEFAULT_PROVIDERS = {"poses": "psgan", "frames": "scgan"}
PIPELINE_RECORD = "pipeline.toml"


def stage_folders(pipeline_dir: Path) -> dict[str, str]:
    """Which run folder of a pipeline folder provides poses and which frames."""
    import tomllib

    record = Path(pipeline_dir) / PIPELINE_RECORD
    if not record.is_file():
        return dict(DEFAULT_PROVIDERS)
    stages = tomllib.loads(record.read_text(encoding="utf-8")).get("stages", [])
    return {**DEFAULT_PROVIDERS, **{s["provides"]: s["name"] for s in stages if s.get("provides") in CONTRACTS}}


def check_contract(stage: Any, provides: str, model: Path) -> None:
    """Refuse a stage (a loaded run) whose objective does not implement the contract of what it provides."""
    contract = CONTRACTS[provides]
    if not isinstance(stage.objective, contract):
        what = {"poses": "stage 1 (poses)", "frames": "stage 2 (frames)"}[provides]
        raise PgvgError(f"{model}: the {what} run's objective ({type(stage.objective).__name__}) does not implement "
                        f"pgvg_core.objective.{contract.__name__}, the contract the pipeline uses; train that stage "
                        "with an objective that does (psgan, scgan, pose2image, or a plugin's)")


def moved_joints_of(dataset: Any, classes: Sequence[str], framing: Framing, *, clips_per_action: int = 8,
                    threshold: float = 0.3) -> dict[str, set[int]]:
    """Per action, the joints it moves in ``dataset``: those whose position spans more than ``threshold``
    torso lengths over a clip, on average over the first ``clips_per_action`` clips of that action."""
    spans: dict[int, list[np.ndarray]] = {label: [] for label in range(len(classes))}
    for index in range(min(len(dataset), clips_per_action * len(classes))):
        clip = dataset[index]
        keypoints = clip["keypoints"].numpy()  # [T, K, 3]
        extent = keypoints[..., :2].max(0) - keypoints[..., :2].min(0)  # [K, 2]
        spans[int(clip["label"])].append(np.linalg.norm(extent, axis=-1) / max(framing.length, 1e-6))
    return {action: {int(k) for k in np.nonzero(np.mean(spans[label], axis=0) > threshold)[0]}
            if spans[label] else set() for label, action in enumerate(classes)}
