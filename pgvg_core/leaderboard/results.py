"""Benchmark results that lose nothing: a JSON file in the run folder first, then a row in a SQLite index.

Each result is first written as JSON inside the run folder that produced it (so results made on many machines
can be gathered later: :func:`import_result_files`), then upserted into a SQLite database (default:
:func:`default_database`, ``$PGVG_DATA_DIR`` or the user's data folder). The database is in WAL mode, one
transaction per result, and waits for other writers instead of failing, so many ``pgvg bench`` processes can
write at once. A row's identity is (protocol hash, method, config hash, seed, checkpoint sha256): the same
thing measured again updates its row, never adds one.

The file identifies itself (``PRAGMA application_id``) and carries its schema version (``PRAGMA
user_version``); a database that is not pgvg's, or one written by a newer pgvg, is refused and left untouched.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import platform
import sqlite3
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from pgvg_core.errors import DataError
from pgvg_core.media.files import PACKAGE_DIR, atomic_write

log = logging.getLogger("pgvg.results")

#: "pgvg" in ASCII: what ``PRAGMA application_id`` says in a pgvg results database.
APPLICATION_ID = 0x70677667
SCHEMA_VERSION = 1
RESULTS_DIR = "results"  # inside a run folder
IDENTITY = ("protocol_hash", "method", "config_hash", "seed", "checkpoint_sha256")

# Each migration takes the schema from the version before it to its own; a new database runs them all.
MIGRATIONS: dict[int, Sequence[str]] = {
    1: (
        """CREATE TABLE results (
            protocol_hash TEXT NOT NULL, method TEXT NOT NULL, config_hash TEXT NOT NULL,
            seed INTEGER NOT NULL, checkpoint_sha256 TEXT NOT NULL,
            suite TEXT NOT NULL, metrics TEXT NOT NULL, provenance TEXT NOT NULL, config TEXT NOT NULL,
            code TEXT NOT NULL, hardware TEXT NOT NULL, torch_version TEXT NOT NULL,
            train_seconds REAL, steps INTEGER, created TEXT NOT NULL, source TEXT,
            PRIMARY KEY (protocol_hash, method, config_hash, seed, checkpoint_sha256))""",
        "CREATE INDEX results_by_suite ON results (suite, protocol_hash)",
    ),
}


def content_hash(value: Any) -> str:
    """sha256 of a JSON-able value in canonical form (sorted keys), or of a text as it is."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(config_toml: str) -> str:
    try:
        data = tomllib.loads(config_toml)
    except tomllib.TOMLDecodeError:
        return content_hash(config_toml)
    data.get("experiment", {}).pop("seed", None)
    data.get("stage1", {}).get("experiment", {}).pop("seed", None)  # a two-stage method's stage 1 (pgvg bench)
    return content_hash(data)


@attrs.frozen(kw_only=True)
class Result:
    """One method, one seed, measured under one protocol."""

    suite: str
    protocol_hash: str
    method: str
    seed: int
    metrics: dict[str, dict[str, float]]  # metric -> its values
    provenance: dict[str, Any]  # metric -> what produced its value
    config: str  # the resolved experiment config (TOML)
    checkpoint_sha256: str
    code: dict[str, Any]  # pgvg version, git commit, dirty flag
    hardware: dict[str, Any]
    torch_version: str
    train_seconds: float | None = None
    steps: int | None = None
    created: str = attrs.field(factory=lambda: datetime.datetime.now(datetime.UTC).isoformat())
    source: str | None = None  # the run folder it came from

    @property
    def config_hash(self) -> str:
        """The config's hash apart from its seed (the seed is a field of its own): the seeds of one method
        share it, and a method whose config changed between seeds shows."""
        return config_hash(self.config)

    @property
    def identity(self) -> tuple[Any, ...]:
        return tuple(getattr(self, key) for key in IDENTITY)

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "config_hash": self.config_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str) -> "Result":
        fields = {field.name for field in attrs.fields(cls)}
        missing = sorted(f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING and f.name not in data)
        if missing:
            raise DataError(f"{where}: not a pgvg result (missing {', '.join(missing)})")
        result = cls(**{key: value for key, value in data.items() if key in fields})
        if "config_hash" in data and data["config_hash"] != result.config_hash:
            raise DataError(f"{where}: its config does not match its config_hash (an edited file)")
        return result


