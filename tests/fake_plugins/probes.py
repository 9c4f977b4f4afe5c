"""A metric that says when it runs and takes its time: the kill test stops a run during an evaluation."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from pgvg_core import hookimpl
from pgvg_core.interfaces import Metric


class SlowProbe(Metric):
    """Mean absolute difference of real and fake; touches ``$PGVG_TEST_MARKERS/evaluating`` and waits
    ``PGVG_TEST_EVAL_SECONDS`` on every update."""

    def __init__(self, **_) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, real: torch.Tensor, fake: torch.Tensor, **_) -> None:
        markers = os.environ.get("PGVG_TEST_MARKERS")
        if markers:
            (Path(markers) / "evaluating").touch()
        time.sleep(float(os.environ.get("PGVG_TEST_EVAL_SECONDS", "0")))
        self.total += float((real.double() - fake.double()).abs().mean())
        self.count += 1

    def compute(self) -> dict[str, float]:
        return {"difference": self.total / max(self.count, 1)}


@hookimpl
def pgvg_register_metrics(register):
    register("slow-probe", SlowProbe)
