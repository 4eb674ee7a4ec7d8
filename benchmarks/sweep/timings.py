"""Where a sweep's wall time went, from its results store: server starts and configurations.

python benchmarks/sweep/timings.py runs/quick
"""

from __future__ import annotations

import sys
from pathlib import Path

from specwise import store


def main(out: Path) -> None:
    conn = store.open_existing(out)
    servers = {r["id"]: r for r in conn.execute("SELECT * FROM servers")}
    runs = store.runs(conn)
    first_run: dict[int, float] = {}
    for run in runs:
        if run["server_id"] is not None:
            first_run.setdefault(run["server_id"], run["started_at"])
    print("arm            server start (s)")
    for sid, row in servers.items():
        if row["process_started_at"] and sid in first_run:
            print(f"{row['arm']:<14} {first_run[sid] - row['process_started_at']:8.1f}")
    print("\narm            c   T    status  wall (s)  measured (s)  output tokens")
    for r in runs:
        s = r["summary"] or {}
        wall = (r["finished_at"] or 0) - (r["started_at"] or 0)
        measured = s.get("duration_s") or 0.0
        tokens = s.get("output_tokens") or 0
        print(
            f"{r['arm']:<14} {r['concurrency']:<3} {r['temperature']:<4g} {r['status']:<7} "
            f"{wall:8.1f}  {measured:12.1f}  {tokens:13d}"
        )
    done = [r for r in runs if r["status"] == "done"]
    starts = [r["started_at"] for r in runs if r["started_at"]]
    ends = [r["finished_at"] for r in runs if r["finished_at"]]
    proc = [s["process_started_at"] for s in servers.values() if s["process_started_at"]]
    if starts and ends:
        begin = min(starts + proc)
        print(f"\n{len(done)} configurations done; first server start → last run: "
              f"{max(ends) - begin:.0f} s")  # fmt: skip
    conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/quick"))