def hardware() -> dict[str, Any]:
    """What the numbers were measured on: CPU, core count, GPU names."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "gpus": gpus,
            "system": platform.system()}


def code_version() -> dict[str, Any]:
    """pgvg's version, and the git commit and whether the tree had changes where pgvg runs from a checkout."""
    import importlib.metadata
    import subprocess

    here = PACKAGE_DIR
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=5)
        git = {"git_commit": commit.stdout.strip() or None, "dirty": bool(dirty.stdout.strip())} \
            if commit.returncode == 0 else {"git_commit": None, "dirty": None}
    except (OSError, subprocess.SubprocessError):
        git = {"git_commit": None, "dirty": None}
    return {"pgvg": importlib.metadata.version("pgvg"), **git}


# ------------------------------------------------------------------------------------------- files


def write_result_file(run_dir: str | Path, result: Result) -> Path:
    """The result as JSON in ``run_dir/results/`` (named by suite, protocol and checkpoint), written atomically."""
    name = f"{result.suite}-{result.protocol_hash[:12]}-{result.checkpoint_sha256[:12]}.json"
    path = Path(run_dir) / RESULTS_DIR / name
    payload = json.dumps(result.as_dict(), indent=2, sort_keys=True).encode("utf-8")
    return atomic_write(path, lambda file: file.write(payload))


def read_result_file(path: str | Path) -> Result:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable result file ({error})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a pgvg result (a JSON object expected)")
    return Result.from_dict(data, where=str(path))


