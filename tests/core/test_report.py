"""The leaderboard's HTML page: self-contained, escaped, and it renders in a real browser."""

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from pgvg_core.cli import main
from pgvg_core.results import ResultsDatabase
from core.test_results import result

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
