"""The results store: whole configurations or nothing, replace-on-retry, export."""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from pathlib import Path

import pytest

from specwise import gains, results, store
from specwise.bench.client import RequestRecord
from specwise.errors import SpecwiseError


def record(i: int, text: str = "hi") -> dict:
    r = RequestRecord(f"req-{i}", arm="a", ok=True, ttft_s=0.1, e2e_s=0.5, output_tokens=5)
    r.text, r.chunk_times_s, r.extra = text, [0.1, 0.2], {"index": i}
    return r.to_dict()


def run(key: str, arm: str = "a", status: str = "done", tok_s: float = 10.0, **more) -> dict:
    summary = {"failed": 0, "output_tokens_per_s": tok_s, "ttft_s": {"median": 0.1, "p99": 0.2}}
    return {
        "key": key,
        "position": more.pop("position", 0),
        "arm": arm,
        "concurrency": more.pop("concurrency", 1),
        "temperature": 0.0,
        "repeat": 0,
        "status": status,
        "requests": 2,
        "summary": summary,
    } | more


@pytest.fixture
def conn(tmp_path: Path):
    c = store.connect(tmp_path / "results.sqlite")
    store.bind_study(c, "s", "h", {"arms": [{"name": "a"}, {"name": "b"}]}, set())
    yield c
    c.close()


