"""The training loop both stages share: alternate D and G steps, and a few callbacks every so many steps.

    config --Experiment.build--> networks, objective, data --Trainer.fit--> run folder --load_run--> inference

:class:`Trainer` owns what only training needs — the optimisers, the step, the process-wide random streams —
and calls its callbacks after each step: :class:`Logger` (``metrics.jsonl``, TensorBoard), :class:`Sampler`
(``samples/``), :class:`Checkpointer` (``checkpoints/``) and :class:`Evaluation` (``metrics.json``). Each
callback's ``state_dict`` is saved in every checkpoint, so ``Trainer.resume(run_dir)`` continues exactly where
the last checkpoint stopped: data order, noise, optimiser states and a log window half filled included. A
user's own callbacks go in ``Trainer(..., callbacks=[...])``; they run on process 0 only. The run folder's
layout: :mod:`pgvg_core.training.run`; several processes: :mod:`pgvg_core.training.distributed`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from pgvg_core import __version__
from pgvg_core.config import ExperimentConfig, config_to_toml
from pgvg_core.errors import CheckpointError, ConfigError, PgvgError, Preempted
from pgvg_core.objective import DataInfo, Objective, adam
from pgvg_core.training import checkpoint, distributed, randomness
from pgvg_core.training.batches import FrameRequests, StepBatchSampler
from pgvg_core.training.callbacks import Callback, Checkpointer, Evaluation, Logger, Sampler
from pgvg_core.training.devices import auto_precision, resolve_device, to_channels_last, warn_if_bf16_is_slow
from pgvg_core.training.experiment import Experiment, network_specs
from pgvg_core.training.randomness import derived_seed, rng_state, seed_everything, set_rng_state
from pgvg_core.training.run import CONFIG_FILE, saved_config
from registries import RegistrySet

log = logging.getLogger("pgvg.trainer")


class TrainingError(PgvgError):
    """Training cannot go on (a loss that is not finite); the last good checkpoint is kept."""


class StopSignals:
    """While active, SIGTERM and SIGINT only ask the loop to stop at the next step boundary (a second one
    acts as usual: stops at once). Only the main thread can take signals; elsewhere this does nothing."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:  # asked twice: give the signal its usual meaning
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self.received = signum
        log.warning("%s received: stopping after this step, with a checkpoint (again to stop at once)",
                    signal.Signals(signum).name)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


@attrs.frozen(kw_only=True)
class RunResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any]
    seconds: float


