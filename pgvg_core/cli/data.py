"""``pgvg data preview`` and ``pgvg data stats``: a dataset, seen before training on it."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from pgvg_core.cli.common import _echo_table

log = logging.getLogger("pgvg")


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    from pgvg_core.config import apply_override, parse_override

    params: dict[str, Any] = {}
    for pair in pairs:
        apply_override(params, *parse_override(pair))
    return params


def _build_dataset(name: str, split: str | None, pairs: tuple[str, ...]) -> Any:
    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.errors import ConfigError

    params = _parse_params(pairs)
    if split is not None:
        params["split"] = split
    try:
        return build("datasets", ComponentSpec(name=name, params=params), path="data")
    except (ValueError, TypeError) as error:
        raise ConfigError(f"dataset '{name}': {error}") from None


@click.group("data")
def data_group() -> None:
    """Look at datasets: contact sheets, GIFs and statistics."""


_PARAM_OPTION = click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
    help="A dataset parameter (TOML value), e.g. -p resolution=128 or -p root=\"ucf101\".",
)


@data_group.command("preview")
@click.argument("name")
@click.option("--split", default=None, help="Split to show (default: the dataset's first).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="FILE.png (contact sheet) or FILE.gif (animation); default NAME-SPLIT.png.")
@click.option("--clips", type=click.IntRange(1, 64), default=10, show_default=True, help="Clips to show.")
@click.option("--start", type=click.IntRange(0), default=0, show_default=True, help="First clip index.")
@_PARAM_OPTION
def data_preview_command(name: str, split: str | None, out: str | None, clips: int, start: int,
                         params: tuple[str, ...]) -> None:
    """A contact sheet (PNG) or animation (GIF) of dataset NAME, poses drawn over the frames."""
    from pathlib import Path

    import numpy as np

    from pgvg_core.errors import PgvgError
    from pgvg_core.media.sheets import animated_grid, grid, overlay_poses, save_png
    from pgvg_core.media.video import to_uint8, write_video
    from pgvg_core.poses.skeleton import skeleton_by_name

    dataset = _build_dataset(name, split, params)
    split = split or getattr(dataset, "split", "all")
    path = Path(out or f"{name}-{split}.png")
    if path.suffix.lower() not in (".png", ".gif"):
        raise PgvgError(f"--out {path}: use a .png (contact sheet) or .gif (animation) file name")
    indices = range(start, min(start + clips, len(dataset)))
    items = [dataset[i] for i in indices]
    frames = [to_uint8(item["frames"]) for item in items]  # [T, H, W, 3] each
    skeleton = skeleton_by_name(getattr(dataset, "skeleton", "body-18"))
    overlays = [overlay_poses(f, item["keypoints"].numpy(), skeleton=skeleton) for f, item in zip(frames, items)]
    labels = [dataset.classes[int(item["label"])] for item in items]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        clips_side_by_side = [np.concatenate([f, o], axis=2) for f, o in zip(frames, overlays)]
        write_video(path, animated_grid(clips_side_by_side, columns=min(5, len(items))))
    else:
        step = max(1, len(frames[0]) // 8)
        rows, row_labels = [], []
        for f, o, label in zip(frames, overlays, labels):
            rows += [f[::step], o[::step]]
            row_labels += [label, "  + pose"]
        save_png(path, grid(rows, row_labels), scale=2 if frames[0].shape[1] <= 64 else 1)
    click.echo(f"wrote {path} ({len(items)} clips of {type(dataset).__name__}, split {split})")


@data_group.command("stats")
@click.argument("name")
@_PARAM_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_stats_command(name: str, params: tuple[str, ...], as_json: bool) -> None:
    """Classes, clips and frames per split of dataset NAME."""
    from pgvg_core.plugins import get_registries

    factory = get_registries()["datasets"].get(name).factory
    rows = []
    classes: tuple[str, ...] = ()
    for split in getattr(factory, "splits", (None,)):
        dataset = _build_dataset(name, split, params)
        classes = dataset.classes
        frames = getattr(dataset, "frames", None)
        rows.append({"split": split or "-", "classes": len(dataset.classes), "clips": len(dataset),
                     "frames": len(dataset) * frames if frames else None,
                     "identities": getattr(dataset, "num_identities", None)})
    if as_json:
        click.echo(json.dumps({"dataset": name, "classes": list(classes), "splits": rows}, indent=2))
        return
    _echo_table(["split", "classes", "clips", "frames", "identities"],
                [[str(r[k]) if r[k] is not None else "-" for k in ("split", "classes", "clips", "frames", "identities")]
                 for r in rows], title=f"{name}: {', '.join(classes)}")
