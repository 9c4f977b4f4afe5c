"""The experiment trainer both stages share: build by name, alternate D and G steps, log, sample, checkpoint.

A run folder holds ``config.toml`` (the resolved config), ``metrics.jsonl`` (one JSON object per log step,
appended; :func:`read_metrics`, ``pgvg metrics RUN --csv FILE``) and ``tb/`` (TensorBoard) with the loss
terms, ``samples/`` (sheets and GIFs), ``checkpoints/step-*.pt`` (the last N) and ``metrics.json``.
``Trainer.resume(run_dir)`` continues exactly where the last checkpoint stopped: data order, noise and
optimiser states included.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from pgvg_core import __version__, checkpoint
from pgvg_core.config import (
    ComponentSpec,
    ExperimentConfig,
    LossTerm,
    build,
    config_from_dict,
    apply_override,
    config_to_toml,
    parse_override,
    read_toml,
)
from pgvg_core.errors import CheckpointError, ConfigError, PgvgError
from pgvg_core.interfaces import clips_by_class
from pgvg_core.objective import DataInfo, Objective, WeightedLoss
from pgvg_core.pose import NUM_KEYPOINTS
from registries import RegistrySet

log = logging.getLogger("pgvg.trainer")


class TrainingError(PgvgError):
    """Training cannot go on (a loss that is not finite); the last good checkpoint is kept."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches as a pure function of (seed, step): a fresh permutation per epoch, so resuming is exact."""

    def __init__(self, size: int, batch_size: int, seed: int, start_step: int, steps: int) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start_step, self.steps = start_step, steps
        self._permutations: dict[int, torch.Tensor] = {}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutations = {epoch: torch.randperm(self.size, generator=generator)}
        return self._permutations[epoch]

    def batch(self, step: int) -> list[int]:
        positions = range(step * self.batch_size, (step + 1) * self.batch_size)
        return [int(self._permutation(p // self.size)[p % self.size]) for p in positions]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.steps):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)


@attrs.frozen(kw_only=True)
class RunResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any]
    seconds: float


def _finite_or_raise(terms: Mapping[str, torch.Tensor], step: int, group: str,
                     last_checkpoint: Callable[[], Path | None]) -> None:
    for name, value in terms.items():
        if not torch.isfinite(value.detach()).all():
            last_good = last_checkpoint()  # looked up only on failure: listing a folder every step is waste
            kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
            raise TrainingError(
                f"step {step}: loss term '{group}/{name}' is {value.item()}; training stopped and {kept}. "
                "Lower the learning rate, enable trainer.grad_clip, or use precision = \"fp32\""
            )


class Trainer:
    """Trains the networks of an experiment config with its objective."""

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        *,
        registries: RegistrySet | None = None,
        progress: bool = True,
        _resume_state: dict[str, Any] | None = None,
    ) -> None:
        if registries is None:
            from pgvg_core.plugins import get_registries

            registries = get_registries()
        if config.objective is None:
            raise ConfigError("missing required key 'objective' (the training objective, e.g. "
                              '{name = "psgan"})', file=config.source, path="objective")
        self.config = config
        self.registries = registries
        self.run_dir = Path(run_dir)
        self.progress = progress
        trainer = config.trainer
        if trainer.threads:
            torch.set_num_threads(trainer.threads)
        self.device = resolve_device(trainer.device)
        self.precision = trainer.precision
        if self.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("trainer.precision 'fp16' needs CUDA; use 'fp32' on the CPU",
                              file=config.source, path="trainer.precision")
        if self.precision == "bf16" and self.device.type == "cpu":
            # Measured on a 2-core AVX512-BF16 CPU: SCGAN 16x and PSGAN 80x slower than fp32 (3D convolutions,
            # the warp's grid sampling and instance norm leave oneDNN's bf16 fast path).
            log.warning("trainer.precision = 'bf16' on the CPU runs pgvg's models 16-80x slower than fp32 "
                        "(measured: SCGAN 0.08 vs 1.3 steps/s); use precision = 'fp32' on the CPU")
        seed_everything(config.experiment.seed)

        self.dataset = self._build_dataset(config.data.params)
        self.data = DataInfo(
            num_classes=len(self.dataset.classes),
            classes=tuple(self.dataset.classes),
            keypoints=NUM_KEYPOINTS,
            frames=int(getattr(self.dataset, "frames", 1)),
            resolution=int(getattr(self.dataset, "resolution", 64)),
        )
        objective_cls = registries["objectives"].get(config.objective.name).factory
        self._check_roles(objective_cls)
        self.nets = self._build_networks()
        terms, augmentations = self._build_terms(objective_cls), self._build_augmentations(objective_cls)
        self.objective: Objective = build(
            "objectives", config.objective, registries=registries, file=config.source, path="objective",
            terms=terms, augmentations=augmentations, data=self.data,
        )
        self._check_optional_roles()
        self.optimizers = {
            role: torch.optim.Adam(self.nets[role].parameters(), lr=spec.lr, betas=spec.betas,
                                   weight_decay=spec.weight_decay)
            for role, spec in self._network_specs()
        }
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        self.step = 0
        self.history: list[dict[str, float]] = []
        if _resume_state is not None:
            self._load_state(_resume_state)

    # ------------------------------------------------------------------------------------------- building

    def _build_dataset(self, params: Mapping[str, Any]) -> Any:
        spec = ComponentSpec(name=self.config.data.name, params=dict(params))
        return build("datasets", spec, registries=self.registries, file=self.config.source, path="data")

    def eval_dataset(self) -> Any:
        factory = self.registries["datasets"].get(self.config.data.name).factory
        if "test" in getattr(factory, "splits", ()):
            return self._build_dataset({**self.config.data.params, "split": "test"})
        return self.dataset

    def _network_specs(self) -> list[tuple[str, Any]]:
        return [*self.config.generators.items(), *self.config.discriminators.items()]

    def _check_roles(self, objective_cls: type[Objective]) -> None:
        for kind, expected in (("generators", objective_cls.generator_roles),
                               ("discriminators", objective_cls.discriminator_roles)):
            given = tuple(getattr(self.config, kind))
            missing = sorted(set(expected) - set(given) - set(objective_cls.optional_roles))
            if missing or set(given) - set(expected):
                extra = sorted(set(given) - set(expected))
                what = (f"missing [{kind}.{missing[0]}]" if missing else f"unexpected [{kind}.{extra[0]}]")
                raise ConfigError(
                    f"{what}: objective '{self.config.objective.name}' trains {kind} "
                    f"{', '.join(expected) or '(none)'}", file=self.config.source,
                    path=f"{kind}.{(missing or extra)[0]}")

    def _check_optional_roles(self) -> None:
        """An optional network left out of the config is an error only if the configured terms need it."""
        for role in self.objective.optional_roles:
            if role not in self.nets and self.objective.uses(role):
                kind = "generators" if role in self.objective.generator_roles else "discriminators"
                raise ConfigError(
                    f"missing [{kind}.{role}]: objective '{self.config.objective.name}' needs it with the loss "
                    f"terms configured ({', '.join(self.objective.terms)}); add it, or switch off the terms that "
                    f"use it (weight = 0)", file=self.config.source, path=f"{kind}.{role}")

    def _roles(self, roles: tuple[str, ...]) -> tuple[str, ...]:
        """The roles of ``roles`` this run has networks for (an optional one may be left out)."""
        return tuple(role for role in roles if role in self.nets)

    def _build_networks(self) -> nn.ModuleDict:
        nets = nn.ModuleDict()
        context = dict(num_classes=self.data.num_classes, keypoints=self.data.keypoints,
                       frames=self.data.frames, resolution=self.data.resolution)
        for kind, specs in (("generators", self.config.generators), ("discriminators", self.config.discriminators)):
            for role, spec in specs.items():
                net = build(kind, spec, registries=self.registries, file=self.config.source,
                            path=f"{kind}.{role}", **context)
                nets[role] = net.to(self.device)
        return nets

    def _build_terms(self, objective_cls: type[Objective]) -> dict[str, WeightedLoss]:
        merged: dict[str, LossTerm] = dict(objective_cls.default_terms)
        for term, spec in self.config.losses.items():
            if term not in merged:
                raise ConfigError(
                    f"objective '{self.config.objective.name}' has no loss term '{term}'; its terms: "
                    f"{', '.join(objective_cls.default_terms)}", file=self.config.source, path=f"losses.{term}")
            if not spec.name:  # only a weight (or params) given: the objective's default loss
                default = merged[term]
                spec = LossTerm(name=default.name, weight=spec.weight, params=spec.params or default.params)
            merged[term] = spec
        terms = {}
        for term, spec in merged.items():
            if spec.weight == 0:
                continue  # switched off: not even built
            loss = build("losses", spec, registries=self.registries, file=self.config.source, path=f"losses.{term}")
            terms[term] = WeightedLoss(loss=loss.to(self.device), weight=spec.weight)
        return terms

    def _build_augmentations(self, objective_cls: type[Objective]) -> dict[str, Any]:
        built = {}
        for slot, spec in self.config.augmentations.items():
            if slot not in objective_cls.augmentation_slots:
                raise ConfigError(
                    f"objective '{self.config.objective.name}' has no augmentation slot '{slot}'; its slots: "
                    f"{', '.join(objective_cls.augmentation_slots) or '(none)'}",
                    file=self.config.source, path=f"augmentations.{slot}")
            built[slot] = build("augmentations", spec, registries=self.registries, file=self.config.source,
                                path=f"augmentations.{slot}")
        return built

    # ------------------------------------------------------------------------------------------ training

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _loader(self) -> torch.utils.data.DataLoader:
        trainer = self.config.trainer
        sampler = StepBatchSampler(len(self.dataset), trainer.batch_size, self.config.experiment.seed,
                                   self.step, trainer.steps)
        return torch.utils.data.DataLoader(
            self.dataset, batch_sampler=sampler, num_workers=trainer.num_workers,
            pin_memory=self.device.type == "cuda", persistent_workers=False,
            # Its own generator: a loader draws a seed when iterated, which must not shift the global stream
            # (or a resumed run would draw different noise than an uninterrupted one).
            generator=torch.Generator().manual_seed(self.config.experiment.seed),
        )

    def _update(self, group: str, roles: tuple[str, ...], terms: dict[str, torch.Tensor]) -> None:
        total = sum(terms.values())
        for role in roles:
            self.optimizers[role].zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        for role in roles:
            if self.config.trainer.grad_clip > 0:
                self.scaler.unscale_(self.optimizers[role])
                nn.utils.clip_grad_norm_(self.nets[role].parameters(), self.config.trainer.grad_clip)
            self.scaler.step(self.optimizers[role])
        self.scaler.update()

    def train_step(self, raw_batch: dict[str, torch.Tensor]) -> dict[str, float]:
        objective = self.objective
        generators, discriminators = self._roles(objective.generator_roles), self._roles(objective.discriminator_roles)
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
                _finite_or_raise(d_terms, self.step, "d", self._last_checkpoint)
                self._update("d", discriminators, d_terms)
                logged.update({f"d/{k}": v.item() for k, v in d_terms.items()})
        if generators:
            self._requires_grad(discriminators, False)  # no discriminator gradients in the generator step
            with self._autocast():
                g_terms = objective.generator_terms(self.nets, batch, fakes)
            _finite_or_raise(g_terms, self.step, "g", self._last_checkpoint)
            self._update("g", generators, g_terms)
            self._requires_grad(discriminators, True)
            logged.update({f"g/{k}": v.item() for k, v in g_terms.items()})
        return logged

    def _set_learning_rates(self) -> None:
        """The schedule's learning rate for this step: a pure function of the step, so a resumed run follows
        the same schedule without any scheduler state in the checkpoint."""
        trainer = self.config.trainer
        factor = 1.0
        if trainer.lr_schedule == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * min(self.step, trainer.steps) / trainer.steps))
        for role, spec in self._network_specs():
            for group in self.optimizers[role].param_groups:
                group["lr"] = spec.lr * factor

    def _requires_grad(self, roles: tuple[str, ...], flag: bool) -> None:
        for role in roles:
            self.nets[role].requires_grad_(flag)

    def fit(self) -> RunResult:
        """Train to ``trainer.steps``, then evaluate; returns where everything went."""
        trainer = self.config.trainer
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.toml").write_text(config_to_toml(self.config), encoding="utf-8")
        writer = self._tensorboard()
        started = time.perf_counter()
        window: list[dict[str, float]] = []
        window_start = time.perf_counter()
        from tqdm.auto import tqdm

        bar = tqdm(total=trainer.steps, initial=self.step, desc=self.config.experiment.name, unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        sample_batch = None
        if self.step == 0:
            warmed = self.objective.warm_start(self.nets, self.dataset, seed=self.config.experiment.seed)
            if warmed:
                log.info("warm start: %s", ", ".join(f"{k} {v:.4g}" for k, v in warmed.items()))
        # The progress bar and the TensorBoard writer are closed whatever ends the run (an error included).
        with contextlib.ExitStack() as closing:
            if writer is not None:
                closing.callback(writer.close)
            with bar:
                for raw in self._loader():
                    self._set_learning_rates()
                    window.append(self.train_step(raw))
                    self.step += 1
                    bar.update(1)
                    if self.step % trainer.log_every == 0 or self.step == trainer.steps:
                        rate = len(window) / max(time.perf_counter() - window_start, 1e-9)
                        row = self._log(window, rate, writer)
                        bar.set_postfix({k.split("/")[-1][:10]: f"{v:.3f}" for k, v in row.items()
                                         if "/" in k}, refresh=False)
                        window, window_start = [], time.perf_counter()
                    if self.step % trainer.sample_every == 0 or self.step == trainer.steps:
                        sample_batch = sample_batch or self._sample_batch()
                        self.save_samples(sample_batch)
                    if self.step % trainer.checkpoint_every == 0 or self.step == trainer.steps:
                        self.save_checkpoint()
                    if trainer.eval_every and self.step % trainer.eval_every == 0 and self.step != trainer.steps:
                        self.evaluate(writer)
            metrics = self.evaluate(writer) if self.config.metrics else {}
        return RunResult(run_dir=self.run_dir, step=self.step, metrics=metrics,
                         seconds=time.perf_counter() - started)

    # --------------------------------------------------------------------------------- logs and pictures

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is a dependency, but keep training if it is broken
            log.warning("tensorboard is not importable; scalars go to metrics.jsonl only")
            return None
        return SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=self.step or None)

    def _log(self, window: list[dict[str, float]], rate: float, writer: Any) -> dict[str, float]:
        keys = sorted({k for row in window for k in row})
        row = {"step": self.step, **{k: float(np.mean([r[k] for r in window if k in r])) for k in keys},
               "it_per_s": rate}
        self.history.append(row)
        with open(self.run_dir / METRICS_LOG, "a", encoding="utf-8") as file:  # append-only: nothing rewritten
            file.write(json.dumps(row) + "\n")
        if writer is not None:
            for key, value in row.items():
                if key != "step":
                    writer.add_scalar(key, value, self.step)
        return row

    def _sample_batch(self) -> dict[str, torch.Tensor]:
        dataset = self.eval_dataset()
        count = min(self.config.trainer.samples, len(dataset))
        items = [dataset[i] for i in clips_by_class(dataset, count)]  # spread over the classes
        return torch.utils.data.default_collate(items)

    @contextlib.contextmanager
    def _seeded_streams(self, seed: int) -> Iterator[None]:
        """Global random streams (the CPU's, and this run's CUDA device's) seeded with ``seed`` inside, and as
        they were afterwards: sampling and evaluation must not change the training's noise."""
        with torch_streams_kept(self.device):
            torch.manual_seed(seed)
            yield

    @torch.no_grad()
    def save_samples(self, raw_batch: dict[str, torch.Tensor]) -> list[Path]:
        from pgvg_core.sheets import save_png
        from pgvg_core.video import write_video

        self.nets.eval()
        with self._seeded_streams(self.config.experiment.seed):  # the same noise each time: comparable pictures
            batch = self.objective.prepare(raw_batch, self.device)
            pictures = self.objective.samples(self.nets, batch)
        written = []
        folder = self.run_dir / "samples"
        folder.mkdir(exist_ok=True)
        for name, picture in pictures.items():
            if picture.ndim == 4:
                path = write_video(folder / f"{name}-step{self.step:07d}.gif", picture, fps=6)
            else:
                path = folder / f"{name}-step{self.step:07d}.png"
                save_png(path, picture)
            written.append(path)
        self.nets.train()
        return written

    # ---------------------------------------------------------------------------------------- evaluation

    @torch.no_grad()
    def evaluate(self, writer: Any = None) -> dict[str, Any]:
        """Every configured metric on the evaluation split; written to ``metrics.json``."""
        from tqdm.auto import tqdm

        context = dict(data=self.data, device=self.device)
        metrics = {}
        for index, spec in enumerate(self.config.metrics):
            metrics[spec.name] = build("metrics", spec, registries=self.registries, file=self.config.source,
                                       path=f"metrics[{index}]", **context)
        dataset = self.eval_dataset()
        count = min(self.config.trainer.eval_clips, len(dataset))
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(count)),
                                             batch_size=self.config.trainer.batch_size,
                                             num_workers=self.config.trainer.num_workers)
        self.nets.eval()
        with self._seeded_streams(self.config.experiment.seed + 1):
            for raw in tqdm(loader, desc="evaluate", unit="batch", disable=not self.progress, leave=False):
                batch = self.objective.prepare(raw, self.device)
                pairs = self.objective.evaluation_pairs(self.nets, batch)
                for metric in metrics.values():
                    metric.update(pairs["real"], pairs["fake"], **{k: v for k, v in pairs.items()
                                                                  if k not in ("real", "fake")})
        self.nets.train()
        values = {name: metric.compute() for name, metric in metrics.items()}
        provenance = {name: metric.provenance() for name, metric in metrics.items()}
        result = {"step": self.step, "clips": count, "metrics": values, "provenance": provenance}
        (self.run_dir / "metrics.json").write_text(json.dumps(result, indent=2, default=str))
        if writer is not None:
            for name, sub in values.items():
                for key, value in sub.items():
                    if isinstance(value, (int, float)) and math.isfinite(value):
                        writer.add_scalar(f"eval/{name}.{key}", value, self.step)
        log.info("step %d: %s", self.step, json.dumps(values))
        return values

    # --------------------------------------------------------------------------------------- checkpoints

    def _last_checkpoint(self) -> Path | None:
        found = checkpoint.list_checkpoints(self.run_dir)
        return found[-1] if found else None

    def save_checkpoint(self) -> Path:
        state = {
            "step": self.step,
            "nets": {role: net.state_dict() for role, net in self.nets.items()},
            "optimizers": {role: opt.state_dict() for role, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": checkpoint.rng_state(),
            "config": config_to_toml(self.config),
            "pgvg_version": __version__,
        }
        path = checkpoint.checkpoint_path(self.run_dir, self.step)
        checkpoint.save_atomic(state, path)
        checkpoint.prune(self.run_dir, self.config.trainer.keep_checkpoints)
        return path

    def _load_state(self, state: dict[str, Any]) -> None:
        try:
            for role, net in self.nets.items():
                net.load_state_dict(state["nets"][role])
            for role, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][role])
        except (KeyError, RuntimeError) as error:
            raise PgvgError(f"checkpoint does not fit this config's networks: {error}") from None
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"])
        self.step = int(state["step"])

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: tuple[str, ...] = (), **kwargs: Any) -> "Trainer":
        """A trainer that continues the run in ``run_dir`` from its latest checkpoint."""
        from pgvg_core.plugins import get_registries

        run_dir = Path(run_dir)
        state = checkpoint.load(checkpoint.latest(run_dir))
        config = saved_config(run_dir, state, overrides, registries=kwargs.get("registries") or get_registries())
        if state["step"] >= config.trainer.steps:
            log.info("%s is already at step %d of %d; raise trainer.steps with --set to train longer",
                     run_dir, state["step"], config.trainer.steps)
        return cls(config, run_dir, _resume_state=state, **kwargs)


