"""What a sweep measured, read back from the store: one flat row per configuration, the summary
table printed at the end of a sweep, and `specwise export` (CSV, Parquet or JSON).

Throughput change vs baseline = output tok/s / the baseline arm's at the same concurrency,
temperature and repeat − 1.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

from rich.table import Table

from specwise import store
from specwise.errors import SpecwiseError

FORMATS = ("csv", "parquet", "json")


def _ms(stats: dict[str, float] | None, key: str) -> float | None:
    return None if not stats else stats[key] * 1e3


def flat_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run's identity and headline metrics as one flat row."""
    s = run["summary"] or {}
    acc = run["acceptance"] or {}
    row = {k: run[k] for k in ("arm", "concurrency", "temperature", "repeat", "status", "reason")}
    row |= {
        "requests": run["requests"],
        "errors": s.get("failed"),
        "output_tokens": s.get("output_tokens"),
        "output_tok_s": s.get("output_tokens_per_s"),
        "ttft_p50_ms": _ms(s.get("ttft_s"), "median"),
        "ttft_p99_ms": _ms(s.get("ttft_s"), "p99"),
        "tpot_p50_ms": _ms(s.get("tpot_s"), "median"),
        "tpot_p99_ms": _ms(s.get("tpot_s"), "p99"),
        "goodput_req_s": s.get("goodput_requests_per_s"),
        "acceptance_rate": acc.get("acceptance_rate"),
        "acceptance_length": acc.get("mean_acceptance_length"),
        "tokens_per_step": acc.get("tokens_per_step"),
    }
    return row | {"run_id": run["id"], "key": run["key"]}


def summary_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Flat rows in matrix order, each with its throughput change vs the baseline arm."""
    study = store.stored_study(conn)
    spec = json.loads(study["spec"]) if study else {}
    baseline = spec.get("baseline") or (spec.get("arms") or [{}])[0].get("name")
    rows = [flat_run(r) for r in store.runs(conn)]
    base = {
        (r["concurrency"], r["temperature"], r["repeat"]): r["output_tok_s"]
        for r in rows
        if r["arm"] == baseline and r["status"] == "done"
    }
    for r in rows:
        ref = base.get((r["concurrency"], r["temperature"], r["repeat"]))
        ok = r["output_tok_s"] is not None and ref
        r["vs_baseline"] = r["output_tok_s"] / ref - 1 if ok else None
        r["baseline_arm"] = baseline
    return rows


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def summary_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    columns = ["arm", "c", "T", "out tok/s", "vs base", "TTFT p50", "TTFT p99"]
    columns += ["TPOT p50", "TPOT p99", "accept", "AL", "errors"]
    for col in columns:
        table.add_column(col, justify="left" if col == "arm" else "right")
    for r in rows:
        arm = r["arm"] + (f" r{r['repeat']}" if r["repeat"] else "")
        head = [arm, str(r["concurrency"]), f"{r['temperature']:g}"]
        if r["status"] != "done":
            table.add_row(*head, f"[red]failed: {r['reason']}"[:90])
            continue
        vs = "—" if r["arm"] == r["baseline_arm"] else _f(r["vs_baseline"], "+.1%")
        table.add_row(
            *head,
            _f(r["output_tok_s"], ".1f"),
            vs,
            *(_f(r[k], ".0f") for k in ("ttft_p50_ms", "ttft_p99_ms")),
            *(_f(r[k], ".1f") for k in ("tpot_p50_ms", "tpot_p99_ms")),
            _f(r["acceptance_rate"], ".3f"),
            _f(r["acceptance_length"], ".2f"),
            f"{r['errors']}/{r['requests']}",
        )
    table.caption = (
        "TTFT, TPOT in ms; accept = draft acceptance rate, AL = mean acceptance length "
        "(steps that drafted), from the server's counters over each run; n/a = not available"
    )
    return table


def export(out: Path, fmt: str) -> list[Path]:
    """Write OUT/export/{runs,requests,servers}.{fmt}; returns the files written."""
    if fmt not in FORMATS:
        raise SpecwiseError(f"--format {fmt!r} is unknown; use one of {', '.join(FORMATS)}.")
    conn = store.open_existing(out)
    try:
        tables = {
            "runs": summary_rows(conn),
            "requests": _rows(conn, "SELECT r.arm, r.concurrency, r.temperature, r.repeat, "
                          "q.* FROM requests q JOIN runs r ON r.id = q.run_id "
                          "ORDER BY r.position, q.idx"),
            "servers": _rows(conn, "SELECT * FROM servers ORDER BY id"),
        }  # fmt: skip
    finally:
        conn.close()
    folder = out / "export"
    folder.mkdir(parents=True, exist_ok=True)
    write = {"csv": write_csv, "parquet": write_parquet, "json": write_json}[fmt]
    return [write(rows, folder / f"{name}.{fmt}") for name, rows in tables.items()]


def _rows(conn: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql)]


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def write_json(rows: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return path


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SpecwiseError(
            "Parquet export needs pyarrow; run `pip install pyarrow` or use --format csv."
        ) from None
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
