"""Coverage of specwise's gain intervals on an A/A study (studies/aa.yaml): both arms are the same
server, so the true throughput ratio of every cell is 1. Prints one line per cell and the share
of 95 % intervals that contain 1; exits 1 if a cell "pays" or "loses" or coverage is below 90 %.

    .venv/bin/specwise sweep studies/aa.yaml --out runs/aa
    .venv/bin/python benchmarks/aa/coverage.py runs/aa --out benchmarks/aa/results.json

Cells are (concurrency, repeat): each repeat has its own requests, so the cells are independent
samples of the interval procedure (gains.compare_points, the report's own code).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from specwise.gains import compare_points
from specwise.results import load_results


def cells(out: Path) -> list[dict]:
    data = load_results(out)
    other = next(r.arm for r in data.done if r.arm != data.baseline)
    rows = []
    for r in sorted(data.done, key=lambda r: (r.concurrency, r.repeat)):
        if r.arm != other:
            continue
        base = next(
            b for b in data.done
            if (b.arm, b.concurrency, b.repeat) == (data.baseline, r.concurrency, r.repeat)
        )  # fmt: skip
        g = compare_points(other, data.baseline, r.concurrency, r.temperature, r.points,
                           base.points, data.margin, data.confidence)  # fmt: skip
        x = g.throughput
        rows.append({"concurrency": r.concurrency, "repeat": r.repeat, "pairs": g.pairs,
                     "ratio": x.estimate, "low": x.low, "high": x.high, "verdict": g.verdict,
                     "covers_1": x.low <= 1.0 <= x.high})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the A/A study's results dir")
    parser.add_argument("--out", dest="json_out", type=Path, help="write the cells as JSON")
    args = parser.parse_args()
    rows = cells(args.out)
    for r in rows:
        print(f"c={r['concurrency']:>2} r={r['repeat']}: {r['ratio']:.3f} "
              f"[{r['low']:.3f}, {r['high']:.3f}] n={r['pairs']} {r['verdict']}")  # fmt: skip
    covered = sum(r["covers_1"] for r in rows) / len(rows)
    wrong = [r for r in rows if r["verdict"] in ("pays", "loses")]
    decided = sum(r["verdict"] == "break-even" for r in rows)
    print(f"{len(rows)} cells: coverage {covered:.0%}, {len(wrong)} pays/loses, "
          f"{decided} break-even")  # fmt: skip
    if args.json_out:
        summary = {"cells": rows, "coverage": covered, "pays_or_loses": len(wrong)}
        args.json_out.write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if covered >= 0.9 and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
