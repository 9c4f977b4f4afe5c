"""Leaderboard runs: a suite names a protocol and the methods measured under it; ``pgvg bench SUITE`` trains and
measures each method x seed and stores every result (:mod:`pgvg_core.leaderboard.results`); ``pgvg leaderboard`` shows them.

A suite (``pgvg_core/suites/<name>.toml``, or any file) holds::

    [suite]     name, version, description, primary = "<metric>.<value>" (the column rows are sorted by),
                columns = [...] (the columns shown; default every value of every metric)
    [protocol]  dataset = {name, params}, split (or splits = [...]), clips, batch_size, seeds,
                checkpoint = "last", [[protocol.metrics]] (name, params),
                [[protocol.helpers]] (name, config, set): models the protocol uses (an action classifier,
                a pose estimator for the metrics; a stage-1 model for the poses), trained once per suite,
                [[protocol.poses]] (name, augmentation = {name, params} or model = "<helper>"): for stage-2
                models, the poses they render (:func:`pose_conditions`), each measured apart
    [[methods]] name, config (an experiment file next to the suite or one of pgvg's), set (overrides),
                stage1 = {config, set}: a two-stage method's pose-sequence model (``protocol.stage1_metrics``
                measure it; a pose condition ``model = "stage1"`` renders its poses)
    [[paper]]   method, column, value, source: a number published for this same protocol (the leaderboard's
                "paper" column); none where the protocol is pgvg's own

The protocol table is hashed (sha256 of its canonical JSON with the suite's name and version): results of
two protocol hashes never share a table. Only the last checkpoint is measured — never the best of several.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch

from pgvg_core.config import ComponentSpec, build, load_config
from pgvg_core.errors import PgvgError
from pgvg_core.leaderboard.results import Result, ResultsDatabase, code_version, content_hash, hardware, store
from pgvg_core.media.files import sha256_of, shipped
from pgvg_core.training import checkpoint

log = logging.getLogger("pgvg.bench")

SUITES = shipped("suites")


@attrs.frozen(kw_only=True)
class Method:
    name: str
    config: Path
    overrides: tuple[str, ...] = ()
    # A two-stage method's stage 1 (a pose-sequence model): trained with the same seed before the method's own
    # run, measured by ``protocol.stage1_metrics``, and the model of a pose condition ``model = "stage1"``.
    stage1: "Method | None" = None


@attrs.frozen(kw_only=True)
class Suite:
    name: str
    version: int
    description: str
    primary: str
    columns: tuple[str, ...]
    protocol: dict[str, Any]
    methods: tuple[Method, ...]
    helpers: tuple[Method, ...]  # evaluators the protocol's metrics use, trained once per suite
    source: Path
    # Published numbers under this protocol: method -> column -> (value, where it was published). Not part of
    # the protocol (a number found later changes no result).
    paper: dict[str, dict[str, tuple[float, str]]] = attrs.field(factory=dict)

    @property
    def protocol_hash(self) -> str:
        return content_hash({"suite": self.name, "version": self.version, "protocol": self.protocol})

    @property
    def seeds(self) -> list[int]:
        return [int(seed) for seed in self.protocol.get("seeds", [0])]


def suite_file(name_or_path: str) -> Path:
    """A suite by name (``pgvg_core/suites/<name>.toml``) or by path; an error lists the suites there are."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        return path
    named = SUITES / f"{name_or_path}.toml"
    if named.is_file():
        return named
    known = ", ".join(sorted(p.stem for p in SUITES.glob("*.toml")))
    raise PgvgError(f"no suite '{name_or_path}': give a suite file or one of pgvg's: {known}")