def test_wal_mode_and_a_configuration_written_whole(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    run_id = store.save_run(conn, run("k1"), [record(1), record(0)], {"before": "x", "after": "y"})
    back = store.load_records(conn, run_id)
    assert [r["request_id"] for r in back] == ["req-0", "req-1"]  # issue order
    assert RequestRecord.from_dict(back[0]).chunk_times_s == [0.1, 0.2]
    assert back[0]["text"] == "hi"
    phases = conn.execute("SELECT phase FROM server_metrics ORDER BY phase").fetchall()
    assert [p[0] for p in phases] == ["after", "before"]


def test_a_failure_midway_leaves_no_trace(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):  # the same request index twice
        store.save_run(conn, run("k1"), [record(0), record(0)], {})
    assert store.runs(conn) == []
    assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 0


def test_a_retry_replaces_the_failed_attempt(conn: sqlite3.Connection) -> None:
    store.save_run(conn, run("k1", status="failed", reason="server died"), [], {})
    assert store.done_keys(conn) == set()
    store.save_run(conn, run("k1"), [record(0), record(1)], {})
    runs = store.runs(conn)
    assert len(runs) == 1 and runs[0]["status"] == "done" and runs[0]["reason"] is None
    assert store.done_keys(conn) == {"k1"}


def test_forced_study_change_keeps_what_it_sets_aside(conn: sqlite3.Connection) -> None:
    """Configurations no longer in the study are kept as superseded, never deleted: out of
    runs() and done_keys(), in runs(superseded=True) with their records; measuring the same
    key again later does not touch them."""
    store.save_run(conn, run("k1"), [record(0)], {})
    store.save_run(conn, run("k2", position=1), [record(0)], {})
    kept = store.bind_study(conn, "s", "h2", {"arms": []}, {"k1", "k3"})
    assert [r["key"] for r in kept] == ["k2"]
    assert store.done_keys(conn) == {"k1"} and [r["key"] for r in store.runs(conn)] == ["k1"]
    (old,) = store.runs(conn, superseded=True)
    assert old["key"].startswith("k2~superseded-") and old["superseded_at"] is not None
    assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 2  # both kept
    assert store.stored_study(conn)["hash"] == "h2"
    store.save_run(conn, run("k2", position=1), [record(1)], {})  # the study wants it back
    assert len(store.runs(conn, superseded=True)) == 1 and store.done_keys(conn) == {"k1", "k2"}
    assert store.bind_study(conn, "s", "h3", {"arms": []}, {"k1", "k2"}) == []


def timed(i: int, e2e: float) -> dict:
    r = RequestRecord(f"req-{i}", ok=True, ttft_s=0.1, e2e_s=e2e, output_tokens=5)
    r.extra = {"index": i}
    return r.to_dict()


def test_flat_rows_carry_the_paired_gain_and_verdict(conn) -> None:
    base = [timed(i, 0.5) for i in range(8)]
    store.save_run(conn, run("k1", "a", requests=8), base, {})
    store.save_run(
        conn, run("k2", "b", position=1, requests=8), [timed(i, 0.4) for i in range(8)], {}
    )
    store.save_run(conn, run("k3", "b", position=2, concurrency=4), [timed(0, 0.4)], {})
    rows = results.flat_rows(results.load_results(conn_dir(conn)))
    a, b, b4 = rows
    assert a["throughput_ratio"] is None and a["verdict"] is None  # the baseline itself
    # 5 tokens per request both sides: X = Σ E2E(a) / Σ E2E(b) = 0.5 / 0.4, no spread: the
    # interval is the between-cell term alone, X · exp(−1.96 τ), τ = the default cell_noise
    low = 1.25 * math.exp(-1.959964 * gains.DEFAULT_CELL_NOISE)
    assert (b["throughput_ratio"], b["throughput_ratio_low"]) == (
        pytest.approx(1.25), pytest.approx(low)
    )  # fmt: skip
    assert (b["pairs"], b["verdict"]) == (8, "pays")
    assert b4["throughput_ratio"] is None  # no baseline at c = 4
    assert a["ttft_p50_ms"] == pytest.approx(100.0)


def conn_dir(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()["file"]).parent


def test_a_store_from_before_the_prefix_cache_columns_opens(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "results.sqlite")
    old.executescript(
        store.SCHEMA.replace(
            ",\n    prefix_cache TEXT, prefix_cache_hit_rate REAL, look INTEGER NOT NULL DEFAULT 0,"
            "\n    sampling TEXT",
            "",
        )
    )
    assert "prefix_cache" not in {r[1] for r in old.execute("PRAGMA table_info(runs)")}
    old.close()
    conn = store.connect(tmp_path / "results.sqlite")
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(runs)")}
    assert {"prefix_cache", "prefix_cache_hit_rate", "look", "sampling"} <= columns
    store.save_run(conn, run("k1", prefix_cache="warm-shared"), [record(0)], {})
    assert store.runs(conn)[0]["prefix_cache"] == "warm-shared"
    conn.close()


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export(tmp_path: Path, conn: sqlite3.Connection, fmt: str) -> None:
    store.save_run(conn, run("k1"), [record(0, 'a, "quoted"\nline'), record(1)], {})
    paths = results.export(tmp_path, fmt)
    assert [p.name for p in paths] == [f"runs.{fmt}", f"requests.{fmt}", f"servers.{fmt}"]
    if fmt == "json":
        rows = json.loads(paths[1].read_text())
        assert rows[0]["text"] == 'a, "quoted"\nline' and rows[0]["arm"] == "a"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(paths[1]).num_rows == 2


def test_export_marks_superseded_runs(tmp_path: Path, conn: sqlite3.Connection) -> None:
    store.save_run(conn, run("k1"), [record(0)], {})
    store.save_run(conn, run("k2", position=1), [record(0), record(1)], {})
    store.bind_study(conn, "s", "h2", {"arms": [{"name": "a"}]}, {"k1"})
    runs_path, requests_path, _ = results.export(tmp_path, "json")
    rows = json.loads(runs_path.read_text())
    assert [r["superseded_at"] is not None for r in rows] == [False, True]
    requests = json.loads(requests_path.read_text())
    assert [r["superseded_at"] is not None for r in requests] == [False, True, True]


def test_export_errors_are_one_sentence(tmp_path: Path, conn, monkeypatch) -> None:
    with pytest.raises(SpecwiseError, match="use one of csv, parquet, json"):
        results.export(tmp_path, "xlsx")
    with pytest.raises(SpecwiseError, match=r"holds no results\.sqlite"):
        results.export(tmp_path / "nowhere", "csv")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(SpecwiseError, match="pip install pyarrow"):
        results.export(tmp_path, "parquet")
