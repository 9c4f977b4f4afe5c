"""What the training loop does every so many steps: log (``metrics.jsonl``, TensorBoard), draw samples, checkpoint and
evaluate. Each callback's ``state_dict`` goes in every checkpoint, so a resumed run continues as it was."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pgvg_core.config import build
from pgvg_core.interfaces import Dataset, Metric, clips_by_class
from pgvg_core.measure.evaluation import measure
from pgvg_core.media.files import atomic_write
from pgvg_core.training import checkpoint
from pgvg_core.training.randomness import derived_seed, seeded_streams
from pgvg_core.training.run import EVALUATION_FILE, METRICS_LOG, SAMPLES_DIR

if TYPE_CHECKING:
    from pgvg_core.training.trainer import Trainer

log = logging.getLogger("pgvg.trainer")


def due(step: int, every: int, last: int) -> bool:
    """Whether a callback that runs every ``every`` steps runs after ``step`` (it always runs after the last)."""
    return step % every == 0 or step == last


class Callback:
    """Something the loop does after some steps. ``name`` keys its ``state_dict`` in every checkpoint, so a
    resumed run continues with the callback's state as it was (a user's callback: give it a unique name)."""

    name: str = ""

    def start(self, trainer: "Trainer") -> None:
        """Before the first step of :meth:`Trainer.fit` (of a new run or a resumed one)."""

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        """After every step; ``logged``: that step's loss terms (``d/<term>``, ``g/<term>``)."""

    def end(self, trainer: "Trainer") -> None:
        """After the last step."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


class Logger(Callback):
    """Every ``every`` steps, the mean of each loss term over the steps since the last row (and steps/s): one
    JSON line appended to ``metrics.jsonl``, TensorBoard scalars, the progress bar's figures."""

    name = "log"

    def __init__(self, every: int) -> None:
        self.every = every
        self.window: list[dict[str, float]] = []  # the steps not logged yet; checkpointed
        self.history: list[dict[str, float]] = []  # rows logged by this process
        self._window_started = time.perf_counter()

    def start(self, trainer: "Trainer") -> None:
        self._window_started = time.perf_counter()
        self._forget_rows_after(trainer.run_dir / METRICS_LOG, trainer.step)

    @staticmethod
    def _forget_rows_after(path: Path, step: int) -> None:
        """A run stopped after its last checkpoint logged steps it will train again: those rows go (the file
        is rewritten atomically, once per resume), so that no step is logged twice."""
        if not path.exists():
            return
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
        if len(kept) != len(lines):
            atomic_write(path, lambda file: file.write("".join(kept).encode("utf-8")))
            log.info("%s: %d rows after step %d dropped (logged again as the run continues)", path,
                     len(lines) - len(kept), step)

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        self.window.append(dict(logged))
        if not due(trainer.step, self.every, trainer.config.trainer.steps):
            return
        keys = sorted({key for row in self.window for key in row})
        rate = len(self.window) / max(time.perf_counter() - self._window_started, 1e-9)
        row = {"step": trainer.step, **{k: float(np.mean([r[k] for r in self.window if k in r])) for k in keys},
               "it_per_s": rate}
        self.window, self._window_started = [], time.perf_counter()
        self.history.append(row)
        with open(trainer.run_dir / METRICS_LOG, "a", encoding="utf-8") as file:  # append-only
            file.write(json.dumps(row) + "\n")
        trainer.add_scalars({k: v for k, v in row.items() if k != "step"})
        if trainer.bar is not None:
            trainer.bar.set_postfix({k.split("/")[-1][:10]: f"{v:.3f}" for k, v in row.items() if "/" in k},
                                    refresh=False)

    def state_dict(self) -> dict[str, Any]:
        return {"window": [dict(row) for row in self.window]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.window = [dict(row) for row in state.get("window", [])]


class Sampler(Callback):
    """Every ``every`` steps, the objective's pictures of a fixed batch of evaluation clips (spread over the
    classes) with fixed noise, so that pictures of different steps compare: ``samples/<name>-step*.png|gif``."""

    name = "samples"

    def __init__(self, every: int, count: int) -> None:
        self.every, self.count = every, count
        self._batch: dict[str, torch.Tensor] | None = None

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        if due(trainer.step, self.every, trainer.config.trainer.steps):
            self.save(trainer)

    def _sample_batch(self, dataset: Dataset) -> dict[str, torch.Tensor]:
        if self._batch is None:
            count = min(self.count, len(dataset))
            self._batch = torch.utils.data.default_collate([dataset[i] for i in clips_by_class(dataset, count)])
        return self._batch

    @torch.no_grad()
    def save(self, trainer: "Trainer") -> list[Path]:
        from pgvg_core.media.sheets import save_png
        from pgvg_core.media.video import write_video

        batch = self._sample_batch(trainer.experiment.evaluation_dataset())
        trainer.nets.eval()
        with seeded_streams(derived_seed(trainer.config.experiment.seed, "samples"), trainer.device):
            pictures = trainer.objective.samples(trainer.nets, trainer.objective.prepare(batch, trainer.device))
        trainer.nets.train()
        folder = trainer.run_dir / SAMPLES_DIR
        folder.mkdir(exist_ok=True)
        written = []
        for name, picture in pictures.items():
            stem = folder / f"{name}-step{trainer.step:07d}"
            if picture.ndim == 4:
                written.append(write_video(stem.with_suffix(".gif"), picture, fps=6))
            else:
                save_png(stem.with_suffix(".png"), picture)
                written.append(stem.with_suffix(".png"))
        return written


class Checkpointer(Callback):
    """Every ``every`` steps, the whole training state (:meth:`Trainer.state_dict`), written atomically; the
    last ``keep`` checkpoints are kept."""

    name = "checkpoint"

    def __init__(self, every: int, keep: int) -> None:
        self.every, self.keep = every, keep

    def start(self, trainer: "Trainer") -> None:
        for stale in checkpoint.stale_writes(trainer.run_dir):  # a process killed while writing one
            stale.unlink(missing_ok=True)
            log.info("removed %s, a checkpoint write that never finished", stale)

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        if due(trainer.step, self.every, trainer.config.trainer.steps):
            trainer.save_checkpoint()


class Evaluation(Callback):
    """Every configured metric on the evaluation split, every ``every`` steps (0: only at the end) and after
    the last step; written to ``metrics.json`` and TensorBoard (``eval/<metric>.<value>``)."""

    name = "evaluate"

    def __init__(self, every: int) -> None:
        self.every = every
        self.last: dict[str, Any] = {}
        self._metrics: dict[str, Metric] | None = None

    def after_step(self, trainer: "Trainer", logged: Mapping[str, float]) -> None:
        if self.every and trainer.step % self.every == 0 and trainer.step != trainer.config.trainer.steps:
            self.evaluate(trainer)

    def end(self, trainer: "Trainer") -> None:
        if trainer.config.metrics:
            self.evaluate(trainer)

    def metrics(self, trainer: "Trainer") -> dict[str, Metric]:
        """The configured metrics, built once (a metric's helper network is loaded once per run)."""
        if self._metrics is None:
            self._metrics = {
                spec.name: build("metrics", spec, registries=trainer.registries, file=trainer.config.source,
                                 path=f"metrics[{index}]", data=trainer.data, device=trainer.device)
                for index, spec in enumerate(trainer.config.metrics)}
        return self._metrics

    def evaluate(self, trainer: "Trainer") -> dict[str, Any]:
        metrics = self.metrics(trainer)
        dataset = trainer.experiment.evaluation_dataset()
        count = min(trainer.config.trainer.eval_clips, len(dataset))
        values = measure(trainer.objective, trainer.nets, dataset, metrics, clips=count,
                         batch_size=trainer.config.trainer.batch_size,
                         seed=derived_seed(trainer.config.experiment.seed, "evaluate"), device=trainer.device,
                         num_workers=trainer.config.trainer.num_workers, progress=trainer.progress)
        result = {"step": trainer.step, "clips": count, "metrics": values,
                  "provenance": {name: metric.provenance() for name, metric in metrics.items()}}
        (trainer.run_dir / EVALUATION_FILE).write_text(json.dumps(result, indent=2, default=str))
        trainer.add_scalars({f"eval/{name}.{key}": value for name, sub in values.items()
                             for key, value in sub.items()
                             if isinstance(value, (int, float)) and math.isfinite(value)})
        # The log line keeps the headline values; per-part ones ("presence.<joint>": 68 of them for a face)
        # are in the evaluation file.
        headline = {name: {key: value for key, value in sub.items() if "." not in key} for name, sub in values.items()}
        log.info("step %d: %s (all values: %s)", trainer.step, json.dumps(headline), EVALUATION_FILE)
        self.last = values
        return values