def load_suite(name_or_path: str) -> Suite:
    path = suite_file(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PgvgError(f"{path}: not a readable suite file ({error})") from None
    head, protocol = data.get("suite", {}), data.get("protocol")
    for key in ("name", "version", "primary"):
        if key not in head:
            raise PgvgError(f"{path}, at 'suite.{key}': missing (a suite has a name, a version and a primary metric)")
    if not isinstance(protocol, dict) or "dataset" not in protocol or not protocol.get("metrics"):
        raise PgvgError(f"{path}, at 'protocol': a protocol names a dataset and its metrics")
    if protocol.get("checkpoint", "last") != "last":
        raise PgvgError(f"{path}, at 'protocol.checkpoint': only 'last' (a best-of-several checkpoint is not a result)")
    methods = _methods(data.get("methods", []), path, "methods")
    helpers = _methods(protocol.get("helpers", []), path, "protocol.helpers")
    if not methods:
        raise PgvgError(f"{path}: no [[methods]]")
    return Suite(name=head["name"], version=int(head["version"]), description=head.get("description", ""),
                 primary=head["primary"], columns=tuple(head.get("columns", ())), protocol=protocol, methods=methods,
                 helpers=helpers, source=path, paper=_published(data.get("paper", []), methods, path))


def _published(entries: list[dict[str, Any]], methods: Sequence[Method], path: Path) -> dict[str, dict[str, tuple[float, str]]]:
    """``[[paper]]``: method, column, value, source -> {method: {column: (value, source)}}."""
    names = {method.name for method in methods}
    published: dict[str, dict[str, tuple[float, str]]] = {}
    for index, entry in enumerate(entries):
        where = f"{path}, at 'paper[{index}]'"
        if entry.get("method") not in names:
            raise PgvgError(f"{where}: method {entry.get('method')!r} is not one of the suite's ({', '.join(sorted(names))})")
        if not isinstance(entry.get("column"), str) or not isinstance(entry.get("value"), (int, float)) \
                or not isinstance(entry.get("source"), str) or not entry["source"].strip():
            raise PgvgError(f"{where}: a published number has a column (\"<metric>.<value>\"), a value and a source "
                            "(where it was published)")
        published.setdefault(entry["method"], {})[entry["column"]] = (float(entry["value"]), entry["source"])
    return published


def _methods(entries: list[dict[str, Any]], path: Path, key: str) -> tuple[Method, ...]:
    """``[[methods]]`` or ``[[protocol.helpers]]``: a name, an experiment file (next to the suite or pgvg's), overrides."""
    from pgvg_core.app.pipeline import experiment_file

    methods = []
    for index, entry in enumerate(entries):
        where = f"{path}, at '{key}[{index}]'"
        if not isinstance(entry.get("name"), str) or not isinstance(entry.get("config"), str):
            raise PgvgError(f"{where}: a method has a name and a config (an experiment file)")
        stage1 = entry.get("stage1")
        if stage1 is not None:
            if key != "methods" or not isinstance(stage1, dict) or not isinstance(stage1.get("config"), str):
                raise PgvgError(f"{where}, at 'stage1': a method's stage 1 is a table with a config (an experiment "
                                "file) and set (overrides)")
            stage1 = Method(name=f"{entry['name']}/stage1", config=experiment_file(stage1["config"], path, where),
                            overrides=tuple(stage1.get("set", [])))
        methods.append(Method(name=entry["name"], config=experiment_file(entry["config"], path, where),
                              overrides=tuple(entry.get("set", [])), stage1=stage1))
    return tuple(methods)


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
        run_dir = run_folder(out, suite, method, seed)
        started = time.perf_counter()
        stage1_dir = stage1_folder(out, suite, method, seed) if method.stage1 else None
        if method.stage1:
            train(method.stage1, seed, stage1_dir, progress=progress and world.main)
        train(method, seed, run_dir, progress=progress and world.main)
        if world.main:
            found = None if remeasure else measured_before(suite, run_dir, stage1_dir)
            if found is not None:
                say(f"  measured before under this protocol ({found.created[:19]}): stored as it is")
                database.upsert(found)
            results.append(found or measured_result(suite, method, seed, run_dir, helpers, database,
                                                    stage1_dir=stage1_dir, train_seconds=time.perf_counter() - started))
        if time.perf_counter() - started > 5:  # a run reused and measured before takes well under that
            durations.append(time.perf_counter() - started)
        distributed.barrier()
    return results


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
                    database: ResultsDatabase, *, train_seconds: float, stage1_dir: Path | None = None) -> Result:
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


