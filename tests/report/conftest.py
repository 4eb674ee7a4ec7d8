"""A synthetic study shaped like the reference one (2-GPU baseline, a 1-GPU plain arm, EAGLE-3
k = 3 and 5 on one GPU, concurrency 1–32, T ∈ {0, 0.5}) with a planted script in a model output."""

from __future__ import annotations

import pytest

from specwise.gains import RequestPoint
from specwise.results import QualityVerdict, Row, StudyData
from specwise.servers.prometheus import Acceptance

PLANTED = '<script>document.title="PWNED";window.__pwned=1</script><b>bold?</b>'


def _stats(median: float) -> dict[str, float]:
    return {"n": 16, "mean": median * 1.05, "median": median, "p90": median * 1.4,
            "p95": median * 1.6, "p99": median * 2.0, "std": median * 0.2,
            "min": median * 0.5, "max": median * 2.1}  # fmt: skip


def points(c: int, t: float, tpot: float, n: int = 16) -> list[RequestPoint]:
    """n requests of 64 tokens (the same ids for every arm of a cell); E2E varies ±10 %."""
    out = []
    for i in range(n):
        wobble = 1 + 0.1 * ((i * 7) % 5 - 2) / 2
        ttft = 0.02 * c
        out.append(RequestPoint(0, f"q{c}-{t:g}-{i}", True, 64, ttft, tpot * wobble,
                                ttft + 63 * tpot * wobble))  # fmt: skip
    return out


def acceptance(alpha: float, k: int, n: int = 16) -> Acceptance:
    """Counters of 16 × 64 tokens where each drafting step accepts α·k tokens on average."""
    drafts = 400
    accepted = round(drafts * alpha * k)
    per_pos = tuple(round(drafts * alpha ** (i + 1) * 1.3) for i in range(k))
    return Acceptance(drafts, drafts * k, accepted, per_pos, 64 * n, n)


def make_row(arm: str, c: int, t: float, gpus: int, method: str | None, k: int | None,
             gain: float, alpha: float | None) -> Row:  # fmt: skip
    """Throughput saturates with concurrency; speculation's gain shrinks as the batch grows."""
    base_tok = 60.0 * c / (1 + c / 12) * (1.6 if gpus == 2 else 1.0)
    g = 1 + (gain - 1) / (1 + c / 16)
    tok = base_tok * g * (0.92 if t else 1.0)
    tpot = c / base_tok / g
    per_pos = None if alpha is None else [alpha ** (i + 1) * 1.3 for i in range(k or 0)]
    return Row(
        arm=arm, concurrency=c, temperature=t, gpus=gpus, gpu_hour_usd=2.5, method=method, k=k,
        requests=16, successful=16, output_tokens_per_s=tok, requests_per_s=tok / 100,
        goodput_requests_per_s=tok / 100 * (1.0 if tpot < 0.045 else 0.5),
        slo_fraction=1.0 if tpot < 0.045 else 0.5,
        ttft_s=_stats(0.02 * c), tpot_s=_stats(tpot), e2e_s=_stats(0.02 * c + 100 * tpot),
        per_user_tokens_per_s=_stats(1 / tpot),
        acceptance_rate=alpha, acceptance_length=None if alpha is None else 1 + alpha * (k or 0),
        tokens_per_step=None if alpha is None else 1 + alpha * 1.5,
        per_position_rates=per_pos,
        request_lengths=[] if alpha is None else [1 + alpha * (k or 0) * (0.5 + i / 16)
                                                  for i in range(16)],
        request_lengths_source=None if alpha is None else "server_per_request",
        token_sources={"server_usage": 16},
        acceptance=None if alpha is None else acceptance(alpha, k or 0),
        points=points(c, t, tpot),
        samples=[PLANTED if (arm, c, t) == ("eagle3-k3", 1, 0.0) else f"Order A-{c} shipped."],
    )  # fmt: skip


@pytest.fixture
def study() -> StudyData:
    arms = [("nim-2gpu", 2, None, None, 1.0, None), ("vllm-1gpu", 1, None, None, 1.0, None),
            ("eagle3-k3", 1, "eagle3", 3, 1.7, 0.36),
            ("eagle3-k5", 1, "eagle3", 5, 1.5, 0.25)]  # fmt: skip
    rows = [
        make_row(arm, c, t, gpus, method, k, gain, alpha)
        for arm, gpus, method, k, gain, alpha in arms
        for t in (0.0, 0.5)
        for c in (1, 4, 16, 32)
    ]
    rows.append(Row(arm="eagle3-k5", concurrency=64, temperature=0.0, status="failed",
                    reason="server crashed: <b>CUDA</b> out of memory"))  # fmt: skip
    rows[0].failures_by_kind = {"timeout": 1}
    rows[0].errors = ["timeout: no byte for 120 s </td><script>alert(1)</script>"]
    return StudyData(
        name="paper-like", baseline="nim-2gpu", rows=rows, slo_ttft_ms=1000, slo_tpot_ms=50,
        conditions={"hardware": "1×H100 (synthetic)", "command · eagle3-k3": "vllm serve m"},
        cell_noise=0.0,  # synthetic: no machine between its cells
        arms={name: {"name": name, "speculative_config": {"method": "eagle3", "model": "h",
                                                          "num_speculative_tokens": k}}
              for name, k in (("eagle3-k3", 3), ("eagle3-k5", 5))},
        verdicts=[QualityVerdict("eagle3-k3", 0.0, "equivalent", "identical 40/40"),
                  QualityVerdict("eagle3-k3", 0.5, "equivalent", "judge 4.1 vs 4.0"),
                  QualityVerdict("eagle3-k5", 0.0, "equivalent"),
                  QualityVerdict("eagle3-k5", 0.5, "not shown equivalent")],
    )  # fmt: skip