class Trainer:
    """The training loop: an :class:`~pgvg_core.training.experiment.Experiment` built from ``config``, its optimisers,
    and the callbacks, writing into ``run_dir``."""

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        *,
        registries: RegistrySet | None = None,
        progress: bool = True,
        callbacks: Sequence[Callback] = (),
        _resume_state: dict[str, Any] | None = None,
    ) -> None:
        trainer = config.trainer
        self.run_dir = Path(run_dir)
        self.progress = progress
        if trainer.threads:
            torch.set_num_threads(trainer.threads)
        device = resolve_device(trainer.device)
        self.world = distributed.start(device.type)
        if self.world.active and device.type == "cuda":
            device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(device)
        if trainer.batch_size % self.world.size:
            raise ConfigError(f"trainer.batch_size {trainer.batch_size} is the global batch: it must split evenly "
                              f"over the {self.world.size} processes", file=config.source, path="trainer.batch_size")
        self.precision = auto_precision(device, self.world) if trainer.precision == "auto" else trainer.precision
        if self.precision == "fp16" and device.type != "cuda":
            raise ConfigError("trainer.precision 'fp16' needs CUDA; use 'fp32' on the CPU",
                              file=config.source, path="trainer.precision")
        if trainer.precision == "bf16" and device.type == "cpu":  # "auto" has said why it chose
            warn_if_bf16_is_slow()
        self.experiment = Experiment.build(config, device=device, registries=registries)
        for net in self.nets.values():
            distributed.broadcast_from_main(net)
            if trainer.channels_last:
                to_channels_last(net)
            if trainer.compile:
                net.compile()  # in place: parameter names and checkpoints stay those of the plain network
        self.optimizers = {
            role: adam(self.nets[role].parameters(), self.device, lr=spec.lr, betas=spec.betas,
                       weight_decay=spec.weight_decay)
            for _, role, spec in network_specs(config)
        }
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        self.step = 0
        self.logger = Logger(trainer.log_every)
        self.evaluation = Evaluation(trainer.eval_every)
        # Order matters: a checkpoint holds the log window after this step's row, and evaluation comes after
        # the checkpoint (as a run that stops during an evaluation resumes from that checkpoint).
        self.callbacks: list[Callback] = [self.logger, Sampler(trainer.sample_every, trainer.samples),
                                          Checkpointer(trainer.checkpoint_every, trainer.keep_checkpoints),
                                          self.evaluation, *callbacks]
        names = [callback.name for callback in self.callbacks]
        if len(set(names)) != len(names) or "" in names:
            raise PgvgError(f"callbacks need unique, non-empty names (their checkpoint keys); got {names}")
        self.writer: Any = None
        self.bar: Any = None
        if _resume_state is not None:
            self.load_state_dict(_resume_state)
        else:
            # The loop owns the process-wide streams: a new run's training noise starts from the seed alone.
            seed_everything(derived_seed(config.experiment.seed, "train"))

    # What the experiment built, under the names the loop and its callbacks use.
    config = property(lambda self: self.experiment.config)
    registries = property(lambda self: self.experiment.registries)
    device = property(lambda self: self.experiment.device)
    dataset = property(lambda self: self.experiment.dataset)
    data: DataInfo = property(lambda self: self.experiment.data)  # type: ignore[assignment]
    nets: nn.ModuleDict = property(lambda self: self.experiment.nets)  # type: ignore[assignment]
    objective: Objective = property(lambda self: self.experiment.objective)  # type: ignore[assignment]
    history = property(lambda self: self.logger.history)

    # ------------------------------------------------------------------------------------------ one step

    def _roles(self, roles: tuple[str, ...]) -> tuple[str, ...]:
        """The roles of ``roles`` this run has networks for (an optional one may be left out)."""
        return tuple(role for role in roles if role in self.nets)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _loader(self, sampler: StepBatchSampler) -> torch.utils.data.DataLoader:
        trainer = self.config.trainer
        dataset = self.dataset if sampler.frame_choice is None else FrameRequests(self.dataset)
        return torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, num_workers=trainer.num_workers,
            pin_memory=self.device.type == "cuda", persistent_workers=False,
            # Its own generator: a loader draws a seed when iterated, which must not shift the global stream
            # (or a resumed run would draw different noise than an uninterrupted one).
            generator=torch.Generator().manual_seed(self.config.experiment.seed),
        )

    def _sampler(self) -> StepBatchSampler:
        trainer = self.config.trainer
        return StepBatchSampler(len(self.dataset), trainer.batch_size, self.config.experiment.seed, self.step,
                                trainer.steps, rank=self.world.rank, world_size=self.world.size,
                                frame_choice=self._frame_choice())

    def _frame_choice(self) -> Callable[[torch.Generator], Sequence[int]] | None:
        """The objective's choice of frames for this data's clips, or ``None`` where a step reads whole clips."""
        length = getattr(self.dataset, "frames", None)
        if not isinstance(length, int):
            return None
        probe = self.objective.training_frames(length, torch.Generator().manual_seed(0))
        if probe is None:
            return None
        return functools.partial(self.objective.training_frames, length)

    def _update(self, roles: tuple[str, ...], terms: dict[str, torch.Tensor]) -> None:
        total = sum(terms.values())
        for role in roles:
            self.optimizers[role].zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        for role in roles:
            distributed.average_gradients(self.nets[role].parameters(), self.world)
            if self.config.trainer.grad_clip > 0:
                self.scaler.unscale_(self.optimizers[role])
                nn.utils.clip_grad_norm_(self.nets[role].parameters(), self.config.trainer.grad_clip)
            self.scaler.step(self.optimizers[role])
        self.scaler.update()

    def _requires_grad(self, roles: tuple[str, ...], flag: bool) -> None:
        for role in roles:
            self.nets[role].requires_grad_(flag)

    def train_step(self, raw_batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step's updates; its loss terms as 0-dim tensors on the device (``d/...``, ``g/...``), read by
        the host once, in :meth:`_logged`."""
        objective = self.objective
        # Evaluation helpers are fitted like generators: by the terms of the generator step.
        generators = self._roles(objective.generator_roles + objective.evaluator_roles)
        discriminators = self._roles(objective.discriminator_roles)
        self.nets.train()
        batch = objective.prepare(objective.training_batch(raw_batch), self.device)
        logged: dict[str, float] = {}
        with self._autocast():
            fakes = objective.generate(self.nets, batch) if generators else {}
        if discriminators:
            self._requires_grad(discriminators, True)
            with self._autocast():
                d_terms = objective.discriminator_terms(self.nets, batch, {k: v.detach() for k, v in fakes.items()})
            if d_terms:
                self._update(discriminators, d_terms)
                logged.update({f"d/{k}": v.detach() for k, v in d_terms.items()})
        if generators:
            self._requires_grad(discriminators, False)  # no discriminator gradients in the generator step
            with self._autocast():
                g_terms = objective.generator_terms(self.nets, batch, fakes)
            self._update(generators, g_terms)
            self._requires_grad(discriminators, True)
            logged.update({f"g/{k}": v.detach() for k, v in g_terms.items()})
        return logged

    def _logged(self, terms: Mapping[str, torch.Tensor], stopping: bool) -> tuple[dict[str, float], bool]:
        """The step's loss terms (0-dim tensors on the device), averaged over the processes, as numbers, and
        whether any process was asked to stop: one collective and one host sync a step (there were up to five
        and one per term). A term that is not finite on any process is not finite in the sum: training stops
        there, naming it, before a checkpoint could keep what that step did to the weights."""
        names = list(terms)
        packed = torch.stack([terms[name].float() for name in names] +
                             [torch.tensor(float(stopping), device=self.device)]).double() if names else \
            torch.tensor([float(stopping)], dtype=torch.float64, device=self.device)
        *values, stops = distributed.sum_over_processes(packed, self.world).tolist()
        bad = [name for name, value in zip(names, values) if not math.isfinite(value)]
        if bad:
            last_good = self._last_checkpoint()
            kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
            mine = [name for name in bad if not bool(torch.isfinite(terms[name]))]
            what = (f"loss term '{mine[0]}' is {terms[mine[0]].item()}" if mine
                    else "a loss term of another process is not finite")
            raise TrainingError(f"step {self.step}: {what}; training stopped and {kept}. Lower the learning rate, "
                                "enable trainer.grad_clip, or use precision = \"fp32\"")
        return {name: value / self.world.size for name, value in zip(names, values)}, stops > 0

    def _set_learning_rates(self) -> None:
        """The schedule's learning rate for this step: a pure function of the step, so a resumed run follows
        the same schedule without any scheduler state in the checkpoint."""
        trainer = self.config.trainer
        factor = 1.0
        if trainer.lr_schedule == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * min(self.step, trainer.steps) / trainer.steps))
        for _, role, spec in network_specs(self.config):
            for group in self.optimizers[role].param_groups:
                group["lr"] = spec.lr * factor

    # ---------------------------------------------------------------------------------------------- loop

    def fit(self) -> RunResult:
        """Train to ``trainer.steps``, then evaluate; returns where everything went."""
        from tqdm.auto import tqdm

        trainer = self.config.trainer
        main = self.world.main  # only process 0 logs, samples, checkpoints and evaluates
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / CONFIG_FILE).write_text(config_to_toml(self.config), encoding="utf-8")
        started = time.perf_counter()
        if self.step == 0:
            warmed = self.objective.warm_start(self.nets, self.dataset, seed=self.config.experiment.seed)
            if warmed:
                log.info("warm start: %s", ", ".join(f"{k} {v:.4g}" for k, v in warmed.items()))
        # The progress bar and the TensorBoard writer are closed whatever ends the run (an error included).
        with contextlib.ExitStack() as closing:
            self.writer = self._tensorboard() if main else None
            if self.writer is not None:
                closing.callback(self.writer.close)
            self.bar = closing.enter_context(tqdm(total=trainer.steps, initial=self.step, unit="step",
                                                  desc=self.config.experiment.name,
                                                  disable=not (self.progress and main), dynamic_ncols=True))
            stop = closing.enter_context(StopSignals())
            callbacks = self.callbacks if main else []
            for callback in callbacks:
                callback.start(self)
            sampler = self._sampler()
            for raw in self._loader(sampler):
                self._set_learning_rates()
                self._check_batch(raw)
                with randomness.per_sample_streams(self.config.experiment.seed, self.step, sampler.positions()):
                    terms = self._guarded_step(raw)
                logged, stopping = self._logged(terms, stop.received is not None)
                self.step += 1
                self.bar.update(1)
                for callback in callbacks:
                    callback.after_step(self, logged)
                # A signal that came during the callbacks stops here too; with several processes, at the next
                # step, when all of them know of it (the flag travels with the next step's loss terms).
                if stopping or (not self.world.active and stop.received is not None):
                    self._preempted(stop.received or signal.SIGTERM)
            for callback in callbacks:
                callback.end(self)
            self.bar = None
        distributed.barrier()  # the others wait for process 0's last checkpoint and evaluation
        return RunResult(run_dir=self.run_dir, step=self.step, metrics=self.evaluation.last,
                         seconds=time.perf_counter() - started)

    def _preempted(self, signum: int) -> None:
        """Every process stops after the same step; process 0 writes its checkpoint first."""
        path = checkpoint.checkpoint_path(self.run_dir, self.step)
        if self.world.main:
            path = self._checkpoint_at_this_step()
        distributed.barrier()
        raise Preempted(signum, self.step, path)

    def _check_batch(self, raw: Mapping[str, torch.Tensor]) -> None:
        """A batch with NaN or infinite values stops training here, naming the clips, before it reaches the
        weights (every process stops: one's share of the batch is enough)."""
        bad = {key: value for key, value in raw.items()
               if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()}
        if not distributed.any_process(bool(bad), self.world, self.device):
            return
        if not bad:
            raise TrainingError(f"step {self.step + 1}: another process's share of the batch holds NaN or infinite "
                                "values; its error names the clips")
        rows = sorted({row for value in bad.values() for row in
                       torch.nonzero(~torch.isfinite(value.flatten(1)).all(1)).flatten().tolist()})
        indices = self._sampler().share(self.step)
        last = self._last_checkpoint()
        raise TrainingError(
            f"step {self.step + 1}: the batch holds NaN or infinite values in {', '.join(sorted(bad))} (dataset "
            f"'{self.config.data.name}', clips {', '.join(str(indices[row]) for row in rows)}); fix or remove those "
            f"clips; {f'the last good checkpoint is {last}' if last else 'no checkpoint was written yet'}")

    def _guarded_step(self, raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step; whatever stops it (a plugin's bug, the machine) is said with what survives."""
        try:
            return self.train_step(raw)
        except TrainingError:
            raise
        except Exception as error:
            last = self._last_checkpoint()
            log.error("step %d: training stopped by %s: %s; %s", self.step + 1, type(error).__name__, error,
                      f"the last good checkpoint is {last}: continue with `pgvg run --resume {self.run_dir}` once "
                      "fixed" if last else "no checkpoint was written yet")
            raise

    def evaluate(self) -> dict[str, Any]:
        """Every configured metric on the evaluation split now (what the loop does at the end)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return self.evaluation.evaluate(self)

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is a dependency, but keep training if it is broken
            log.warning("tensorboard is not importable; scalars go to metrics.jsonl only")
            return None
        return SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=self.step or None)

    def add_scalars(self, values: Mapping[str, float]) -> None:
        """TensorBoard scalars at this step (nothing when TensorBoard is not available or not open)."""
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, self.step)

    # --------------------------------------------------------------------------------------- checkpoints

    def _last_checkpoint(self) -> Path | None:
        found = checkpoint.list_checkpoints(self.run_dir)
        return found[-1] if found else None

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly (and what :func:`pgvg_core.training.run.load_run` reads)."""
        return {
            "step": self.step,
            "nets": {role: net.state_dict() for role, net in self.nets.items()},
            "optimizers": {role: opt.state_dict() for role, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "callbacks": {callback.name: callback.state_dict() for callback in self.callbacks},
            "data": attrs.asdict(self.data),
            "config": config_to_toml(self.config),
            "pgvg_version": __version__,
            "world_size": self.world.size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        try:
            for role, net in self.nets.items():
                net.load_state_dict(state["nets"][role])
            for role, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][role])
        except (KeyError, RuntimeError) as error:
            raise PgvgError(f"checkpoint does not fit this config's networks: {error}") from None
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for callback in self.callbacks:
            callback.load_state_dict(state.get("callbacks", {}).get(callback.name, {}))
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        saved = int(state.get("world_size", 1))
        if saved != self.world.size:
            log.info("resuming step %d with %d process(es) where the run had %d: the same global batch, data "
                     "order and per-sample noise; gradients summed in another order make it equal within "
                     "rounding, not bit for bit", self.step, self.world.size, saved)

    def _checkpoint_at_this_step(self) -> Path:
        existing = checkpoint.checkpoint_path(self.run_dir, self.step)
        return existing if existing.exists() else self.save_checkpoint()

    def save_checkpoint(self) -> Path:
        path = checkpoint.checkpoint_path(self.run_dir, self.step)
        try:
            checkpoint.save_atomic(self.state_dict(), path)
        except OSError as error:  # a full disk, a quota, a vanished network share
            last = self._last_checkpoint()
            raise CheckpointError(
                f"{path}: cannot write the checkpoint ({error.strerror or error}); nothing was replaced, "
                f"{f'the last good checkpoint is {last}' if last else 'no checkpoint was written yet'}; free "
                f"space (or move the run) and continue with `pgvg run --resume {self.run_dir}`") from None
        checkpoint.prune(self.run_dir, self.config.trainer.keep_checkpoints)
        return path

    @classmethod
    def train_or_continue(cls, config: ExperimentConfig, run_dir: str | Path, *, overrides: Sequence[str] = (),
                          progress: bool = True) -> Path:
        """Train ``config`` into ``run_dir``: a run already at ``config.trainer.steps`` is reused, an interrupted
        (or shorter) one continues from its last checkpoint, its saved config with ``overrides``."""
        run_dir = Path(run_dir)
        found = checkpoint.list_checkpoints(run_dir)
        if not found:
            cls(config, run_dir, progress=progress).fit()
            return run_dir
        step = checkpoint.load(found[-1])["step"]
        if step >= config.trainer.steps:
            log.info("reusing the trained run in %s (step %d)", run_dir, step)
            return run_dir
        log.info("resuming %s from step %d to %d", run_dir, step, config.trainer.steps)
        cls.resume(run_dir, tuple(overrides), progress=progress).fit()
        return run_dir

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: tuple[str, ...] = (), *, from_checkpoint: str | None = None,
               **kwargs: Any) -> "Trainer":
        """A trainer that continues the run in ``run_dir`` from its latest checkpoint (or ``from_checkpoint``,
        a file name in its ``checkpoints/``)."""
        from pgvg_core.training.experiment import default_registries

        run_dir = Path(run_dir)
        state = checkpoint.for_resume(run_dir, from_checkpoint)
        config = saved_config(run_dir, state, overrides, registries=default_registries(kwargs.get("registries")))
        if state["step"] >= config.trainer.steps:
            log.info("%s is already at step %d of %d; raise trainer.steps with --set to train longer",
                     run_dir, state["step"], config.trainer.steps)
        return cls(config, run_dir, _resume_state=state, **kwargs)
