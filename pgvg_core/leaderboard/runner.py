"""Running a suite (``pgvg bench SUITE``): each method x seed trained once (a finished run is measured, not
trained again), measured on the last checkpoint only, and stored as a result (:mod:`.results`)."""

from __future__ import annotations

import logging
import statistics
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from pgvg_core.config import ComponentSpec, build, load_config
from pgvg_core.errors import PgvgError
from pgvg_core.leaderboard.results import Result, ResultsDatabase, code_version, hardware, store
from pgvg_core.leaderboard.suites import Method, Suite
from pgvg_core.media.files import sha256_of
from pgvg_core.training import checkpoint

log = logging.getLogger("pgvg.bench")



def run_folder(out: Path, suite: Suite, method: Method, seed: int) -> Path:
    return out / suite.name / method.name / f"seed-{seed}"


def stage1_folder(out: Path, suite: Suite, method: Method, seed: int) -> Path:
    """A two-stage method's stage-1 run, beside its own."""
    return out / suite.name / method.name / f"seed-{seed}-stage1"


def helper_folders(suite: Suite, out: Path) -> dict[str, Path]:
    return {helper.name: out / suite.name / "helpers" / helper.name for helper in suite.helpers}


def train(method: Method, seed: int, run_dir: Path, *, progress: bool) -> None:
    """Train one method with one seed into ``run_dir``: a finished run is reused, an interrupted one resumed."""
    from pgvg_core.training.trainer import Trainer

    config = load_config(method.config, (*method.overrides, f"experiment.seed={seed}"))
    Trainer.train_or_continue(config, run_dir, progress=progress)


