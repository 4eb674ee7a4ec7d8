"""Is the client the bottleneck? Chunks/s one client process ingests from a server that streams
as fast as it can, specwise (`specwise bench`) vs `vllm bench serve`, each pinned to one core.

    .venv/bin/python benchmarks/client_throughput/run.py --repeats 3 --concurrency 64 256

The fast server runs pinned to core 1, the client under test to core 0; both tools send the same
number of requests of the same length, alternating run by run. chunks/s = content chunks the
client recorded / the tool's own measured duration (one token per chunk on this server, so for
`vllm bench serve` it is its total output tokens / duration). The server's CPU seconds per chunk are
recorded too: its capacity (chunks per CPU-second of its core) shows it was not the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYTHON = sys.executable
SPECWISE = str(Path(PYTHON).with_name("specwise"))
VLLM_BENCH = str(ROOT / "benchmarks/peer_agreement/vllm_bench.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, core: int) -> subprocess.Popen[bytes]:
    cmd = ["taskset", "-c", str(core), PYTHON, str(HERE / "fast_server.py"), str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the fast server did not start")


def run_specwise(
    url: str, c: int, n: int, tokens: int, core: int, tmp: Path, src: Path | None = None
) -> float:
    """chunks/s from `specwise bench`'s own records: Σ chunks / measured duration; `src`: run
    the specwise of another source tree (e.g. a worktree of an earlier commit) instead."""
    workload = tmp / "w.jsonl"
    workload.write_text(json.dumps({"id": "w", "messages": [{"role": "user", "content": "go"}]}))
    out = tmp / f"sw-{c}-{time.monotonic_ns()}"  # a new folder per run: bench never overwrites
    cmd = ["taskset", "-c", str(core), SPECWISE, "bench", "--url", url, "--model", "fast"]
    cmd += ["--workload", str(workload), "--out", str(out), "--concurrency", str(c)]
    cmd += ["--num-requests", str(n), "--max-tokens", str(tokens)]
    env = os.environ | ({"PYTHONPATH": str(src)} if src else {})
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    assert metrics["successful"] == n, metrics["failures_by_kind"]
    lines = (out / "requests.jsonl").read_text().splitlines()
    chunks = sum(len(json.loads(line)["chunk_times_s"]) for line in lines)
    return chunks / metrics["duration_s"]


def run_vllm(url: str, c: int, n: int, tokens: int, core: int, tmp: Path, tok: str) -> float:
    """chunks/s from `vllm bench serve`'s result file: total output tokens / duration."""
    cmd = ["taskset", "-c", str(core), PYTHON, VLLM_BENCH, "serve", "--backend", "openai-chat"]
    cmd += ["--base-url", url, "--endpoint", "/v1/chat/completions", "--model", "fast"]
    cmd += ["--tokenizer", tok, "--dataset-name", "random", "--random-input-len", "16"]
    cmd += ["--random-output-len", str(tokens), "--num-prompts", str(n), "--ignore-eos"]
    cmd += ["--max-concurrency", str(c), "--disable-tqdm", "--save-result"]
    cmd += ["--result-dir", str(tmp), "--result-filename", f"vllm-{c}.json"]
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    result = json.loads((tmp / f"vllm-{c}.json").read_text())
    assert result["completed"] == n, result
    return result["total_output_tokens"] / result["duration"]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests-per-user", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--tokenizer", required=True, help="any HF tokenizer dir (random dataset)")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--before-src",
        type=Path,
        help="also run `specwise bench` from this src/ (an earlier commit's worktree)",
    )
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.server_core)
    sproc = psutil.Process(server.pid)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            for c in args.concurrency:
                n = c * args.requests_per_user
                tools = ["specwise", "vllm"] + (["specwise-before"] if args.before_src else [])
                runs: dict[str, list[float]] = {t: [] for t in tools}
                capacity: list[float] = []
                for rep in range(args.repeats):
                    order = tools[rep % len(tools) :] + tools[: rep % len(tools)]  # rotated
                    for tool in order:
                        cpu0 = sum(sproc.cpu_times()[:2])
                        if tool.startswith("specwise"):
                            src = args.before_src if tool == "specwise-before" else None
                            rate = run_specwise(url, c, n, args.tokens, args.client_core, tmp, src)
                        else:
                            rate = run_vllm(
                                url, c, n, args.tokens, args.client_core, tmp, args.tokenizer
                            )
                        n_chunks = n * args.tokens
                        capacity.append(n_chunks / (sum(sproc.cpu_times()[:2]) - cpu0))
                        runs[tool].append(rate)
                        print(f"c={c} rep={rep} {tool}: {rate:,.0f} chunks/s", flush=True)
                med = {tool: statistics.median(v) for tool, v in runs.items()}
                rows.append(
                    {
                        "concurrency": c,
                        "requests": n,
                        "tokens_per_request": args.tokens,
                        "runs": runs,
                        "median_chunks_per_s": med,
                        "ratio_specwise_over_vllm": med["specwise"] / med["vllm"],
                        "server_capacity_chunks_per_cpu_s_min": min(capacity),
                    }
                )
    finally:
        server.terminate()
        server.wait()
    doc = {"machine": f"{cpu_model()}, {os.cpu_count()} cores"}
    doc |= {"python": platform.python_version(), "time": time.ctime(), "rows": rows}
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print("| c | specwise chunks/s | vllm bench serve chunks/s | ratio | before | server cap. |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        m = r["median_chunks_per_s"]
        before = f"{m['specwise-before']:,.0f}" if "specwise-before" in m else "–"
        print(
            f"| {r['concurrency']} | {m['specwise']:,.0f} | {m['vllm']:,.0f} | "
            f"{r['ratio_specwise_over_vllm']:.2f}x | {before} | "
            f"{r['server_capacity_chunks_per_cpu_s_min']:,.0f} |"
        )


if __name__ == "__main__":
    main()