def result_files(paths: Iterable[str | Path]) -> list[Path]:
    """Result files under run folders (their ``results/*.json``) or given directly."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif (path / RESULTS_DIR).is_dir():
            found += sorted((path / RESULTS_DIR).glob("*.json"))
        elif path.is_dir():
            found += sorted(path.glob(f"**/{RESULTS_DIR}/*.json"))
        else:
            raise DataError(f"{path}: no such run folder or result file")
    return found


# ---------------------------------------------------------------------------------------- database


def default_database() -> Path:
    """``$PGVG_DATA_DIR/results.sqlite``, else ``$XDG_DATA_HOME/pgvg/...``, else ``~/.local/share/pgvg/...``."""
    explicit = os.environ.get("PGVG_DATA_DIR")
    root = Path(explicit) if explicit else Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "pgvg"
    return root / "results.sqlite"


#: Filesystems on which SQLite's WAL is unsafe across machines (its shared-memory index is local to one).
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs",
                       "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "afs", "9p")


def network_filesystem(folder: Path, mounts: str = "/proc/mounts") -> str | None:
    """The type of the network filesystem ``folder`` is on, from the mount table (the mount point that is
    the longest prefix of its path), or None: local, or not known (no mount table: not Linux)."""
    try:
        table = Path(mounts).read_text().splitlines()
    except OSError:
        return None
    where = str(Path(folder).resolve())
    best, kind = "", None
    for line in table:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind if kind in NETWORK_FILESYSTEMS else None


class ResultsDatabase:
    """The SQLite index of results (see the module docstring)."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 60.0) -> None:
        self.path = Path(path) if path is not None else default_database()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shared = network_filesystem(self.path.parent)
        if shared:
            log.warning("%s is on a network filesystem (%s): SQLite's WAL mode needs shared memory that such a "
                        "filesystem does not give across machines, and writers on several machines can corrupt it. "
                        "Keep the database on a local disk (--db, or PGVG_DATA_DIR) and gather results made "
                        "elsewhere with `pgvg bench import RUN_DIR...`", self.path, shared)
        self.connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        try:
            self._open()
        except BaseException:
            self.connection.close()
            raise

    def _open(self) -> None:
        """Check, create or migrate the file under SQLite's write lock (``BEGIN IMMEDIATE``: other processes
        wait), so that one process creating the database and another opening it at the same moment never see
        it half made: a new, empty file is stamped and migrated by whichever comes first, a file that is not
        pgvg's is refused and left untouched. WAL is switched on only after, on a file known to be ours."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as error:
            raise DataError(f"{self.path}: not a pgvg results database ({error}); left untouched — choose another "
                            "file with --db") from None
        try:
            self._check_and_migrate()
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        self.connection.execute("PRAGMA journal_mode=WAL")

    def _check_and_migrate(self) -> None:
        try:
            application_id = self.connection.execute("PRAGMA application_id").fetchone()[0]
            version = self.connection.execute("PRAGMA user_version").fetchone()[0]
            tables = self.connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise DataError(f"{self.path}: not a pgvg results database ({error}); left untouched — choose another "
                            "file with --db") from None
        new = application_id == 0 and version == 0 and tables == 0
        if not new and application_id != APPLICATION_ID:
            raise DataError(f"{self.path}: an SQLite database, but not pgvg's (application_id {application_id}); "
                            "left untouched — choose another file with --db")
        if version > SCHEMA_VERSION:
            raise DataError(f"{self.path}: written by a newer pgvg (schema {version}, this one reads up to "
                            f"{SCHEMA_VERSION}); upgrade pgvg, or use another file with --db")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                self.connection.execute(statement)
        if version < SCHEMA_VERSION:
            self.connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _transaction(self) -> "_Transaction":
        return _Transaction(self.connection)

    def upsert(self, result: Result) -> None:
        """Store ``result`` in one transaction: a new row, or the row of the same identity updated."""
        row = {
            "protocol_hash": result.protocol_hash, "method": result.method, "config_hash": result.config_hash,
            "seed": result.seed, "checkpoint_sha256": result.checkpoint_sha256, "suite": result.suite,
            "metrics": json.dumps(result.metrics, sort_keys=True), "provenance": json.dumps(result.provenance,
                                                                                           sort_keys=True, default=str),
            "config": result.config, "code": json.dumps(result.code, sort_keys=True),
            "hardware": json.dumps(result.hardware, sort_keys=True), "torch_version": result.torch_version,
            "train_seconds": result.train_seconds, "steps": result.steps, "created": result.created,
            "source": result.source,
        }
        columns = ", ".join(row)
        updates = ", ".join(f"{key} = excluded.{key}" for key in row if key not in IDENTITY)
        with self._transaction():
            self.connection.execute(
                f"INSERT INTO results ({columns}) VALUES ({', '.join('?' for _ in row)}) "
                f"ON CONFLICT ({', '.join(IDENTITY)}) DO UPDATE SET {updates}", tuple(row.values()))

    def results(self, suite: str | None = None) -> list[Result]:
        query = "SELECT * FROM results" + (" WHERE suite = ?" if suite else "") + " ORDER BY suite, method, seed"
        rows = self.connection.execute(query, (suite,) if suite else ()).fetchall()
        return [Result(suite=r["suite"], protocol_hash=r["protocol_hash"], method=r["method"], seed=r["seed"],
                       metrics=json.loads(r["metrics"]), provenance=json.loads(r["provenance"]), config=r["config"],
                       checkpoint_sha256=r["checkpoint_sha256"], code=json.loads(r["code"]),
                       hardware=json.loads(r["hardware"]), torch_version=r["torch_version"],
                       train_seconds=r["train_seconds"], steps=r["steps"], created=r["created"], source=r["source"])
                for r in rows]

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "ResultsDatabase":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an error): a writer takes the lock up front, so two
    writers queue (``timeout``) instead of failing on a lock upgrade."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        self.connection.execute("COMMIT" if kind is None else "ROLLBACK")


def store(result: Result, run_dir: str | Path, database: ResultsDatabase | None) -> Path:
    """A result as the leaderboard keeps it: its file in the run folder first, then its row (none without a
    ``database``: a cluster job writes the file, the process that collects the jobs writes the rows)."""
    path = write_result_file(run_dir, attrs.evolve(result, source=str(Path(run_dir).resolve())))
    if database is not None:
        database.upsert(read_result_file(path))
    return path


def import_result_files(paths: Iterable[str | Path], database: ResultsDatabase) -> int:
    """Every result file under ``paths`` into ``database`` (``pgvg bench import``); how many."""
    files = result_files(paths)
    for path in files:
        database.upsert(read_result_file(path))
    return len(files)
