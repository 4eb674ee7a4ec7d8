"""Does the first request after another server's turn pay for that turn? Read from a store.

    .venv/bin/python benchmarks/aa/switch_penalty.py runs/aa       # an interleaved A/A store

The requests of an A/A study (studies/aa.yaml) in the order they were sent; a request is
"first" when the machine's previous request went to the other server. For each request sent
to both arms: d = ΔTTFT, ΔE2E (arm − baseline) grouped by x = first_arm − first_baseline ∈
{−1, 0, 1}. With no switch cost, d is ≈ 0 for every x. (A live variant that started the two
servers itself, commit 518e3cf, is not kept: the store holds what it measured.)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONDITIONS = ["switch", "gap", "wake-short", "wake-full"]


def from_store(out: Path) -> dict[str, dict]:
    db = sqlite3.connect(out / "results.sqlite")
    rows = db.execute(
        "SELECT r.arm, r.concurrency, r.repeat, q.request_id, q.e2e_s, q.ttft_s FROM requests q "
        "JOIN runs r ON q.run_id = r.id WHERE q.ok = 1 ORDER BY q.started_at"
    ).fetchall()
    previous, first, value = None, {}, {}
    for arm, c, rep, rid, e2e, ttft in rows:
        first[(arm, c, rep, rid)], previous = arm != previous, arm
        value[(arm, c, rep, rid)] = (e2e, ttft)
    arm, base = sorted({k[0] for k in value}, reverse=True)  # "baseline-again", "baseline"
    groups: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for (a, c, rep, rid), (e2e, ttft) in value.items():
        if a == arm and (b := (base, c, rep, rid)) in value:
            x = int(first[(a, c, rep, rid)]) - int(first[b])
            groups[(c, x)].append((e2e - value[b][0], ttft - value[b][1]))
    return {
        f"c={c} x={x:+d}": {
            "pairs": len(d),
            "mean_delta_e2e_s": statistics.fmean(e for e, _ in d),
            "mean_delta_ttft_s": statistics.fmean(t for _, t in d),
        }
        for (c, x), d in sorted(groups.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the --out directory of an interleaved A/A study")
    print(json.dumps(from_store(parser.parse_args().out), indent=1))


if __name__ == "__main__":
    main()
