"""What the procedural datasets (``synthetic-actions``, ``synthetic-faces``) share: their parameters and
checks, identities kept apart between train and test, classes in turn, and clips as tensors."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from pgvg_core.interfaces import Dataset

#: How much memory a poses-only procedural dataset keeps of the clips it made (see ``__getitem__``).
POSE_MEMO_BYTES = 256 * 2**20


def _size_of(item: Mapping[str, torch.Tensor]) -> int:
    return sum(value.numel() * value.element_size() for value in item.values())


class ProceduralClips(Dataset):
    """A dataset computed from ``(seed, split, index)``: nothing to download. Subclasses set ``splits``,
    ``all_classes`` (with ``class_kind``, what the classes are called: "actions", "expressions"), the default
    clip and identity counts per split, the identity group of each split (train identities from one group,
    test ones from another: never the same person), and implement ``sample`` and ``_make_identity``."""

    all_classes: tuple[str, ...] = ()
    class_kind = "classes"
    default_clips: Mapping[str, int] = {}
    default_identities: Mapping[str, int] = {}
    identity_group: Mapping[str, int] = {}

    def __init__(self, *, split: str, resolution: int, frames: int, clips: int | None, identities: int | None,
                 classes: Sequence[str] | None, translate: bool, render: bool, onset: float, seed: int) -> None:
        if split not in self.splits:
            raise ValueError(f"split must be one of {', '.join(self.splits)}, got {split!r}")
        if resolution < 32 or resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16 and at least 32, got {resolution}")
        if frames < 2:
            raise ValueError(f"frames must be at least 2, got {frames}")
        if isinstance(classes, str):
            raise ValueError(f"{self.class_kind} must be a list of names, got the string {classes!r}; "
                             f"{self.class_kind}: {', '.join(self.all_classes)}")
        unknown = sorted(set(classes or ()) - set(self.all_classes))
        if unknown:
            raise ValueError(f"unknown {self.class_kind} {unknown}; {self.class_kind}: {', '.join(self.all_classes)}")
        if not 0.0 <= onset <= 1.0:
            raise ValueError(f"onset must be a share in [0, 1], got {onset}")
        self.split, self.resolution, self.frames = split, resolution, frames
        self.classes = tuple(classes) if classes else self.all_classes
        self.num_clips = clips if clips is not None else self.default_clips[split]
        self.num_identities = identities if identities is not None else self.default_identities[split]
        if self.num_clips < 1 or self.num_identities < 1:
            raise ValueError("clips and identities must be at least 1")
        self.onset, self.translate, self.render, self.seed = onset, translate, render, seed
        self._identity = functools.lru_cache(maxsize=256)(self._make_identity)
        self._pose_items: dict[int, dict[str, torch.Tensor]] = {}
        self._pose_items_bytes = 0

    def _make_identity(self, identity: int) -> Any:
        raise NotImplementedError

    def sample(self, index: int, frames: Sequence[int] | None = None, *,
               render: bool | None = None) -> dict[str, Any]:
        """One clip as numpy: ``keypoints [T, K, 3]``, ``label``, ``identity``, and ``frames`` uint8
        ``[T, H, W, 3]`` when rendering (``render``; None: the dataset's ``render``); with ``frames`` (time
        indices), only those frames, in that order, are rendered and returned (the clip's motion is the same)."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self.num_clips

    def identity_id(self, identity: int) -> int:
        """A global identity number: train identities count from 0, test ones from 1,000,000."""
        return self.identity_group[self.split] * 1_000_000 + identity

    def label_of(self, index: int) -> int:
        return index % len(self.classes)  # the classes in turn

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.render:
            return self._item(index)
        # Poses alone are a few kB a clip, and stage 1 reads each clip many times (the demo's 2,000 steps of 32
        # over 4,000 clips: 16 times; making them was a third of its step): kept after the first time, up to
        # POSE_MEMO_BYTES. Copies go out, so a caller that changes one cannot change the data.
        item = self._pose_items.get(index)
        if item is None:
            item = self._item(index)
            size = _size_of(item)
            if self._pose_items_bytes + size <= POSE_MEMO_BYTES:
                self._pose_items[index] = item
                self._pose_items_bytes += size
        return {key: value.clone() for key, value in item.items()}

    def frames_of(self, index: int, frames: Sequence[int]) -> dict[str, torch.Tensor]:
        if not self.render:  # poses only: cut from the (kept) whole clip
            return super().frames_of(index, frames)
        return self._item(index, frames)  # renders those frames alone: SCGAN's step reads 2 of 16

    def poses_of(self, index: int) -> dict[str, torch.Tensor]:
        # The same motion as the rendered clip (drawn from the clip's own stream), ~10x faster without pixels.
        return self[index] if not self.render else self._item(index, render=False)

    def _item(self, index: int, frames: Sequence[int] | None = None, *,
              render: bool | None = None) -> dict[str, torch.Tensor]:
        clip = self.sample(index, frames, render=render)
        item = {
            "keypoints": torch.from_numpy(clip["keypoints"]),  # [T, K, 3]
            "label": torch.tensor(clip["label"], dtype=torch.long),
            "identity": torch.tensor(clip["identity"], dtype=torch.long),
        }
        if "frames" in clip:
            item["frames"] = torch.from_numpy(clip["frames"]).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # [T, 3, H, W]
        return item

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, clips={self.num_clips}, "
                f"identities={self.num_identities}, resolution={self.resolution}, frames={self.frames}, "
                f"classes={len(self.classes)})")