def measure_run(suite: Suite, run_dir: Path, *, helpers: dict[str, Path] | None = None,
                stage1_dir: Path | None = None, device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """The protocol's metrics on a run's last checkpoint, on each of its splits and, for a stage-2 model, each
    of its pose conditions: (values, provenance). A metric is named ``[<split>/][<poses>/]<metric>``: the
    split with several splits, the poses with ``protocol.poses``. With ``stage1_dir`` (a two-stage method),
    also ``protocol.stage1_metrics`` on that run, named ``stage1/[<split>/]<metric>``, and the stage-1
    checkpoint the result depends on (provenance ``stage1``)."""
    from pgvg_core.training.run import load_run

    protocol, helpers = suite.protocol, dict(helpers or {})
    if stage1_dir is not None:
        helpers["stage1"] = stage1_dir  # what a pose condition's model = "stage1" names
    run = load_run(run_dir, device=device)
    conditions = pose_conditions(suite, run, helpers, device) or {None: None}
    values, provenance = _measured(suite, run, protocol["metrics"], "protocol.metrics", helpers, conditions, device)
    if stage1_dir is None:
        return values, provenance
    sha = sha256_of(checkpoint.latest(stage1_dir))
    provenance["stage1"] = {"run": str(stage1_dir), "checkpoint_sha256": sha}
    if protocol.get("stage1_metrics"):
        stage1 = load_run(stage1_dir, device=device)
        more, their_provenance = _measured(suite, stage1, protocol["stage1_metrics"], "protocol.stage1_metrics",
                                           helpers, {None: None}, device)
        values.update({f"stage1/{name}": value for name, value in more.items()})
        provenance.update({f"stage1/{name}": {**value, "checkpoint_sha256": sha}
                           for name, value in their_provenance.items()})
    return values, provenance


def _measured(suite: Suite, run: Any, entries: list[dict[str, Any]], key: str, helpers: dict[str, Path],
              conditions: dict[str | None, Any], device: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``entries`` (metric specs at ``key``) on a loaded run, per split and pose condition."""
    from pgvg_core.interfaces import helper_params_of
    from pgvg_core.measure.evaluation import measure
    from pgvg_core.plugins import get_registries

    protocol = suite.protocol
    registry = get_registries()["metrics"]
    metrics = {}
    for i, entry in enumerate(entries):
        factory = registry.get(entry["name"]).factory
        given = helper_params_of(factory, helpers)
        metrics[entry["name"]] = build("metrics", ComponentSpec(name=entry["name"], params={**given, **entry.get("params", {})}),
                                       file=suite.source, path=f"{key}[{i}]", data=run.data, device=torch.device(device))
    splits = protocol.get("splits") or [protocol.get("split")]
    values, provenance = {}, {}
    for split in splits:
        spec = protocol["dataset"]
        params = {**spec.get("params", {}), **({"split": split} if split else {})}
        dataset = build("datasets", ComponentSpec(name=spec["name"], params=params), path="protocol.dataset")
        for pose_name, poses in conditions.items():
            measured = measure(run.objective, run.nets, dataset, metrics, clips=int(protocol.get("clips", 32)),
                               batch_size=int(protocol.get("batch_size", 8)), seed=int(protocol.get("measure_seed", 0)),
                               device=torch.device(device), poses=poses)
            prefix = (f"{split}/" if len(splits) > 1 else "") + (f"{pose_name}/" if pose_name else "")
            values.update({prefix + name: value for name, value in measured.items()})
            provenance.update({prefix + name: {**metric.provenance(), "split": split, "poses": pose_name}
                               for name, metric in metrics.items()})
    return values, provenance


def pose_conditions(suite: Suite, run: Any, helpers: dict[str, Path], device: str) -> dict[str, Any]:
    """``protocol.poses``: what a stage-2 model renders, by name — ``{name}`` the true poses, ``{name,
    augmentation = {name, params}}`` the true poses through that augmentation (one fixed draw), ``{name, model =
    "<helper>"}`` the poses a helper's stage-1 model makes from each clip's first pose and action."""
    from pgvg_core.measure.evaluation import PoseCondition
    from pgvg_core.training.run import load_run

    conditions = {}
    for i, entry in enumerate(suite.protocol.get("poses", [])):
        where = f"{suite.source}, at 'protocol.poses[{i}]'"
        name = entry.get("name")
        if not isinstance(name, str) or not name or "/" in name or name in conditions:
            raise PgvgError(f"{where}: each pose condition has a name of its own, without '/'")
        augmentation = stage1 = None
        if "augmentation" in entry:
            spec = entry["augmentation"]
            augmentation = build("augmentations", ComponentSpec(name=spec["name"], params=spec.get("params", {})),
                                 file=suite.source, path=f"protocol.poses[{i}].augmentation",
                                 skeleton=run.data.skeleton)
        if "model" in entry:
            if entry["model"] not in helpers:
                raise PgvgError(f"{where}: model '{entry['model']}' is not one of the protocol's helpers "
                                f"({', '.join(helpers) or 'none'}); add it as [[protocol.helpers]] (or, as "
                                "'stage1', give every method a [methods.stage1])")
            stage1 = load_run(helpers[entry["model"]], device=device)
        conditions[name] = PoseCondition(name=name, augmentation=augmentation, stage1=stage1,
                                         seed=int(entry.get("seed", 1234)))
    return conditions


def run_suite(suite: Suite, *, out: Path, database: ResultsDatabase | None, methods: Sequence[str] | None = None,
              seeds: int | None = None, progress: bool = True, remeasure: bool = False,
              report: Callable[[str], None] = log.info) -> list[Result]:
    """Train and measure every method x seed of ``suite``; every result stored (file, then row). A run whose
    folder already holds a result of this protocol for its last checkpoint is not measured again (its result is
    stored as it is) unless ``remeasure``.

    Under ``torchrun`` (``pgvg bench --nproc N``) every process trains each run together; process 0 alone
    measures, stores (``database`` may be None on the others) and reports, while the others wait.
    """
    from pgvg_core.training import distributed

    chosen = [m for m in suite.methods if not methods or m.name in methods]
    unknown = sorted(set(methods or ()) - {m.name for m in suite.methods})
    if unknown:
        raise PgvgError(f"suite '{suite.name}' has no method {', '.join(unknown)}; its methods: "
                        f"{', '.join(m.name for m in suite.methods)}")
    # Joined before the first run: a run that is reused trains nothing, and the processes still wait together.
    world = distributed.start("cuda" if torch.cuda.is_available() else "cpu")
    say = report if world.main else (lambda _: None)
    seed_list = suite.seeds[:seeds] if seeds else suite.seeds
    helpers = helper_folders(suite, out)
    for helper in suite.helpers:
        say(f"{suite.name}: helper {helper.name}")
        train(helper, 0, helpers[helper.name], progress=progress and world.main)
    jobs = [(method, seed) for method in chosen for seed in seed_list]
    results, durations = [], []  # the seconds of each job that trained or measured (reused ones take none)
    for index, (method, seed) in enumerate(jobs):
        left = (f", about {statistics.fmean(durations) * (len(jobs) - index) / 60:.1f} min left" if durations else "")
        say(f"[{index + 1}/{len(jobs)}] {suite.name}: {method.name}, seed {seed}{left}")
        started = time.perf_counter()
        result = run_one(suite, method, seed, out=out, helpers=helpers, database=database, progress=progress,
                         remeasure=remeasure, say=say)
        if result is not None:
            results.append(result)
        if time.perf_counter() - started > 5:  # a run reused and measured before takes well under that
            durations.append(time.perf_counter() - started)
        distributed.barrier()
    return results


def run_one(suite: Suite, method: Method, seed: int, *, out: Path, helpers: dict[str, Path],
            database: ResultsDatabase | None, progress: bool = True, remeasure: bool = False,
            say: Callable[[str], None] = log.info) -> Result | None:
    """Train one method x seed (its stage 1 first, if it has one) and measure it; the result is stored as a file
    in the run folder and, with a ``database``, as a row. Under torchrun every process trains; process 0 alone
    measures and returns the result (None on the others)."""
    from pgvg_core.training import distributed

    main = distributed.world_from_environment().main
    started = time.perf_counter()
    run_dir = run_folder(out, suite, method, seed)
    stage1_dir = stage1_folder(out, suite, method, seed) if method.stage1 else None
    if method.stage1:
        train(method.stage1, seed, stage1_dir, progress=progress and main)
    train(method, seed, run_dir, progress=progress and main)
    if not main:
        return None
    found = None if remeasure else measured_before(suite, run_dir, stage1_dir)
    if found is not None:
        say(f"  measured before under this protocol ({found.created[:19]}): stored as it is")
        if database is not None:
            database.upsert(found)
        return found
    return measured_result(suite, method, seed, run_dir, helpers, database, stage1_dir=stage1_dir,
                           train_seconds=time.perf_counter() - started)


def measured_before(suite: Suite, run_dir: Path, stage1_dir: Path | None) -> Result | None:
    """The newest result in ``run_dir`` of this protocol and of the run's (and its stage 1's) last checkpoints."""
    from pgvg_core.leaderboard.results import read_result_file, result_files

    sha = sha256_of(checkpoint.latest(run_dir))
    stage1_sha = sha256_of(checkpoint.latest(stage1_dir)) if stage1_dir is not None else None
    found = [r for r in map(read_result_file, result_files([run_dir]))
             if r.protocol_hash == suite.protocol_hash and r.checkpoint_sha256 == sha
             and r.provenance.get("stage1", {}).get("checkpoint_sha256") == stage1_sha]
    return max(found, key=lambda r: r.created) if found else None


def measured_result(suite: Suite, method: Method, seed: int, run_dir: Path, helpers: dict[str, Path],
                    database: ResultsDatabase | None, *, train_seconds: float, stage1_dir: Path | None = None) -> Result:
    """A trained run measured under the protocol, stored as a file in the run folder and a row. A two-stage
    method's config holds its stage 1's under ``[stage1]`` (a changed stage 1 is another config)."""
    import tomli_w

    values, provenance = measure_run(suite, run_dir, helpers=helpers, stage1_dir=stage1_dir)
    state = checkpoint.load(checkpoint.latest(run_dir))
    config = state["config"]
    if stage1_dir is not None:
        stage1_config = tomllib.loads(checkpoint.load(checkpoint.latest(stage1_dir))["config"])
        config = tomli_w.dumps({**tomllib.loads(config), "stage1": stage1_config})
    result = Result(suite=suite.name, protocol_hash=suite.protocol_hash, method=method.name, seed=seed,
                    metrics=values, provenance=provenance, config=config,
                    checkpoint_sha256=sha256_of(checkpoint.latest(run_dir)), code=code_version(),
                    hardware=hardware(), torch_version=str(torch.__version__),
                    train_seconds=round(train_seconds, 1), steps=int(state["step"]))
    store(result, run_dir, database)
    return result


def run_job(suite: Suite, *, out: Path, method: str | None = None, helper: str | None = None, seed: int = 0,
            progress: bool = False, remeasure: bool = False) -> Path:
    """One job of ``pgvg bench --launcher``: a helper trained, or a method x seed trained and measured into its
    result file (no database row: the collecting process writes those). Under torchrun every process trains;
    the run folder."""
    from pgvg_core.training import distributed

    distributed.start("cuda" if torch.cuda.is_available() else "cpu")
    try:
        helpers = helper_folders(suite, out)
        if helper is not None:
            train(find_method(suite.helpers, helper, suite, "helper"), 0, helpers[helper], progress=progress)
            return helpers[helper]
        chosen = find_method(suite.methods, method, suite, "method")
        run_one(suite, chosen, seed, out=out, helpers=helpers, database=None, progress=progress, remeasure=remeasure)
        return run_folder(out, suite, chosen, seed)
    finally:
        distributed.stop()


def find_method(methods: Sequence[Method], name: str | None, suite: Suite, what: str) -> Method:
    for method in methods:
        if method.name == name:
            return method
    raise PgvgError(f"suite '{suite.name}' ({suite.source}) has no {what} '{name}'; its {what}s: "
                    f"{', '.join(m.name for m in methods) or 'none'}")
