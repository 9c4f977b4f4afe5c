"""The leaderboard's HTML page: self-contained, escaped, and it renders in a real browser."""

import shutil
import subprocess

import pytest
from click.testing import CliRunner
from core.test_results import result

from pgvg_core.cli import main
from pgvg_core.leaderboard.results import ResultsDatabase

HOSTILE = '<script>alert("x")</script>'


def page(tmp_path):
    db = tmp_path / "db.sqlite"
    with ResultsDatabase(db) as database:
        for seed in (0, 1, 2):
            database.upsert(result(seed=seed, metrics={"ssim": {"ssim": 0.8 + seed / 100}, "fid": {"fid": 30.0 - seed}}))
            database.upsert(result(method=HOSTILE, seed=seed, metrics={"ssim": {"ssim": 0.5}, "fid": {"fid": 40.0}}))
    out = tmp_path / "board.html"
    done = CliRunner().invoke(main, ["leaderboard", "--db", str(db), "--format", "html", "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out


def test_the_page_is_self_contained_and_escapes_what_it_shows(tmp_path):
    text = page(tmp_path).read_text()
    assert HOSTILE not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</text>" in text  # a plot names the method whole
    assert "http://" not in text and "https://" not in text and "<link" not in text  # nothing fetched
    assert text.count('<tr class="method">') == 2 and "ssim.ssim ↑" in text and "fid.fid ↓" in text
    assert 'class="num best" title="n = 3; 95 % interval of the mean: ±0.02484">0.81 ± 0.01</td>' in text  # scgan's SSIM, the best


def test_the_page_renders_in_headless_chromium_with_no_console_error(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium: install Debian's package (apt-get install chromium) to test the page in a browser")
    path = page(tmp_path)
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'data-rows="2"' in done.stdout, done.stderr[-2000:]  # the page's script ran: both rows are there
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console


def test_published_numbers_and_training_curves_are_shown(tmp_path):
    """A suite's [[paper]] numbers in a "paper" column (text, CSV and the page); a run's loss terms as curves."""
    import json

    import attrs

    from pgvg_core.leaderboard.board import format_table, leaderboard
    from pgvg_core.leaderboard.report import html_page
    from pgvg_core.leaderboard.suites import load_suite

    suite_file = tmp_path / "suite.toml"
    suite_file.write_text((load_suite("smoke").source.read_text()
                           + '\n[[paper]]\nmethod = "pix2pix"\ncolumn = "ssim.ssim"\nvalue = 0.61\n'
                             'source = "Somebody et al. 2099, Table 9 <b>"\n'))
    suite = load_suite(str(suite_file))
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "g/l1": 1 / s, "d/gan": 0.5}) + "\n"
                                               for s in (1, 2, 3)))
    results = [attrs.evolve(result(seed=seed, method=method), protocol_hash=suite.protocol_hash, source=str(run))
               for method in ("scgan", "pix2pix") for seed in (0, 1)]
    board = leaderboard(results, suite)
    assert board["tables"][0]["paper"] == {"pix2pix": {"ssim.ssim": {"value": 0.61,
                                                                    "source": "Somebody et al. 2099, Table 9 <b>"}}}
    text = format_table(board)
    assert "paper" in text.splitlines()[2] and "ssim.ssim 0.61 (Somebody et al. 2099, Table 9 <b>)" in text
    assert "ssim.ssim 0.61" in format_table(board, "csv")
    page_text = html_page(board, results)
    assert "<th>paper</th>" in page_text and "Table 9 &lt;b&gt;" in page_text
    assert page_text.count("loss terms over training") == 2 and page_text.count("<polyline") == 4
    unpublished = leaderboard(results, load_suite("smoke"))  # the same protocol, no numbers published: no column
    assert not unpublished["tables"][0]["paper"] and "paper" not in format_table(unpublished)


def test_a_published_number_for_a_method_the_suite_lacks_is_refused(tmp_path):
    from pgvg_core.errors import PgvgError
    from pgvg_core.leaderboard.suites import load_suite

    suite_file = tmp_path / "suite.toml"
    suite_file.write_text(load_suite("smoke").source.read_text()
                          + '\n[[paper]]\nmethod = "vid2vid"\ncolumn = "ssim.ssim"\nvalue = 0.7\nsource = "x"\n')
    with pytest.raises(PgvgError, match=r"paper\[0\]'.*'vid2vid' is not one of the suite's \(pix2pix, scgan\)"):
        load_suite(str(suite_file))
