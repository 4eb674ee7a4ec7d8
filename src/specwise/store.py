"""The results store: one SQLite file per study output directory (WAL mode).

Tables
  study           the normalized study (JSON) and its sha256: one row
  servers         every server a sweep started: arm, pid, process group, command, log location
  runs            one row per configuration (key = hash of what shapes it): status done|failed,
                  the metrics summary and the acceptance measured over its window
  requests        every measured request of a run: timings, tokens, the full text, the record
  server_metrics  the server's Prometheus text before and after each run
A configuration is written in one transaction (run + requests + metrics), so a kill at any
moment leaves only whole configurations; a configuration never finished has no row at all.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from specwise.errors import SpecwiseError

STORE_NAME = "results.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS study (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL, hash TEXT NOT NULL, spec TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, specwise_version TEXT
);
CREATE TABLE IF NOT EXISTS servers (
    id INTEGER PRIMARY KEY, arm TEXT NOT NULL, pid INTEGER, pgid INTEGER,
    process_started_at REAL, stopped_at REAL, command TEXT, log_path TEXT, base_url TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, position INTEGER NOT NULL,
    arm TEXT NOT NULL, concurrency INTEGER NOT NULL, temperature REAL NOT NULL,
    repeat INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    reason TEXT, server_id INTEGER REFERENCES servers(id), started_at REAL, finished_at REAL,
    requests INTEGER, summary TEXT, acceptance TEXT, acceptance_note TEXT, stop_reason TEXT,
    prefix_cache TEXT, prefix_cache_hit_rate REAL, look INTEGER NOT NULL DEFAULT 0,
    sampling TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    request_id TEXT NOT NULL, ok INTEGER NOT NULL, error_kind TEXT, error_message TEXT,
    started_at REAL, ttft_s REAL, e2e_s REAL, output_tokens INTEGER, prompt_tokens INTEGER,
    token_source TEXT, finish_reason TEXT, text TEXT, record TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS server_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, phase TEXT NOT NULL,
    text TEXT, PRIMARY KEY (run_id, phase)
);
"""
ADDED_RUN_COLUMNS = {  # columns newer than the first stores: added to an old one on open
    "prefix_cache": "TEXT",
    "prefix_cache_hit_rate": "REAL",
    "look": "INTEGER NOT NULL DEFAULT 0",
    "sampling": "TEXT",
    "superseded_at": "REAL",  # set by `sweep --force`: kept, but no longer part of the study
}
REQUEST_COLUMNS = (
    *("request_id", "ok", "error_kind", "error_message", "started_at", "ttft_s", "e2e_s"),
    *("output_tokens", "prompt_tokens", "token_source", "finish_reason", "text"),
)


def store_path(out: Path) -> Path:
    return out / STORE_NAME


SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def damaged(path: Path, why: str) -> SpecwiseError:
    return SpecwiseError(
        f"{path} is not a readable results store ({why}); specwise left it as it is. Restore "
        "it from a copy, or pass another --out to start over."
    )


def check_store(path: Path, create: bool = False) -> None:
    """An existing store must be an intact SQLite file before anything reads or writes it:
    an empty, foreign or damaged one is named and left untouched (PRAGMA quick_check). With
    `create` (the sweep) an empty file is fine: a sweep killed as it made the store left it,
    and it holds nothing to lose."""
    if path.is_dir():
        raise damaged(path, "it is a directory")
    with path.open("rb") as f:
        head = f.read(100)  # the database header
    if not head and create:
        return
    if not head:
        raise damaged(path, "it is empty")
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        raise damaged(path, "it is not an SQLite database")
    conn = sqlite3.connect(path, timeout=30)
    try:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise damaged(path, str(exc)) from None
    finally:
        conn.close()
    if verdict != "ok":
        raise damaged(path, f"quick_check: {verdict}")


