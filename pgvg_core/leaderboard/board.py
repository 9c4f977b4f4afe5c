"""The board: results of a suite summarised per method and metric (mean, 95 % interval over seeds or clips),
sorted by the suite's primary column, formatted (table, markdown, CSV, JSON), and checked against a baseline."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import attrs

from pgvg_core.leaderboard.results import Result
from pgvg_core.leaderboard.suites import Suite

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
