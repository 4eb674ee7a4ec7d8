"""The cost model against values computed by hand."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from specwise import cost


@dataclass
class R:
    arm: str
    gpus: int
    gpu_hour_usd: float | None
    concurrency: int
    temperature: float
    output_tokens_per_s: float | None
    speculative: bool = False


def test_usd_per_million_tokens():
    # 2 GPUs × $2.50 = $5/h; 500 tok/s × 3600 = 1.8M tok/h → $5 / 1.8 = $2.7778 per 1M
    assert cost.usd_per_million_tokens(2, 2.5, 500.0) == pytest.approx(2.777777, rel=1e-6)
    # 1 GPU × $2.50 at 450 tok/s: 2.5 / 1.62 = $1.5432 per 1M
    assert cost.usd_per_million_tokens(1, 2.5, 450.0) == pytest.approx(1.543210, rel=1e-6)
    assert cost.usd_per_million_tokens(1, None, 450.0) is None
    assert cost.usd_per_million_tokens(1, 2.5, None) is None
    assert cost.usd_per_million_tokens(1, 2.5, 0.0) is None
    assert cost.usd_per_hour(4, 1.25) == 5.0


def test_per_gpu_and_goodput_per_gpu():
    assert cost.per_gpu(450.0, 2) == 225.0  # tok/s per GPU
    assert cost.per_gpu(3.0, 2) == 1.5  # goodput requests/s per GPU
    assert cost.per_gpu(3.0, 0) == 3.0  # a CPU arm: per machine
    assert cost.per_gpu(None, 1) is None


def test_slo_search():
    # fraction of requests meeting the SLO per concurrency; target 0.9
    points = [(1, 1.0), (4, 0.95), (8, 0.9), (16, 0.6), (32, 0.1)]
    assert cost.largest_concurrency_meeting_slo(points) == 8
    assert cost.largest_concurrency_meeting_slo(points, target=0.96) == 1
    assert cost.largest_concurrency_meeting_slo([(1, 0.5), (2, None)]) is None
    assert cost.meets_slo(None) is None
    assert cost.meets_slo(0.89) is False


def test_theory_by_hand():
    # α = 0.5, k = 3: 1 + 0.5 + 0.25 + 0.125 = 1.875
    assert cost.expected_tokens_per_step(0.5, 3) == pytest.approx(1.875)
    assert cost.expected_tokens_per_step(1.0, 3) == 4.0
    assert cost.expected_tokens_per_step(0.0, 5) == 1.0
    # c = 0.1: 1.875 / 1.3 = 1.44231
    assert cost.theoretical_speedup(0.5, 3, 0.1) == pytest.approx(1.442308, rel=1e-6)


def test_fit_draft_cost_recovers_c():
    # k = 3: S = 1.875 / 1.3; k = 5: E = 1.96875, S = 1.96875 / 1.5 → c = 0.1 exactly
    points = [(0.5, 3, 1.875 / 1.3), (0.5, 5, 1.96875 / 1.5)]
    assert cost.fit_draft_cost(points) == pytest.approx(0.1)
    # one point, α = 0.4, k = 2: E = 1.56, S = 1.2 → c = (1.56 / 1.2 − 1) / 2 = 0.15
    assert cost.fit_draft_cost([(0.4, 2, 1.2)]) == pytest.approx(0.15)
    assert cost.fit_draft_cost([(0.9, 3, 10.0)]) == 0.0  # faster than free: clipped
    assert cost.fit_draft_cost([]) is None


def test_headline_by_hand():
    rows = [
        R("nim-2gpu", 2, 2.5, 1, 0.0, 100.0),
        R("nim-2gpu", 2, 2.5, 32, 0.0, 500.0),
        R("nim-2gpu", 2, 2.5, 32, 0.5, 480.0),
        R("eagle3-k3", 1, 2.5, 1, 0.0, 130.0, True),
        R("eagle3-k3", 1, 2.5, 32, 0.0, 450.0, True),
        R("eagle3-k3", 1, 2.5, 32, 0.5, 400.0, True),
        R("eagle3-k5", 1, 2.5, 32, 0.0, 400.0, True),
    ]
    h = cost.headline(rows, "nim-2gpu")
    assert h is not None
    assert (h.arm, h.concurrency, h.temperature) == ("eagle3-k3", 32, 0.0)
    assert h.throughput_ratio == pytest.approx(0.9)  # 450 / 500
    assert h.hourly_cost_ratio == pytest.approx(0.5)  # $2.50 / $5.00
    # Y = $1.5432 / $2.7778 = 0.5 / 0.9 = 0.5556
    assert h.token_cost_ratio == pytest.approx(0.555556, rel=1e-5)
    assert cost.headline_text(h) == (
        "eagle3-k3 on 1 GPU delivers 90 % of the 2-GPU nim-2gpu's throughput at 56 % of its "
        "cost ($/1M output tokens; concurrency 32, temperature 0)"
    )
    assert len(cost.comparisons(rows, "nim-2gpu")) == 4


def test_headline_without_prices_uses_gpu_count():
    rows = [R("base", 2, None, 8, 0.0, 200.0), R("spec", 1, None, 8, 0.0, 250.0, True)]
    h = cost.headline(rows, "base")
    assert h is not None and not h.priced
    assert h.token_cost_ratio == pytest.approx(0.5 / 1.25)
    assert "device-hours per 1M output tokens" in cost.headline_text(h)
    assert cost.headline([R("base", 1, None, 8, 0.0, 200.0)], "base") is None


def test_cpu_arms_count_as_one_machine():
    rows = [R("baseline", 0, None, 16, 0.0, 40.0), R("ngram-k3", 0, 0.5, 16, 0.0, 50.0, True)]
    h = cost.headline(rows, "baseline")
    assert h is not None and not h.priced  # only one side priced: compare machine-hours
    assert (h.throughput_ratio, h.hourly_cost_ratio) == (1.25, 1.0)
    assert h.token_cost_ratio == pytest.approx(0.8)
    assert cost.headline_text(h).startswith(
        "ngram-k3 on CPU delivers 125 % of the CPU baseline's throughput at 80 % of its cost"
    )
    # $0.50 per machine-hour at 50 tok/s: 0.5 / (50 × 3600) × 1e6 = $2.7778 per 1M
    assert cost.usd_per_million_tokens(0, 0.5, 50.0) == pytest.approx(2.777778, rel=1e-6)
