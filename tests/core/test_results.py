"""The results store: JSON in the run folder, then an SQLite row per identity, safe with many writers."""

import sqlite3
import subprocess
import sys
import textwrap

import attrs
import pytest

from pgvg_core.errors import DataError
from pgvg_core.leaderboard.results import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Result,
    ResultsDatabase,
    import_result_files,
    read_result_file,
    store,
)


def result(**changes):
    base = Result(suite="smoke", protocol_hash="p" * 64, method="scgan", seed=0,
                  metrics={"ssim": {"ssim": 0.8}}, provenance={"ssim": {"metric": "ssim", "range": "[0, 1]"}},
                  config='[experiment]\nname = "x"\n', checkpoint_sha256="c" * 64,
                  code={"pgvg": "0.1", "git_commit": None, "dirty": None}, hardware={"cpu": "x86_64", "cores": 2},
                  torch_version="2.x", train_seconds=1.5, steps=4)
    return attrs.evolve(base, **changes)


def test_a_result_is_a_file_in_its_run_folder_then_one_row_per_identity(tmp_path):
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        path = store(result(), tmp_path / "run", db)
        assert path.parent == tmp_path / "run" / "results" and read_result_file(path).metrics["ssim"]["ssim"] == 0.8
        store(result(metrics={"ssim": {"ssim": 0.9}}), tmp_path / "run", db)  # measured again: updated
        store(result(seed=1), tmp_path / "run", db)
        store(result(config='[experiment]\nname = "y"\n'), tmp_path / "run", db)  # another config: its own row
        rows = db.results("smoke")
    assert len(rows) == 3
    first = next(r for r in rows if r.seed == 0 and "x" in r.config)
    assert first.metrics == {"ssim": {"ssim": 0.9}} and first.source == str((tmp_path / "run").resolve())
    assert first.provenance["ssim"]["range"] == "[0, 1]" and first.steps == 4


def test_results_made_elsewhere_are_gathered_from_their_run_folders(tmp_path):
    with ResultsDatabase(tmp_path / "a.sqlite") as machine_a:
        store(result(), tmp_path / "runs" / "one", machine_a)
        store(result(seed=1), tmp_path / "runs" / "two", machine_a)
    with ResultsDatabase(tmp_path / "b.sqlite") as gathered:
        assert import_result_files([tmp_path / "runs"], gathered) == 2
        assert import_result_files([tmp_path / "runs" / "one"], gathered) == 1  # again: no new row
        assert sorted(r.seed for r in gathered.results()) == [0, 1]


def test_an_edited_result_file_is_refused(tmp_path):
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        path = store(result(), tmp_path / "run", db)
        path.write_text(path.read_text().replace('name = \\"x\\"', 'name = \\"edited\\"'))
        with pytest.raises(DataError, match="does not match its config_hash"):
            import_result_files([path], db)


def test_a_database_that_is_not_pgvgs_is_refused_and_left_untouched(tmp_path):
    other = tmp_path / "theirs.sqlite"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    before = other.read_bytes()
    with pytest.raises(DataError, match="an SQLite database, but not pgvg's.*left untouched"):
        ResultsDatabase(other)
    assert other.read_bytes() == before
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n" * 100)
    with pytest.raises(DataError, match="not a pgvg results database"):
        ResultsDatabase(text)
    assert text.read_text() == "my notes\n" * 100


def test_the_schema_is_versioned_and_a_newer_one_is_refused(tmp_path):
    path = tmp_path / "db.sqlite"
    ResultsDatabase(path).close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.commit()
    connection.close()
    with pytest.raises(DataError, match="written by a newer pgvg"):
        ResultsDatabase(path)


WRITER = textwrap.dedent("""
    import sys, attrs
    sys.path.insert(0, {tests!r})
    from core.test_results import result
    from pgvg_core.leaderboard.results import ResultsDatabase
    writer = int(sys.argv[1])
    with ResultsDatabase(sys.argv[2], timeout=120) as db:
        for seed in range(25):
            db.upsert(result(method=f"method-{{writer}}", seed=seed))
            db.upsert(result(method="shared", seed=seed))  # every writer: the same 25 identities
""")


def test_eight_writers_at_once_lose_no_row_and_duplicate_none(tmp_path):
    from pathlib import Path

    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(Path(__file__).resolve().parents[1])))
    database = tmp_path / "db.sqlite"
    ResultsDatabase(database).close()
    writers = [subprocess.Popen([sys.executable, str(script), str(i), str(database)]) for i in range(8)]
    assert [w.wait(timeout=240) for w in writers] == [0] * 8
    with ResultsDatabase(database) as db:
        rows = db.results()
    assert len(rows) == 8 * 25 + 25
    assert len({r.identity for r in rows}) == len(rows)


def _write_results(path: str, writer: int, queue) -> None:
    """One of several processes: open a (maybe new) database and upsert 60 results, identities overlapping."""
    try:
        with ResultsDatabase(path, timeout=120) as database:
            for index in range(60):
                database.upsert(_stress_result(index % 40, writer))
        queue.put(("ok", writer))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
        queue.put((f"{type(error).__name__}: {error}", writer))


def _stress_result(seed: int, writer: int) -> "Result":
    return Result(suite="stress", protocol_hash="p" * 64, method=f"m{seed % 4}", seed=seed,
                  metrics={"ssim": {"ssim": float(writer)}}, provenance={}, config='[experiment]\nname = "x"\n',
                  checkpoint_sha256="c" * 64, code={}, hardware={}, torch_version="x")


def test_many_processes_creating_one_database_at_once_refuse_and_lose_nothing(tmp_path):
    """Found from outside: 8 processes upserting into a database that does not exist yet; in 1 of 5 trials one
    read the new file's application_id before the creator wrote it and refused it. 50 trials, none may."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(50):
        path = str(tmp_path / f"trial-{trial}.sqlite")
        queue = context.Queue()
        writers = [context.Process(target=_write_results, args=(path, writer, queue)) for writer in range(8)]
        for process in writers:
            process.start()
        outcomes = [queue.get(timeout=120) for _ in writers]
        for process in writers:
            process.join(timeout=60)
        assert all(status == "ok" for status, _ in outcomes), (trial, outcomes)
        with ResultsDatabase(path) as database:
            stored = database.results("stress")
        assert sorted(r.seed for r in stored) == list(range(40)), trial  # every identity, once


def test_a_database_on_a_network_filesystem_is_warned_about(tmp_path, monkeypatch, caplog):
    from pgvg_core.leaderboard import results

    mounts = tmp_path / "mounts"
    mounts.write_text(f"rootfs / ext4 rw 0 0\nserver:/export {tmp_path / 'shared'} nfs4 rw 0 0\n")
    assert results.network_filesystem(tmp_path / "shared" / "deep", str(mounts)) == "nfs4"
    assert results.network_filesystem(tmp_path / "local", str(mounts)) is None
    assert results.network_filesystem(tmp_path, str(tmp_path / "no-such-table")) is None
    monkeypatch.setattr(results, "network_filesystem", lambda folder: "nfs4")
    with caplog.at_level("WARNING", logger="pgvg.results"):
        ResultsDatabase(tmp_path / "r.sqlite").close()
    assert "is on a network filesystem (nfs4)" in caplog.text and "pgvg bench import" in caplog.text
