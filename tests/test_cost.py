"""The cost model against values computed by hand."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from specwise import cost
from specwise.gains import Gain, Interval


@dataclass
class R:
    arm: str
    gpus: int
    gpu_hour_usd: float | None


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
    assert cost.meets_slo_target(None) is None
    assert cost.meets_slo_target(0.89) is False


def test_theory_by_hand():
    # α = 0.5, k = 3: 1 + 0.5 + 0.25 + 0.125 = 1.875
    assert cost.expected_tokens_per_step(0.5, 3) == pytest.approx(1.875)
    assert cost.expected_tokens_per_step(1.0, 3) == 4.0
    assert cost.expected_tokens_per_step(0.0, 5) == 1.0


def test_iid_alpha_inverts_the_expected_tokens_per_step():
    # α = 0.5, k = 3 gives E = 1.875; solving back from AL = 1.875 recovers 0.5
    assert cost.iid_alpha(1.875, 3) == pytest.approx(0.5, abs=1e-9)
    assert cost.iid_alpha(1.0, 3) == pytest.approx(0.0, abs=1e-9)
    assert cost.iid_alpha(4.0, 3) == pytest.approx(1.0, abs=1e-6)
    assert cost.iid_alpha(9.0, 3) == pytest.approx(1.0, abs=1e-6)  # above k + 1: clipped


def test_step_cost_and_predicted_speedup():
    # TPOT 60 ms vs 75 ms, 1.6 tokens per step: a step costs 0.06 × 1.6 / 0.075 = 1.28 plain
    r = cost.step_cost_ratio(0.060, 1.6, 0.075)
    assert r == pytest.approx(1.28)
    assert cost.predicted_speedup(1.6, r) == pytest.approx(1.25)
    assert cost.step_cost_ratio(0.06, 1.6, 0.0) is None


def gain(arm: str, c: int, t: float, x: float, low: float, high: float) -> Gain:
    return Gain(arm, "nim-2gpu", c, t, 16, Interval(x, low, high), None, None, None, "pays", 0.03)


def test_headline_by_hand():
    priced = {"nim-2gpu": R("nim-2gpu", 2, 2.5), "eagle3-k3": R("eagle3-k3", 1, 2.5),
              "eagle3-k5": R("eagle3-k5", 1, 2.5)}  # fmt: skip
    found = [
        gain("eagle3-k3", 1, 0.0, 1.3, 1.2, 1.4),
        gain("eagle3-k3", 32, 0.0, 0.9, 0.8, 1.0),
        gain("eagle3-k3", 32, 0.5, 400 / 480, 0.8, 0.9),
        gain("eagle3-k5", 32, 0.0, 0.8, 0.7, 0.9),
    ]
    h = cost.headline(cost.comparisons(found, priced))
    assert h is not None
    assert (h.arm, h.concurrency, h.temperature) == ("eagle3-k3", 32, 0.0)
    assert h.throughput_ratio == pytest.approx(0.9)
    assert h.hourly_cost_ratio == pytest.approx(0.5)  # $2.50 / $5.00
    # Y = 0.5 / 0.9 = 0.5556, its interval 0.5 / 1.0 … 0.5 / 0.8
    assert h.token_cost_ratio == pytest.approx(0.555556, rel=1e-5)
    assert (h.token_cost_low, h.token_cost_high) == (pytest.approx(0.5), pytest.approx(0.625))
    assert cost.headline_text(h) == (
        "eagle3-k3 on 1 GPU delivers 90 % [80 %, 100 %] of the 2-GPU nim-2gpu's throughput at "
        "56 % [50 %, 62 %] of its cost ($/1M output tokens; concurrency 32, temperature 0)"
    )
    assert len(cost.comparisons(found, priced)) == 4
    assert cost.headline([]) is None


def test_headline_without_prices_uses_gpu_count():
    priced = {"nim-2gpu": R("nim-2gpu", 2, None), "spec": R("spec", 1, None)}
    h = cost.headline(cost.comparisons([gain("spec", 8, 0.0, 1.25, 1.2, 1.3)], priced))
    assert h is not None and not h.priced
    assert h.token_cost_ratio == pytest.approx(0.5 / 1.25)
    assert "device-hours per 1M output tokens" in cost.headline_text(h)


def test_cpu_arms_count_as_one_machine():
    priced = {"nim-2gpu": R("nim-2gpu", 0, None), "ngram-k3": R("ngram-k3", 0, 0.5)}
    h = cost.headline(cost.comparisons([gain("ngram-k3", 16, 0.0, 1.25, 1.1, 1.4)], priced))
    assert h is not None and not h.priced  # only one side priced: compare machine-hours
    assert (h.throughput_ratio, h.hourly_cost_ratio) == (1.25, 1.0)
    assert h.token_cost_ratio == pytest.approx(0.8)
    assert cost.headline_text(h).startswith(
        "ngram-k3 on CPU delivers 125 % [110 %, 140 %] of the CPU nim-2gpu's throughput at 80 %"
    )
    # $0.50 per machine-hour at 50 tok/s: 0.5 / (50 × 3600) × 1e6 = $2.7778 per 1M
    assert cost.usd_per_million_tokens(0, 0.5, 50.0) == pytest.approx(2.777778, rel=1e-6)
