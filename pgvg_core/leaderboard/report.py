"""The leaderboard as one self-contained HTML page: inline CSS and SVG, GIFs as data URIs, no network, no server.

Every text that comes from the database (suite, method and metric names, configs, hardware) is escaped.
"""

from __future__ import annotations

import base64
import datetime
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgvg_core.leaderboard.board import published_text
from pgvg_core.leaderboard.results import Result

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; } th, td { padding: .35em .7em; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; background: #eaf6ea; } .flag { color: #b00; font-size: .85em; }
.note { color: #666; font-size: .9em; } .scroll { overflow-x: auto; } .plots { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; } figcaption { font-size: .85em; color: #444; } .samples img { image-rendering: pixelated; }
"""
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.4g}"


def _seed_plot(column: str, methods: Sequence[str], results: Sequence[Result]) -> str:
    """Each seed's value of ``column`` per method, as dots: an inline SVG."""
    metric, key = column.split(".", 1)
    points = [(i, r.seed, float(r.metrics[metric][key])) for i, m in enumerate(methods)
              for r in results if r.method == m and key in r.metrics.get(metric, {})
              and math.isfinite(float(r.metrics[metric][key]))]
    if not points:
        return ""
    low, high = min(p[2] for p in points), max(p[2] for p in points)
    span = (high - low) or 1.0
    # Each method's column is as wide as its longest name (11-px text, ~6.5 px a character): names are shown
    # whole, so that two methods that begin alike ("scgan-paper", "scgan-paper-nosc") stay apart.
    slot = max(70, round(6.5 * max(map(len, methods))) + 10)
    width, height, left = 60 + slot * len(methods), 180, 50
    x = lambda i: left + slot / 2 + slot * i  # noqa: E731
    y = lambda v: 20 + (1 - (v - low) / span) * (height - 50)  # noqa: E731
    dots = "".join(f'<circle cx="{x(i) + (seed % 5 - 2) * 4:.1f}" cy="{y(v):.1f}" r="4" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"><title>{_e(methods[i])}, seed {seed}: {_number(v)}</title>'
                   f'</circle>' for i, seed, v in points)
    labels = "".join(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" font-size="11">'
                     f'{_e(m)}</text>' for i, m in enumerate(methods))
    axis = (f'<text x="{left - 6}" y="{y(high) + 4:.1f}" text-anchor="end" font-size="11">{_number(high)}</text>'
            f'<text x="{left - 6}" y="{y(low) + 4:.1f}" text-anchor="end" font-size="11">{_number(low)}</text>'
            f'<line x1="{left}" y1="15" x2="{left}" y2="{height - 28}" stroke="#999"/>')
    return (f'<figure><svg width="{width}" height="{height}" role="img" aria-label="{_e(column)} per seed">'
            f'{axis}{dots}{labels}</svg><figcaption>{_e(column)}, one dot per seed</figcaption></figure>')


def _curves(result: Result) -> str:
    """A run's logged loss terms over steps (its ``metrics.jsonl``), one line per term: an inline SVG."""
    from pgvg_core.training.run import read_metrics

    try:
        rows = read_metrics(result.source) if result.source else []
    except Exception:  # noqa: BLE001 - a result imported without its run folder: no curves, the table stays
        return ""
    terms = sorted({k for row in rows for k in row if "/" in k})  # "g/<term>", "d/<term>"
    if len(rows) < 2 or not terms:
        return ""
    steps = [row["step"] for row in rows]
    values = [float(row[t]) for row in rows for t in terms if t in row and math.isfinite(float(row[t]))]
    low, high, first, last = min(values), max(values), min(steps), max(steps)
    width, height, left = 300, 180, 50
    x = lambda step: left + (step - first) / ((last - first) or 1) * (width - left - 10)  # noqa: E731
    y = lambda v: 15 + (1 - (v - low) / ((high - low) or 1)) * (height - 45)  # noqa: E731
    lines = []
    for i, term in enumerate(terms):
        points = " ".join(f"{x(row['step']):.1f},{y(float(row[term])):.1f}" for row in rows
                          if term in row and math.isfinite(float(row[term])))
        lines.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="1.5">'
                     f'<title>{_e(term)}</title></polyline>')
    legend = " ".join(f'<span style="color:{COLOURS[i % len(COLOURS)]}">■</span> {_e(t)}' for i, t in enumerate(terms))
    axis = (f'<text x="{left - 6}" y="{y(high) + 4:.1f}" text-anchor="end" font-size="11">{_number(high)}</text>'
            f'<text x="{left - 6}" y="{y(low) + 4:.1f}" text-anchor="end" font-size="11">{_number(low)}</text>'
            f'<text x="{left}" y="{height - 12}" font-size="11">step {first}</text>'
            f'<text x="{width - 10}" y="{height - 12}" text-anchor="end" font-size="11">{last}</text>')
    return (f'<figure><svg width="{width}" height="{height}" role="img" aria-label="{_e(result.method)} losses">'
            f'{axis}{"".join(lines)}</svg><figcaption>{_e(result.method)}, seed {result.seed}: loss terms over '
            f'training<br>{legend}</figcaption></figure>')


def _machine(hardware: dict[str, Any]) -> str:
    gpus = hardware.get("gpus") or []
    return f"{hardware.get('cpu', '?')}, {hardware.get('cores', '?')} cores, " + (
        f"{len(gpus)} x {gpus[0]}" if gpus else "no GPU")


def _sample(result: Result) -> str:
    """The newest sample of a result's run folder (a GIF where there is one, else a sheet), inline."""
    if not result.source:
        return ""
    folder = Path(result.source) / "samples"
    found = sorted(folder.glob("*.gif"), key=lambda p: p.stat().st_mtime) or \
        sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
    if not found or found[-1].stat().st_size > 2_000_000:
        return ""
    kind = "gif" if found[-1].suffix == ".gif" else "png"
    data = base64.b64encode(found[-1].read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/{kind};base64,{data}" alt="{_e(result.method)} sample" height="160">'
            f'<figcaption>{_e(result.method)}, seed {result.seed}: {_e(found[-1].name)}</figcaption></figure>')


def html_page(board: dict[str, Any], results: Sequence[Result]) -> str:
    """The page: per protocol, the table (best bold), a sample GIF per method, each metric per seed."""
    sections = []
    for table in board["tables"]:
        mine = [r for r in results if r.protocol_hash == table["protocol_hash"]]
        columns, order = table["columns"], table["order"]
        arrows = {c: {True: " ↑", False: " ↓", None: ""}[table["directions"][c]] for c in columns}
        head = "".join(f"<th>{_e(c + arrows[c])}</th>" for c in columns) + ("<th>paper</th>" if table.get("paper") else "")
        rows = []
        for method in order:
            row = table["methods"][method]
            cells = []
            for column in columns:
                cell = row["cells"][column]
                text = _number(cell.mean) + (f" ± {cell.std:.2g}" if cell.n > 1 else "")
                best = ' class="num best"' if table["best"].get(column) == method else ' class="num"'
                interval = (f' title="n = {cell.n}; 95 % interval of the mean: ±{_number(cell.half_width)}"'
                            if cell.n > 1 else "")
                cells.append(f"<td{best}{interval}>{_e(text)}</td>")
            flag = ('<br><span class="flag">config differs between seeds: not comparable</span>'
                    if row["config_differs"] else "")
            if table.get("paper"):
                cells.append(f"<td>{_e(published_text(table, method) or '–')}</td>")
            rows.append(f'<tr class="method"><td>{_e(method)}{flag}</td><td class="num">{len(row["seeds"])}</td>'
                        f'{"".join(cells)}</tr>')
        samples = "".join(_sample(next(r for r in mine if r.method == m)) for m in order if any(r.method == m for r in mine))
        plots = "".join(_seed_plot(c, order, mine) for c in columns if table["directions"][c] is not None)
        curves = "".join(_curves(min((r for r in mine if r.method == m), key=lambda r: r.seed))
                         for m in order if any(r.method == m for r in mine))
        hardware = sorted({_machine(r.hardware) for r in mine})
        unit = table.get("unit", "seeds")  # "clips" for the reconstruction protocol
        sections.append(
            f'<h2>{_e(table["suite"])} <span class="note">protocol {_e(table["protocol_hash"][:12])}</span></h2>'
            f'<div class="scroll"><table><thead><tr><th>method</th><th>{unit}</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            f'<p class="note">Mean ± sample standard deviation (ddof 1) over {unit}; bold: the best of a column '
            f'(↑ higher is better, ↓ lower); measured on each run\'s last checkpoint. Hardware: '
            f'{"; ".join(_e(h) for h in hardware)}.</p>'
            + (f'<div class="plots samples">{samples}</div>' if samples else "")
            + (f'<div class="plots">{plots}</div>' if plots else "")
            + (f'<div class="plots">{curves}</div>' if curves else ""))
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pgvg leaderboard</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f'<body><h1>pgvg leaderboard</h1><p class="note">{len(results)} results, made {created}.</p>'
            f'{"".join(sections)}'
            # Marks the page as rendered (what the browser test reads back); no network, nothing else runs.
            '<script>document.body.dataset.rows = document.querySelectorAll("tr.method").length;</script>'
            '</body></html>')