# ------------------------------------------------------------------------------------------ leaderboard


@attrs.frozen(kw_only=True)
class Cell:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof = 1); 0 for one seed
    half_width: float  # of the 95 % interval of the mean (Student's t), nan for one seed


def summarise(values: Sequence[float]) -> Cell:
    n = len(values)
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if n > 1 else 0.0
    half = _t95(n - 1) * std / math.sqrt(n) if n > 1 else math.nan
    return Cell(n=n, mean=mean, std=std, half_width=half)


def _t95(df: int) -> float:
    """Student's t quantile 0.975 (two-sided 95 %) for ``df`` degrees of freedom. (A table read at the next
    larger tabulated df gave 2.131 for 11 instead of 2.201, and 1.96 beyond 30: intervals too narrow.)"""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


#: Suites whose results of one method are not seeds: the reconstruction protocol stores one per clip
#: (``pgvg_core.leaderboard.reconstruction``), so its rows are means over clips.
ROW_UNITS = {"real-reconstruction": "clips"}


def leaderboard(results: Sequence[Result], suite: Suite | None = None) -> dict[str, Any]:
    """Per protocol: per method, per metric value, mean ± std over seeds; the best of each column marked."""
    from pgvg_core.plugins import get_registries

    registry = get_registries()["metrics"]
    tables = []
    for protocol in sorted({r.protocol_hash for r in results}):
        rows = [r for r in results if r.protocol_hash == protocol]
        columns = sorted({f"{metric}.{key}" for r in rows for metric, values in r.metrics.items()
                          for key, value in values.items() if isinstance(value, (int, float))})
        if suite is not None and suite.protocol_hash == protocol and suite.columns:
            columns = [column for column in suite.columns if column in columns]
        methods = {}
        for method in sorted({r.method for r in rows}):
            mine = [r for r in rows if r.method == method]
            cells = {column: summarise([float(r.metrics[column.split(".")[0]][column.split(".", 1)[1]])
                                        for r in mine if column.split(".", 1)[1] in r.metrics.get(column.split(".")[0], {})])
                     for column in columns}
            methods[method] = {"seeds": sorted(r.seed for r in mine), "cells": cells,
                               "config_differs": len({r.config_hash for r in mine}) > 1}
        directions = {column: _direction(registry, column) for column in columns}
        best = {}
        for column, higher in directions.items():
            candidates = [(m, v["cells"][column].mean) for m, v in methods.items()
                          if not v["config_differs"] and v["cells"][column].n and math.isfinite(v["cells"][column].mean)]
            if higher is not None and candidates:
                best[column] = (max if higher else min)(candidates, key=lambda c: c[1])[0]
        primary = suite.primary if suite is not None and suite.protocol_hash == protocol else None
        order = sorted(methods, key=lambda m: _sort_key(methods[m], primary, directions.get(primary)))
        paper = suite.paper if suite is not None and suite.protocol_hash == protocol else {}
        tables.append({"suite": rows[0].suite, "protocol_hash": protocol, "columns": columns, "methods": methods,
                       "unit": ROW_UNITS.get(rows[0].suite, "seeds"),
                       "order": order, "best": best, "directions": directions, "primary": primary,
                       "paper": {method: {column: {"value": value, "source": source}
                                          for column, (value, source) in published.items()}
                                 for method, published in paper.items() if method in methods}})
    return {"tables": tables}


def _direction(registry: Any, column: str) -> bool | None:
    metric, key = column.split(".", 1)
    metric = metric.rsplit("/", 1)[-1]  # "<split>/<metric>" with several splits
    try:
        factory = registry.get(metric).factory
    except Exception:  # noqa: BLE001 - a metric of a plugin that is not installed here: not ranked
        return None
    directions = getattr(factory, "directions", None)
    return getattr(factory, "higher_is_better", True) if directions is None else directions.get(key)


def _sort_key(method: dict[str, Any], primary: str | None, higher: bool | None) -> tuple[Any, ...]:
    if primary is None or primary not in method["cells"] or higher is None:
        return (0,)
    mean = method["cells"][primary].mean
    return (method["config_differs"], -mean if higher else mean)