def connect(path: Path, create: bool = False) -> sqlite3.Connection:
    """Open a store in WAL mode, its tables created if missing; commits are explicit
    transactions. An existing file is checked first (check_store; `create`: the sweep, which
    may start from an empty file)."""
    if path.exists():
        check_store(path, create)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    add_missing_columns(conn)
    return conn


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """A store written by an earlier specwise lacks the newer run columns: add them (NULL)."""
    have = {r["name"] for r in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in ADDED_RUN_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


def open_existing(out: Path) -> sqlite3.Connection:
    path = store_path(out)
    if not path.exists():
        raise SpecwiseError(f"{out} holds no {STORE_NAME}; pass the --out directory of a sweep.")
    return connect(path)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (KeyboardInterrupt included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def stored_study(conn: sqlite3.Connection) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM study WHERE id = 1").fetchone()


def bind_study(
    conn: sqlite3.Connection, name: str, digest: str, spec: dict[str, Any], keys: set[str]
) -> list[dict[str, Any]]:
    """Record the study, or check it is the one stored. A different study is refused unless
    the caller already decided to force it: then the runs of configurations no longer in it
    are kept as superseded (superseded_at set, key renamed so the study may measure it again),
    never deleted. Returns those runs."""
    row = stored_study(conn)
    now, text = time.time(), json.dumps(spec, sort_keys=True)
    from specwise import __version__

    with transaction(conn):
        if row is None:
            conn.execute(
                "INSERT INTO study VALUES (1, ?, ?, ?, ?, ?, ?)",
                (name, digest, text, now, now, __version__),
            )
            return []
        conn.execute(
            "UPDATE study SET name = ?, hash = ?, spec = ?, updated_at = ? WHERE id = 1",
            (name, digest, text, now),
        )
        stale = [  # a later look (KEY+lN) of adaptive sampling stays with its configuration
            dict(r)
            for r in conn.execute(
                "SELECT id, key, arm, concurrency, temperature, repeat, look, status, requests "
                "FROM runs WHERE superseded_at IS NULL ORDER BY position, look"
            )
            if r["key"].split("+l")[0] not in keys
        ]
        conn.executemany(
            "UPDATE runs SET superseded_at = ?, key = key || ? WHERE id = ?",
            [(now, f"~superseded-{r['id']}", r["id"]) for r in stale],
        )
        return stale


def done_keys(conn: sqlite3.Connection) -> set[str]:
    sql = "SELECT key FROM runs WHERE status = 'done' AND superseded_at IS NULL"
    return {r["key"] for r in conn.execute(sql)}


def add_server(conn: sqlite3.Connection, arm: str, server: dict[str, Any]) -> int:
    """Record a started server (pid, process group, command, log) before measuring on it."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO servers (arm, pid, pgid, process_started_at, command, log_path, base_url)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                arm,
                server.get("pid"),
                server.get("pgid"),
                server.get("process_started_at"),
                json.dumps(server.get("command") or []),
                server.get("log_path"),
                server.get("base_url"),
            ),
        )
        return int(cur.lastrowid or 0)


def server_stopped(conn: sqlite3.Connection, server_id: int) -> None:
    with transaction(conn):
        conn.execute("UPDATE servers SET stopped_at = ? WHERE id = ?", (time.time(), server_id))


def unstopped_servers(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Servers a previous sweep started and never recorded as stopped (it was killed)."""
    return conn.execute("SELECT * FROM servers WHERE stopped_at IS NULL").fetchall()


def save_run(
    conn: sqlite3.Connection,
    run: dict[str, Any],
    records: list[dict[str, Any]],
    metrics_text: dict[str, str | None],
) -> int:
    """Write one configuration whole: its run row (replacing an earlier failed attempt), every
    request record, and the metrics snapshots; all or nothing."""
    with transaction(conn):
        conn.execute("DELETE FROM runs WHERE key = ?", (run["key"],))
        columns = ", ".join(run)
        marks = ", ".join("?" * len(run))
        values = [json.dumps(v) if isinstance(v, dict | list) else v for v in run.values()]
        cur = conn.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})", values)
        run_id = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT INTO requests VALUES (?, ?, " + ", ".join("?" * len(REQUEST_COLUMNS)) + ", ?)",
            [_request_row(run_id, r) for r in records],
        )
        conn.executemany(
            "INSERT INTO server_metrics VALUES (?, ?, ?)",
            [(run_id, phase, text) for phase, text in metrics_text.items()],
        )
    return run_id


def set_sampling(conn: sqlite3.Connection, key: str, note: str) -> None:
    """Record on a run why adaptive sampling added no more requests after it."""
    with transaction(conn):
        conn.execute("UPDATE runs SET sampling = ? WHERE key = ?", (note, key))


def sampled_keys(conn: sqlite3.Connection) -> set[str]:
    """Keys of runs that carry the reason adaptive sampling stopped after them."""
    sql = "SELECT key FROM runs WHERE sampling IS NOT NULL AND superseded_at IS NULL"
    return {r["key"] for r in conn.execute(sql)}


def _request_row(run_id: int, record: dict[str, Any]) -> tuple[Any, ...]:
    """(run_id, idx, the searchable columns…, the whole record as JSON without its text)."""
    idx = record.get("extra", {}).get("index")
    values = [record.get(c) for c in REQUEST_COLUMNS]
    rest = {k: v for k, v in record.items() if k != "text"}
    return (run_id, idx, *values, json.dumps(rest))


def load_records(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    """The stored request records of a run, in issue order (RequestRecord.from_dict-ready)."""
    rows = conn.execute(
        "SELECT record, text FROM requests WHERE run_id = ? ORDER BY idx", (run_id,)
    )
    return [json.loads(r["record"]) | {"text": r["text"]} for r in rows]


def runs(conn: sqlite3.Connection, superseded: bool = False) -> list[dict[str, Any]]:
    """Every run of the study in matrix order, JSON columns decoded; with `superseded`, only
    the runs `sweep --force` set aside instead."""
    where = "IS NOT NULL" if superseded else "IS NULL"
    rows = conn.execute(f"SELECT * FROM runs WHERE superseded_at {where} ORDER BY position")
    out = []
    for row in rows:
        run = dict(row)
        for col in ("summary", "acceptance"):
            run[col] = json.loads(run[col]) if run[col] else None
        out.append(run)
    return out
