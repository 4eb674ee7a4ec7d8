"""Coverage of specwise's gain intervals on an A/A study (studies/aa.yaml): both arms are the same
server, so the true throughput ratio of every cell is 1. Prints one line per cell and, for the
interval specwise uses (gains.turn_interval: turns, spread pooled per concurrency, plus the
cell term τ = the study's cell_noise), the same without the cell term, and the bootstrap over
requests, the share of intervals that contain 1, and the τ² this study itself estimates; exits
1 if a cell "pays" or "loses" or the coverage of specwise's interval is below 90 %.

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

import numpy as np

from specwise.gains import compare_points, paired, turn_log_ratios, turn_spread
from specwise.results import StudyData, load_results


def cells(data: StudyData) -> list[dict]:
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
                           data.margin, data.confidence, spreads[c], data.cell_noise)  # fmt: skip
        bare = compare_points(other, data.baseline, c, r.temperature, r.points, base.points,
                              data.margin, data.confidence, spreads[c])  # no cell term  # fmt: skip
        boot = compare_points(other, data.baseline, c, r.temperature, r.points,
                              [replace(p, turn=0) for p in base.points], data.margin,
                              data.confidence)  # one turn: the bootstrap over requests  # fmt: skip
        row = {"concurrency": c, "repeat": rep, "pairs": g.pairs,
               "turns": len({p.turn_key for p in base.points}), "ratio": g.throughput.estimate,
               "cell_noise": data.cell_noise}  # fmt: skip
        for prefix, gain in (("", g), ("turns_only_", bare), ("bootstrap_", boot)):
            x = gain.throughput
            row |= {prefix + "low": x.low, prefix + "high": x.high,
                    prefix + "verdict": gain.verdict,
                    prefix + "covers_1": x.low <= 1.0 <= x.high}  # fmt: skip
        rows.append(row)
    return rows


def cell_noise_estimate(data: StudyData) -> dict[int, float]:
    """τ² per concurrency by moments: var(ȳ_cell) − mean(s² / turns), s² pooled over cells."""
    other = next(r.arm for r in data.done if r.arm != data.baseline)
    out_: dict[int, float] = {}
    for c in sorted({r.concurrency for r in data.done}):
        ys = []
        for r in (r for r in data.done if r.arm == other and r.concurrency == c):
            base = next(b for b in data.done if (b.arm, b.concurrency, b.repeat)
                        == (data.baseline, c, r.repeat))  # fmt: skip
            ys.append(turn_log_ratios(paired(r.points, base.points)))
        df = sum(len(y) - 1 for y in ys)
        if len(ys) < 2 or not df:
            continue
        s2 = sum(float(((y - y.mean()) ** 2).sum()) for y in ys) / df
        means = np.array([y.mean() for y in ys])
        out_[c] = float(means.var(ddof=1) - np.mean([s2 / len(y) for y in ys]))
    return out_


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the A/A study's results dir")
    parser.add_argument("--out", dest="json_out", type=Path, help="write the cells as JSON")
    args = parser.parse_args()
    data = load_results(args.out)
    rows = cells(data)
    for r in rows:
        print(f"c={r['concurrency']:>2} r={r['repeat']}: {r['ratio']:.3f} "
              f"[{r['low']:.3f}, {r['high']:.3f}] n={r['pairs']} turns={r['turns']} "
              f"{r['verdict']}; bootstrap over requests [{r['bootstrap_low']:.3f}, "
              f"{r['bootstrap_high']:.3f}] {r['bootstrap_verdict']}")  # fmt: skip
    summary: dict = {"cells": rows}
    for method, prefix in (("turns + cell term", ""), ("turns only", "turns_only_"),
                           ("bootstrap", "bootstrap_")):  # fmt: skip
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
    tau2 = cell_noise_estimate(data)
    summary["cell_noise_squared_estimate"] = tau2
    each = [f"c={c}: {v:.5f} (τ ≈ {max(v, 0) ** 0.5:.3f})" for c, v in tau2.items()]
    print("τ² estimate per concurrency (var of cell log X − turn variance): " + ", ".join(each))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=1) + "\n")
    t = summary["turns + cell term"]
    return 0 if t["coverage"] >= 0.9 and not t["pays_or_loses"] else 1


if __name__ == "__main__":
    sys.exit(main())