METRICS_LOG = "metrics.jsonl"


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """The logged rows of a run, by step: ``metrics.jsonl`` (a run resumed from a checkpoint logs the steps
    after it again; the last row of a step wins), or a ``metrics.csv`` of an older run."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS_LOG
    if path.exists():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif (run_dir / "metrics.csv").exists():
        with open(run_dir / "metrics.csv", newline="") as file:
            rows = [{k: float(v) for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(file)]
    else:
        raise CheckpointError(f"{run_dir} has no {METRICS_LOG}: not a pgvg run folder, or it never logged a step")
    by_step = {int(row["step"]): row for row in rows}
    return [{**by_step[step], "step": step} for step in sorted(by_step)]


def write_metrics_csv(run_dir: str | Path, path: str | Path) -> Path:
    """A run's logged rows as CSV (one column per term; a row without a term leaves its cell empty)."""
    rows = read_metrics(run_dir)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as file:
        out = csv.DictWriter(file, fieldnames=fields)
        out.writeheader()
        out.writerows(rows)
    return Path(path)


def saved_config(run_dir: Path, state: dict[str, Any], overrides: tuple[str, ...] = (), *,
                 registries: RegistrySet) -> ExperimentConfig:
    """A run's config: its ``config.toml`` (with ``overrides``), else the copy inside its checkpoint."""
    import tomllib

    config_file = run_dir / "config.toml"
    data = read_toml(config_file) if config_file.exists() else tomllib.loads(state["config"])
    for text in overrides:
        apply_override(data, *parse_override(text))
    return config_from_dict(data, file=str(config_file), registries=registries)


def torch_streams_kept(device: torch.device) -> contextlib.AbstractContextManager:
    """torch's global random streams, the CPU's and ``device``'s if it is a CUDA device, restored on exit."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def load_run(run_dir: str | Path, *, device: str | torch.device = "cpu",
             registries: RegistrySet | None = None) -> Trainer:
    """A finished (or interrupted) run for inference: its networks (latest checkpoint, eval mode), objective
    and data description, on ``device``. The caller's random streams (Python's, NumPy's, torch's on the CPU
    and on ``device``) are as they were: building the run seeds them and restores the checkpoint's."""
    from pgvg_core.plugins import get_registries

    run_dir = Path(run_dir)
    state = checkpoint.load(checkpoint.latest(run_dir))
    config = saved_config(run_dir, state, registries=registries or get_registries())
    config = attrs.evolve(config, trainer=attrs.evolve(config.trainer, device=str(device)))
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch_streams_kept(torch.device(device)):
        trainer = Trainer(config, run_dir, registries=registries, progress=False, _resume_state=state)
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    trainer.nets.eval()
    return trainer
