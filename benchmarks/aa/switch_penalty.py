"""Does the first request after another server's turn pay for that turn? Two ways to look.

    .venv/bin/python benchmarks/aa/switch_penalty.py store runs/aa       # an interleaved A/A store
    .venv/bin/python benchmarks/aa/switch_penalty.py measure --trials 8 \
        --out benchmarks/aa/switch-penalty.json                           # ~8 min, 2 servers

`store`: the requests of an A/A study (studies/aa.yaml) in the order they were sent; a request
is "first" when the machine's previous request went to the other server. For each request sent
to both arms: d = ΔTTFT, ΔE2E (arm − baseline) grouped by x = first_arm − first_baseline ∈
{−1, 0, 1}. With no switch cost, d is ≈ 0 for every x.

`measure`: the two servers of studies/aa.yaml, one 16-token request on A, then two 4-token
requests on B (TTFT of the first vs the second), under four conditions, alternated ABBA:
    switch       B's requests follow A's at once
    gap          1 s of quiet before B's
    wake-short   a 1-token request with a 2-token prompt on B first
    wake-full    a 1-token agent request on B first
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sqlite3
import statistics
import time
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


def measure(trials: int) -> list[dict]:
    from specwise.bench.client import build_body, make_session, send
    from specwise.servers import launch
    from specwise.study import load_study
    from specwise.sweep import server_arm, workload_requests

    study = load_study(REPO / "studies" / "aa.yaml")
    requests = workload_requests(study)
    servers = [launch.start(server_arm(study, a), REPO / "runs" / "switch-penalty" / "logs", 600)
               for a in study.arms]  # fmt: skip

    async def one(server, request, max_tokens: int) -> float | None:
        async with make_session(1) as session:
            body = build_body(request, server.model, {"temperature": 0, "max_tokens": max_tokens})
            return (await send(session, server.base_url, body, request.id)).ttft_s

    def ttft(server, request, max_tokens: int) -> float | None:
        return asyncio.run(one(server, request, max_tokens))

    short = dataclasses.replace(requests[0], messages=[{"role": "user", "content": "Hi"}])
    rows, i = [], 2
    try:
        a, b = servers
        for s in servers:
            ttft(s, requests[1], 4)  # caches the shared system prompt
        for trial in range(trials):
            for condition in CONDITIONS if trial % 2 == 0 else CONDITIONS[::-1]:
                x, y, z, wake = requests[i : i + 4]
                i += 4
                ttft(a, x, 16)
                if condition == "gap":
                    time.sleep(1.0)
                elif condition == "wake-short":
                    ttft(b, short, 1)
                elif condition == "wake-full":
                    ttft(b, wake, 1)
                first, second = ttft(b, y, 4), ttft(b, z, 4)
                rows.append({"condition": condition, "trial": trial, "ttft_first_s": first,
                             "ttft_second_s": second})  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
    finally:
        for s in servers:
            s.stop()
    return rows


def summary(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for condition in CONDITIONS:
        mine = [r for r in rows if r["condition"] == condition]
        d = [r["ttft_first_s"] - r["ttft_second_s"] for r in mine]
        out[condition] = {"trials": len(mine), "median_first_minus_second_s": statistics.median(d)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("store")
    s.add_argument("out", type=Path)
    m = sub.add_parser("measure")
    m.add_argument("--trials", type=int, default=8)
    m.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.command == "store":
        print(json.dumps(from_store(args.out), indent=1))
        return
    rows = measure(args.trials)
    result = {"summary": summary(rows), "trials": rows}
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
