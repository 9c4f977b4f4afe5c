"""The pgvg hook specifications: one registration hook per component kind.

Each hook receives a ``register`` callback, ``register(name, factory, *, summary=None)``; plugins never touch
a global registry. ``summary`` defaults to the first line of the factory's docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pgvg_core import hookspec


class Register(Protocol):
    def __call__(self, name: str, factory: Callable[..., Any], *, summary: str | None = None) -> None: ...


@hookspec
def pgvg_register_generators(register: Register) -> None:
    """Register generators (``torch.nn.Module`` factories, see :class:`pgvg_core.interfaces.Generator`).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_discriminators(register: Register) -> None:
    """Register discriminators (see :class:`pgvg_core.interfaces.Discriminator`).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_evaluators(register: Register) -> None:
    """Register evaluation helpers (see :class:`pgvg_core.interfaces.Evaluator`): networks that metrics use to
    judge outputs — an action classifier over pose sequences, a pose estimator over frames — trained by their
    own experiments (``[evaluators.<role>]``).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_losses(register: Register) -> None:
    """Register loss terms (see :class:`pgvg_core.interfaces.Loss`): what ``[losses.<term>]`` names.

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_objectives(register: Register) -> None:
    """Register training objectives (see :class:`pgvg_core.objective.Objective`): what ``[objective]`` names,
    the networks' roles, the loss terms and how one training step uses them.

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_pose_sources(register: Register) -> None:
    """Register pose sources: frames -> keypoints (see :class:`pgvg_core.interfaces.PoseSource`).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_augmentations(register: Register) -> None:
    """Register augmentations (see :class:`pgvg_core.interfaces.Augmentation`).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_metrics(register: Register) -> None:
    """Register metrics: update / compute / reset (see :class:`pgvg_core.interfaces.Metric`).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_datasets(register: Register) -> None:
    """Register datasets (see :class:`pgvg_core.interfaces.Dataset`).

    :param register: ``register(name, factory, *, summary=None)``
    """


@hookspec
def pgvg_register_skeletons(register: Register) -> None:
    """Register skeletons: what keypoints are (see :class:`pgvg_core.poses.skeleton.Skeleton`). The factory takes no
    arguments and returns the skeleton, whose ``name`` is the registered name; datasets and pose sources name
    the skeleton their keypoints follow.

    :param register: ``register(name, factory, *, summary=None)``
    """
