"""Measuring a model: metrics over the first clips of a dataset, the same way for a run in training
(:class:`pgvg_core.trainer.Evaluation`) and a finished one (``pgvg bench``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from pgvg_core.interfaces import Dataset, Metric
from pgvg_core.objective import Objective
from pgvg_core.randomness import seeded_streams


@torch.no_grad()
def measure(objective: Objective, nets: nn.ModuleDict, dataset: Dataset, metrics: Mapping[str, Metric], *,
            clips: int, batch_size: int, seed: int, device: torch.device, num_workers: int = 0,
            progress: bool = False) -> dict[str, dict[str, Any]]:
    """Every metric over the first ``clips`` clips of ``dataset``: the objective's ``evaluation_pairs`` of
    each batch, drawn from streams seeded with ``seed`` (the caller's streams as they were)."""
    from tqdm.auto import tqdm

    for metric in metrics.values():
        metric.reset()
    count = min(clips, len(dataset))
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(count)), batch_size=batch_size,
                                         num_workers=num_workers)
    training = [net.training for net in nets.values()]
    nets.eval()
    with seeded_streams(seed, device):
        for raw in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
            pairs = objective.evaluation_pairs(nets, objective.prepare(raw, device))
            context = {k: v for k, v in pairs.items() if k not in ("real", "fake")}
            for metric in metrics.values():
                metric.update(pairs["real"], pairs["fake"], **context)
    for net, was_training in zip(nets.values(), training):
        net.train(was_training)
    return {name: metric.compute() for name, metric in metrics.items()}
