"""What the training loader reads: batches as a pure function of (seed, step), so resuming is exact, and the
few frames of each clip an objective asks for."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from pgvg_core.interfaces import frames_kept
from pgvg_core.training.randomness import derived_seed

#: What the training loader asks a dataset for when the objective reads a few frames of each clip.
FrameRequest = tuple[int, tuple[int, ...]]  # (clip index, time indices)


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches as a pure function of (seed, step): a fresh permutation per epoch, so resuming is exact. With
    several processes, process ``rank`` of ``world_size`` takes its share of each global batch.

    With ``frame_choice`` (an objective's ``training_frames`` for the data's clip length), each batch is of
    :data:`FrameRequest` s instead: every sample's frames drawn from a stream of (seed, step, position)."""

    def __init__(self, size: int, batch_size: int, seed: int, start_step: int, steps: int, *, rank: int = 0,
                 world_size: int = 1,
                 frame_choice: Callable[[torch.Generator], Sequence[int]] | None = None) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start_step, self.steps = start_step, steps
        self.rank, self.world_size = rank, world_size
        self.frame_choice = frame_choice
        self._permutations: dict[int, torch.Tensor] = {}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutations = {epoch: torch.randperm(self.size, generator=generator)}
        return self._permutations[epoch]

    def batch(self, step: int) -> list[int]:
        positions = range(step * self.batch_size, (step + 1) * self.batch_size)
        return [int(self._permutation(p // self.size)[p % self.size]) for p in positions]

    def positions(self) -> range:
        """This process's positions in every global batch."""
        share = self.batch_size // self.world_size
        return range(self.rank * share, (self.rank + 1) * share)

    def share(self, step: int) -> list[int]:
        batch = self.batch(step)
        return [batch[p] for p in self.positions()]

    def requests(self, step: int) -> list[FrameRequest]:
        """This process's share of the batch of ``step`` with the frames each sample's step reads."""
        requests = []
        for position, index in zip(self.positions(), self.share(step)):
            generator = torch.Generator().manual_seed(derived_seed(self.seed, f"frames:{step}:{position}"))
            requests.append((index, tuple(int(t) for t in self.frame_choice(generator))))
        return requests

    def __iter__(self) -> Iterator[list[int] | list[FrameRequest]]:
        for step in range(self.start_step, self.steps):
            yield self.requests(step) if self.frame_choice is not None else self.share(step)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)


class FrameRequests(torch.utils.data.Dataset):
    """A dataset as the training loader reads it when the objective reads a few frames of each clip: items are
    asked for as :data:`FrameRequest` s, and only those frames are made (:meth:`Dataset.frames_of`) or, for a
    dataset that is not a pgvg :class:`Dataset`, cut from the whole clip."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, request: FrameRequest) -> dict[str, torch.Tensor]:
        index, frames = request
        frames_of = getattr(self.dataset, "frames_of", None)
        return frames_of(index, frames) if frames_of is not None else frames_kept(self.dataset[index], frames)
