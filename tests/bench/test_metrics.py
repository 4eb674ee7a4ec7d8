"""Metric formulas against values computed by hand."""

from __future__ import annotations

import math

import pytest

from specwise.bench import metrics
from specwise.bench.client import RequestRecord


def rec(start, ttft, e2e, out, chunks, ok=True, kind=None, spec=None) -> RequestRecord:
    return RequestRecord(
        request_id="r",
        ok=ok,
        error_kind=kind,
        started_at=start,
        ttft_s=ttft,
        e2e_s=e2e,
        output_tokens=out,
        chunk_times_s=chunks,
        token_source="server_usage" if ok else None,
        spec_decode=spec,
    )


# Two successes and one failure:
#   A: start 100.0, TTFT 0.5, E2E 2.5, 11 tokens, chunks at 0.5, 1.0, 2.0, 2.5
#   B: start 101.0, TTFT 1.0, E2E 2.0, 5 tokens,  chunks at 1.0, 1.5, 2.0
#   F: start 100.5, failed after 4.0 s (its window counts, its latency does not)
A = rec(100.0, 0.5, 2.5, 11, [0.5, 1.0, 2.0, 2.5])
B = rec(101.0, 1.0, 2.0, 5, [1.0, 1.5, 2.0])
F = rec(100.5, None, 4.0, None, [], ok=False, kind="timeout")
RUN = [A, B, F]


def test_per_request_formulas():
    assert metrics.tpot(A) == pytest.approx((2.5 - 0.5) / 10)  # 0.2
    assert metrics.tpot(B) == pytest.approx((2.0 - 1.0) / 4)  # 0.25
    assert metrics.itl(A) == pytest.approx([0.5, 1.0, 0.5])
    assert metrics.per_user_tokens_per_s(A) == pytest.approx(5.0)
    assert metrics.tokens_per_chunk(A) == pytest.approx(11 / 4)
    assert metrics.tpot(rec(0, 0.1, 0.1, 1, [0.1])) is None  # one token: undefined


def test_run_formulas():
    span = 104.5 - 100.0  # last end (F: 100.5 + 4.0) − first start (A)
    assert metrics.span_s(RUN) == pytest.approx(span)
    assert metrics.output_tokens_per_s(RUN) == pytest.approx(16 / span)
    assert metrics.requests_per_s(RUN) == pytest.approx(2 / span)
    assert metrics.goodput(RUN, ttft_s=0.6, tpot_s=None) == pytest.approx(1 / span)  # A only
    assert metrics.goodput(RUN, ttft_s=None, tpot_s=0.21) == pytest.approx(1 / span)  # A only
    assert metrics.goodput(RUN, ttft_s=2, tpot_s=1) == pytest.approx(2 / span)


def test_stats_by_hand():
    s = metrics.stats([1.0, 2.0, 3.0, 4.0, None])
    assert s["n"] == 4 and s["mean"] == 2.5 and s["median"] == 2.5
    assert s["p90"] == pytest.approx(3.7)  # 1 + 0.9·3 = rank 3.7 → 3 + 0.7·1
    assert s["p99"] == pytest.approx(3.97)
    assert s["std"] == pytest.approx(math.sqrt(1.25))  # population std
    assert metrics.stats([]) is None


def test_summary_excludes_failures_from_latency_and_counts_them_by_kind():
    s = metrics.summarize(RUN, slo_ttft_s=0.6)
    assert s["requests"] == 3 and s["successful"] == 2 and s["failed"] == 1
    assert s["failures_by_kind"] == {"timeout": 1}
    assert s["ttft_s"]["n"] == 2 and s["ttft_s"]["mean"] == pytest.approx(0.75)
    assert s["e2e_s"]["max"] == pytest.approx(2.5)  # F's 4.0 s is not a latency
    assert s["itl_s"]["n"] == 5 and s["output_tokens"] == 16
    assert s["goodput_requests_per_s"] == pytest.approx(1 / 4.5)
    assert s["token_sources"] == {"server_usage": 2}
    assert s["per_request_acceptance"]["source"] == "proxy_tokens_per_chunk"
    assert "PROXY" in s["per_request_acceptance"]["note"]


def test_server_per_request_acceptance():
    spec = {"num_draft_tokens": 12, "num_accepted_draft_tokens": 6, "num_spec_steps": 4}
    r = rec(0, 0.1, 1.0, 10, [0.1, 0.5], spec=spec)
    a = metrics.request_acceptance(r)
    assert a == {
        "acceptance_rate": 0.5,  # 6 / 12
        "acceptance_length": 2.5,  # 1 + 6 / 4
        "tokens_per_step": 2.5,  # 10 / (10 − 6)
    }
    pra = metrics.per_request_acceptance([r, r])
    assert pra["source"] == "server_per_request" and pra["acceptance_rate_pooled"] == 0.5


@pytest.mark.parametrize("with_spec", [True, False])
@pytest.mark.parametrize("slo", [(None, None), (0.6, None), (None, 0.05), (0.6, 0.05)])
def test_the_tally_gives_what_summarize_gives(with_spec: bool, slo) -> None:
    """The columns a long bench keeps instead of its records: the same summary (ITL to the
    float32 it is stored in)."""
    import random

    rng = random.Random(7)
    records = []
    for i in range(200):
        start, first = 100 + i * 0.1, rng.uniform(0.1, 1.0)
        n = rng.randint(1, 20)
        chunks = sorted(first + rng.uniform(0, 2) for _ in range(n))
        spec = {"num_draft_tokens": 30, "num_accepted_draft_tokens": rng.randint(0, 30),
                "num_spec_steps": 10} if with_spec else None  # fmt: skip
        ok = i % 17 != 3
        records.append(rec(start, chunks[0], chunks[-1] + 0.01, n + 30 if ok else None, chunks,
                           ok=ok, kind=None if ok else "timeout", spec=spec))  # fmt: skip
    tally = metrics.Tally(*slo)
    for r in records:
        tally.add(r)
    want, got = metrics.summarize(records, *slo), tally.summary()
    assert close(got, want)


def close(got, want) -> bool:
    """Equal, numbers to float32's precision, dicts key by key."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(close(got[k], want[k]) for k in want)
        )
    if isinstance(want, float) and isinstance(got, int | float):
        return got == pytest.approx(want, rel=1e-6, abs=1e-9)
    return got == want


def test_a_full_reservoir_keeps_the_exact_moments_and_a_fair_sample() -> None:
    import numpy as np

    values = [float(i % 1000) for i in range(20_000)]
    r = metrics.Reservoir(cap=500, seed=1)
    for x in values:
        r.add(x)
    s = r.stats()
    assert r.filled == 500 and s["n"] == 20_000
    assert s["mean"] == pytest.approx(np.mean(values)) and s["std"] == pytest.approx(np.std(values))
    assert (s["min"], s["max"]) == (0.0, 999.0)
    assert abs(s["median"] - 499.5) < 60 and abs(s["p90"] - 899.5) < 40  # a uniform sample
