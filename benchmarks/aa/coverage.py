"""Coverage of specwise's gain intervals on an A/A study (studies/aa.yaml): both arms are the same
server, so the true throughput ratio of every cell is 1. Prints one line per cell and, for the
turn interval specwise uses (gains.turn_interval, spread pooled per concurrency) and for the
bootstrap over requests it replaced, the share of intervals that contain 1; exits 1 if a cell
"pays" or "loses" or the turn interval's coverage is below 90 %.

    .venv/bin/specwise sweep studies/aa.yaml --out runs/aa
    .venv/bin/python benchmarks/aa/coverage.py runs/aa --out benchmarks/aa/results.json

Cells are (concurrency, repeat): each repeat has its own requests, so the cells are independent
samples of the interval procedure (gains.compare_points, the report's own code).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from specwise.gains import compare_points, paired, turn_spread
from specwise.results import load_results


def cells(out: Path) -> list[dict]:
    data = load_results(out)
    other = next(r.arm for r in data.done if r.arm != data.baseline)
    pairs = {}
    for r in sorted(data.done, key=lambda r: (r.concurrency, r.repeat)):
        if r.arm != other:
            continue
        base = next(
            b for b in data.done
            if (b.arm, b.concurrency, b.repeat) == (data.baseline, r.concurrency, r.repeat)
        )  # fmt: skip
        pairs[(r.concurrency, r.repeat)] = (r, base)
    spreads = {  # pooled over the repeats at each concurrency, as a study pools its cells
        c: turn_spread([paired(r.points, b.points) for (cc, _), (r, b) in pairs.items() if cc == c])
        for c in {c for c, _ in pairs}
    }
    rows = []
    for (c, rep), (r, base) in pairs.items():
        g = compare_points(other, data.baseline, c, r.temperature, r.points, base.points,
                           data.margin, data.confidence, spreads[c])  # fmt: skip
        boot = compare_points(other, data.baseline, c, r.temperature, r.points,
                              [replace(p, turn=0) for p in base.points], data.margin,
                              data.confidence)  # one turn: the bootstrap over requests  # fmt: skip
        x, xb = g.throughput, boot.throughput
        rows.append({"concurrency": c, "repeat": rep, "pairs": g.pairs,
                     "turns": len({p.turn_key for p in base.points}),
                     "ratio": x.estimate, "low": x.low, "high": x.high, "verdict": g.verdict,
                     "covers_1": x.low <= 1.0 <= x.high,
                     "bootstrap_low": xb.low, "bootstrap_high": xb.high,
                     "bootstrap_verdict": boot.verdict,
                     "bootstrap_covers_1": xb.low <= 1.0 <= xb.high})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the A/A study's results dir")
    parser.add_argument("--out", dest="json_out", type=Path, help="write the cells as JSON")
    args = parser.parse_args()
    rows = cells(args.out)
    for r in rows:
        print(f"c={r['concurrency']:>2} r={r['repeat']}: {r['ratio']:.3f} "
              f"[{r['low']:.3f}, {r['high']:.3f}] n={r['pairs']} turns={r['turns']} "
              f"{r['verdict']}; bootstrap over requests [{r['bootstrap_low']:.3f}, "
              f"{r['bootstrap_high']:.3f}] {r['bootstrap_verdict']}")  # fmt: skip
    summary: dict = {"cells": rows}
    for method, prefix in (("turns", ""), ("bootstrap", "bootstrap_")):
        covered = sum(r[prefix + "covers_1"] for r in rows) / len(rows)
        wrong = sum(r[prefix + "verdict"] in ("pays", "loses") for r in rows)
        even = sum(r[prefix + "verdict"] == "break-even" for r in rows)
        widths = sorted((r[prefix + "high"] - r[prefix + "low"]) / 2 for r in rows)
        by_c = {
            c: sum(r[prefix + "covers_1"] for r in rows if r["concurrency"] == c)
            for c in sorted({r["concurrency"] for r in rows})
        }
        print(f"{method}: {len(rows)} cells, coverage {covered:.0%} (covered per c: {by_c}), "
              f"{wrong} pays/loses, {even} break-even, median half-width "
              f"{widths[len(widths) // 2]:.3f}")  # fmt: skip
        summary[method] = {"coverage": covered, "pays_or_loses": wrong, "break_even": even,
                           "covered_per_concurrency": by_c}  # fmt: skip
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=1) + "\n")
    t = summary["turns"]
    return 0 if t["coverage"] >= 0.9 and not t["pays_or_loses"] else 1


if __name__ == "__main__":
    sys.exit(main())
