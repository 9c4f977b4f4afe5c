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

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pgvg_core.errors import PgvgError
from pgvg_core.leaderboard.results import content_hash
from pgvg_core.media.files import shipped

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


def load_suite(name_or_path: str, sets: Sequence[str] = ()) -> Suite:
    """A suite; ``sets`` (``pgvg bench --set``) are overrides added to every method's (and its stage 1's), e.g.
    ``trainer.steps=600`` — a changed config, so results of another config hash."""
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
    methods = tuple(_with_overrides(method, tuple(sets)) for method in _methods(data.get("methods", []), path, "methods"))
    helpers = _methods(protocol.get("helpers", []), path, "protocol.helpers")
    if not methods:
        raise PgvgError(f"{path}: no [[methods]]")
    return Suite(name=head["name"], version=int(head["version"]), description=head.get("description", ""),
                 primary=head["primary"], columns=tuple(head.get("columns", ())), protocol=protocol, methods=methods,
                 helpers=helpers, source=path, paper=_published(data.get("paper", []), methods, path))


def _with_overrides(method: Method, sets: tuple[str, ...]) -> Method:
    if not sets:
        return method
    stage1 = _with_overrides(method.stage1, sets) if method.stage1 else None
    return attrs.evolve(method, overrides=(*method.overrides, *sets), stage1=stage1)


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
