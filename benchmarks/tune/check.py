"""Does a tuned schedule hold on fresh draws? Every tuned arm (a speculative_config with
num_speculative_tokens_per_batch_size) of a study against the baseline at every concurrency,
and against the static arms of its family (the same speculative_config with a fixed k).

    .venv/bin/specwise tune runs/quick --arms-out /tmp/tuned.yaml      # the schedule
    .venv/bin/specwise run studies/tuned.yaml --out runs/tuned           # fresh draws
    .venv/bin/python benchmarks/tune/check.py runs/tuned --out benchmarks/tune/results.json

Exits 1 if a tuned arm "loses" to the baseline anywhere, or if at the lowest concurrency its
interval against a static arm lies below 1 (the schedule gave up a gain the static k had).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from specwise.gains import LOSES, pair_with_baseline, ratio_text
from specwise.results import load_results
from specwise.tune import SCHEDULE, family_key


def check(out: Path) -> dict:
    data = load_results(out)
    specs = {n: a.get("speculative_config") or {} for n, a in data.arms.items()}
    tuned = [n for n, s in specs.items() if SCHEDULE in s]
    static = {
        t: [n for n, s in specs.items() if s and SCHEDULE not in s
            and family_key(s) == family_key(specs[t])]
        for t in tuned
    }  # fmt: skip
    rows = []
    for g in pair_with_baseline(data):
        if g.arm in tuned:
            rows.append({"arm": g.arm, "against": g.baseline, "c": g.concurrency,
                         "t": g.temperature, "ratio": ratio_text(g.throughput),
                         "verdict": g.verdict})  # fmt: skip
    for t, others in static.items():
        for other in others:
            for g in pair_with_baseline(data, {t: other}):
                if g.arm == t:
                    x = g.throughput
                    rows.append({"arm": t, "against": other, "c": g.concurrency,
                                 "t": g.temperature, "ratio": ratio_text(x), "verdict": g.verdict,
                                 "below_1": bool(x and x.high < 1)})  # fmt: skip
    schedules = {t: specs[t][SCHEDULE] for t in tuned}
    return {"baseline": data.baseline, "tuned": tuned, "schedules": schedules, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--out", dest="json_out", type=Path)
    args = parser.parse_args()
    result = check(args.out)
    for r in result["rows"]:
        print(f"{r['arm']} vs {r['against']} c={r['c']} T={r['t']:g}: {r['ratio']} {r['verdict']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
    rows = result["rows"]
    lowest = min((r["c"] for r in rows), default=0)
    loses = any(r["verdict"] == LOSES and r["against"] == result["baseline"] for r in rows)
    gave_up = any(r.get("below_1") and r["c"] == lowest for r in rows)
    return 1 if loses or gave_up or not result["tuned"] else 0


if __name__ == "__main__":
    sys.exit(main())