def format_table(board: dict[str, Any], form: str = "table") -> str:
    """``table`` (terminal), ``markdown``, ``csv`` or ``json``."""
    import csv
    import io
    import json

    if form == "json":
        return json.dumps(board, indent=2, default=lambda o: attrs.asdict(o) if attrs.has(type(o)) else str(o))
    out = io.StringIO()
    for table in board["tables"]:
        columns = table["columns"]
        if form == "csv":
            writer = csv.writer(out)
            writer.writerow(["suite", "protocol", "method", table["unit"], *[f"{c} {k}" for c in columns
                                                                       for k in ("mean", "std", "n")], "paper"])
            for method in table["order"]:
                row = table["methods"][method]
                writer.writerow([table["suite"], table["protocol_hash"][:12], method, len(row["seeds"]),
                                 *[f"{getattr(row['cells'][c], k):.6g}" for c in columns for k in ("mean", "std", "n")],
                                 published_text(table, method)])
            continue
        arrows = {c: {True: " ↑", False: " ↓", None: ""}[table["directions"][c]] for c in columns}
        header = ["method", table["unit"], *[c + arrows[c] for c in columns], *(["paper"] if table["paper"] else [])]
        lines = []
        for method in table["order"]:
            row = table["methods"][method]
            cells = []
            for column in columns:
                cell = row["cells"][column]
                text = (f"{cell.mean:.4g} ± {cell.std:.2g} (95 % ±{cell.half_width:.2g})" if cell.n > 1
                        else f"{cell.mean:.4g}")
                cells.append(f"**{text}**" if table["best"].get(column) == method and form == "markdown"
                             else (text + " *" if table["best"].get(column) == method else text))
            flag = " (config differs between seeds: not averaged fairly)" if row["config_differs"] else ""
            lines.append([method + flag, str(len(row["seeds"])), *cells,
                          *([published_text(table, method) or "–"] if table["paper"] else [])])
        out.write(f"{table['suite']} (protocol {table['protocol_hash'][:12]}; mean ± std over {table['unit']}, "
                  "ddof 1, and "
                  "the half-width of the mean's 95 % interval (Student's t); "
                  f"{'bold' if form == 'markdown' else '*'} = best)\n\n")
        if form == "markdown":
            out.write("| " + " | ".join(header) + " |\n| " + " | ".join("---" for _ in header) + " |\n")
            out.writelines("| " + " | ".join(line) + " |\n" for line in lines)
        else:
            widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
            for line in [header, *lines]:
                out.write("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() + "\n")
        out.write("\n")
    return out.getvalue()


def published_text(table: dict[str, Any], method: str) -> str:
    """A row's published numbers, ``column value (source)``, joined by ``; `` ('' for none)."""
    return "; ".join(f"{column} {entry['value']:.4g} ({entry['source']})"
                     for column, entry in table.get("paper", {}).get(method, {}).items())


def regressions(board: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[str]:
    """Where ``board`` is worse than ``baseline`` (an earlier ``pgvg leaderboard --format json``) by more than
    ``tolerance`` x the baseline's value, in the direction of each metric; tables matched by protocol."""
    found = []
    for old in baseline.get("tables", []):
        new = next((t for t in board["tables"] if t["protocol_hash"] == old["protocol_hash"]), None)
        if new is None:
            continue
        for method, old_row in old["methods"].items():
            for column, old_cell in old_row["cells"].items():
                higher = new["directions"].get(column)
                cell = new["methods"].get(method, {}).get("cells", {}).get(column)
                if higher is None or cell is None:
                    continue
                worse = old_cell["mean"] - cell.mean if higher else cell.mean - old_cell["mean"]
                if worse > tolerance * abs(old_cell["mean"]):
                    found.append(f"{old['suite']} {method} {column}: {cell.mean:.4g} against {old_cell['mean']:.4g} "
                                 f"({'higher' if higher else 'lower'} is better, tolerance {tolerance:.0%})")
    return found
