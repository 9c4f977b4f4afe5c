"""``pgvg score``: metrics between two sets of frames, or each metric beside its reference (``--conformance``)."""

from __future__ import annotations

import json
import logging

import click

from pgvg_core.cli.common import _echo_table

log = logging.getLogger("pgvg")


@click.command("score")
@click.argument("real", type=click.Path(exists=False), required=False)
@click.argument("fake", type=click.Path(exists=False), required=False)
@click.option("--metric", "metrics", multiple=True, help="A metric by name (repeat for more).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--json", "as_json", is_flag=True, help='Print {"<metric>": value, ..., "provenance": {...}}.')
@click.option("--no-cache", is_flag=True, help="Recompute the features of REAL (FID, KID) instead of using the cache.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--conformance", is_flag=True,
              help="Compare each metric (default: every frame metric) with its reference implementation on the "
                   "same files (REAL FAKE, or real photos and degraded copies when they are left out); exit 1 "
                   "when one differs beyond its tolerance.")
def score_command(real: str | None, fake: str | None, metrics: tuple[str, ...], device: str, as_json: bool,
                  no_cache: bool, no_progress: bool, conformance: bool) -> None:
    """Metrics between REAL and FAKE: folders of images, video files, or folders of videos."""
    from pgvg_core.errors import PgvgError

    if (real is None) != (fake is None):
        raise PgvgError("give both REAL and FAKE (or neither, with --conformance)")
    if conformance:
        _conformance(real, fake, list(metrics), device=device, as_json=as_json)
        return
    if real is None or not metrics:
        raise PgvgError("usage: pgvg score REAL FAKE --metric NAME [--metric NAME ...] (see `pgvg list metrics`); "
                        "`pgvg score --conformance` checks the metrics against their reference implementations")
    from pgvg_core.measure.score import score

    result = score(real, fake, list(metrics), device=device, progress=not no_progress, use_cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    inputs = result["provenance"]["inputs"]
    _echo_table(["metric", "value"], [[k, f"{v:.6g}"] for k, v in result.items() if k != "provenance"],
                title=f"{inputs['fake_frames']} fake vs {inputs['real_frames'] or 'cached'} real frames")


def _conformance(real: str | None, fake: str | None, metrics: list[str], *, device: str, as_json: bool) -> None:
    import tempfile
    from pathlib import Path

    from pgvg_core.measure.conformance import run_conformance, write_conformance_set

    with tempfile.TemporaryDirectory(prefix="pgvg-conformance-set-") as folder:
        if real is None:
            real_dir, fake_dir = write_conformance_set(Path(folder))
            source = "scikit-image's sample photos, 128x128 crops, and degraded copies (blur, noise, JPEG, brighter)"
        else:
            real_dir, fake_dir, source = Path(real), Path(fake), f"{real} vs {fake}"
        rows = run_conformance(real_dir, fake_dir, metrics, device=device)
    failed = [row for row in rows if row["status"] == "FAIL"]
    if as_json:
        click.echo(json.dumps({"inputs": source, "checks": rows, "ok": not failed}, indent=2))
    else:
        _echo_table(["metric", "check", "pgvg", "reference", "difference", "tolerance", "status"],
                    [[r["metric"], r["key"], f"{r['pgvg']:.8g}", f"{r['reference_value']:.8g}",
                      f"{r['difference']:.2g}", r["tolerance"], r["status"]]
                     if r["status"] != "skipped" else [r["metric"], "-", "-", "-", "-", "-", "skipped"]
                     for r in rows], title=f"conformance on {source}")
        for reference in dict.fromkeys(r["reference"] for r in rows if "reference" in r):
            click.echo(f"reference: {reference}")
        for row in rows:
            if row["status"] == "skipped":
                click.echo(f"skipped {row['metric']}: {row['reason']}")
    if failed:
        raise SystemExit(1)
