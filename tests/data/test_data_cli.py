import json

from click.testing import CliRunner
from PIL import Image

from pgvg_core.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_preview_png_shows_clips_with_poses(tmp_path):
    out = tmp_path / "sheet.png"
    result = invoke("data", "preview", "synthetic-actions", "--split", "test", "--clips", "3", "--out", str(out),
                    "-p", "frames=8")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    image = Image.open(out)
    # 3 clips x (frames row + pose row), each 64 px high plus a 2 px gap, doubled for legibility.
    assert image.height == 2 * 6 * 66
    assert len(set(image.getdata())) > 50  # a picture, not a blank page


def test_preview_gif_is_animated(tmp_path):
    out = tmp_path / "clips.gif"
    result = invoke("data", "preview", "synthetic-actions", "--clips", "2", "--out", str(out), "-p", "frames=6")
    assert result.exit_code == 0, result.output
    assert Image.open(out).n_frames == 6


def test_stats_json_per_split():
    result = invoke("data", "stats", "synthetic-actions", "--json", "-p", "frames=8")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    splits = {row["split"]: row for row in stats["splits"]}
    assert set(splits) == {"train", "test", "unseen-pose", "occlusion"}
    assert splits["train"]["frames"] == splits["train"]["clips"] * 8
    assert len(stats["classes"]) == 10


def test_bad_dataset_input_exits_2(tmp_path):
    result = invoke("data", "preview", "synthetic-action")
    assert result.exit_code == 2 and "did you mean 'synthetic-actions'" in result.output
    result = invoke("data", "preview", "synthetic-actions", "-p", "resolution=70")
    assert result.exit_code == 2 and "multiple of 16" in result.output
    result = invoke("data", "stats", "video-folder", "-p", f'root="{tmp_path}"')
    assert result.exit_code == 2 and "no class folders" in result.output
    result = invoke("data", "preview", "synthetic-actions", "--out", str(tmp_path / "x.jpg"))
    assert result.exit_code == 2 and ".png" in result.output
