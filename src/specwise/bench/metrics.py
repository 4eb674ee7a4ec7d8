"""One metric, one formula. Inputs are `RequestRecord`s; times in seconds, rates per second.

Per request (successful records only; failures never enter latency statistics):
    TTFT = first content chunk − start          E2E = last byte − start
    TPOT = (E2E − TTFT) / (out − 1)             ITL = gaps between consecutive content chunks
    per-user tok/s = (out − 1) / (E2E − TTFT) = 1 / TPOT
Per run (over the measured records; span = last end − first start, or Σ of the blocks' spans
for a run measured in blocks with other arms' turns between them):
    output tok/s = Σ out / span     request/s = n_ok / span
    goodput      = n_ok meeting every SLO / span
Statistics: mean, median, p90/p95/p99 (linear interpolation), std (population, ddof = 0).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from specwise.bench.client import RequestRecord

PERCENTILES = (90, 95, 99)


def ttft(r: RequestRecord) -> float | None:
    """TTFT = time of the first content chunk − request start."""
    return r.ttft_s


def e2e(r: RequestRecord) -> float | None:
    """E2E = time of the last byte − request start."""
    return r.e2e_s


def tpot(r: RequestRecord) -> float | None:
    """TPOT = (E2E − TTFT) / (output_tokens − 1); undefined for fewer than 2 tokens."""
    if r.ttft_s is None or r.e2e_s is None or not r.output_tokens or r.output_tokens < 2:
        return None
    return (r.e2e_s - r.ttft_s) / (r.output_tokens - 1)


def itl(r: RequestRecord) -> list[float]:
    """ITL_j = t(chunk j) − t(chunk j−1); a chunk may carry several tokens under speculation."""
    t = r.chunk_times_s
    return [b - a for a, b in itertools.pairwise(t)]


def per_user_tokens_per_s(r: RequestRecord) -> float | None:
    """Per-user tok/s = (output_tokens − 1) / (E2E − TTFT) = 1 / TPOT (the decode speed seen)."""
    t = tpot(r)
    return 1.0 / t if t else None


def tokens_per_chunk(r: RequestRecord) -> float | None:
    """PROXY of tokens per target step = output_tokens / content chunks (one chunk ≈ one step)."""
    if not r.chunk_times_s or not r.output_tokens:
        return None
    return r.output_tokens / len(r.chunk_times_s)


def request_acceptance(r: RequestRecord) -> dict[str, float] | None:
    """The server's own per-request acceptance (vLLM `metrics.speculative_decoding`):
    α = accepted / drafted tokens; AL = 1 + accepted / verify steps;
    tokens per step (all steps) = out / (out − accepted)."""
    s = r.spec_decode
    if not s or not s.get("num_draft_tokens"):
        return None
    accepted, out = s["num_accepted_draft_tokens"], r.output_tokens or 0
    steps = s.get("num_spec_steps") or 0
    return {
        "acceptance_rate": accepted / s["num_draft_tokens"],
        "mean_acceptance_length": 1 + accepted / steps if steps else float("nan"),
        "tokens_per_step": out / (out - accepted) if out > accepted else float("nan"),
    }


def span_s(records: Sequence[RequestRecord]) -> float:
    """span = max(end) − min(start) over the measured records (failed ones included)."""
    if not records:
        return 0.0
    return max(r.ended_at for r in records) - min(r.started_at for r in records)


def output_throughput(records: Sequence[RequestRecord], span: float | None = None) -> float | None:
    """Output tok/s = Σ output_tokens (successful requests) / span."""
    span = span_s(records) if span is None else span
    return sum(r.output_tokens or 0 for r in records if r.ok) / span if span > 0 else None


def request_throughput(records: Sequence[RequestRecord], span: float | None = None) -> float | None:
    """Request/s = successful requests / span."""
    span = span_s(records) if span is None else span
    return sum(r.ok for r in records) / span if span > 0 else None


def meets_slo(r: RequestRecord, ttft_s: float | None, tpot_s: float | None) -> bool:
    """A request meets the SLO when it succeeded, TTFT ≤ ttft_s and TPOT ≤ tpot_s (if given)."""
    if not r.ok:
        return False
    if ttft_s is not None and (r.ttft_s is None or r.ttft_s > ttft_s):
        return False
    t = tpot(r)
    return tpot_s is None or t is None or t <= tpot_s


def goodput(
    records: Sequence[RequestRecord],
    ttft_s: float | None,
    tpot_s: float | None,
    span: float | None = None,
) -> float | None:
    """Goodput = requests meeting every SLO threshold / span."""
    span = span_s(records) if span is None else span
    return sum(meets_slo(r, ttft_s, tpot_s) for r in records) / span if span > 0 else None


def stats(values: Iterable[float | None]) -> dict[str, float] | None:
    """n, mean, median, p90, p95, p99 (linear interpolation), std (ddof 0), min, max."""
    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    if v.size == 0:
        return None
    out = {"n": int(v.size), "mean": float(v.mean()), "median": float(np.median(v))}
    out |= {f"p{p}": float(np.percentile(v, p)) for p in PERCENTILES}
    return out | {"std": float(v.std()), "min": float(v.min()), "max": float(v.max())}


def failures_by_kind(records: Iterable[RequestRecord]) -> dict[str, int]:
    """Count of failed requests per error kind."""
    return dict(Counter(r.error_kind or "unknown" for r in records if not r.ok))


def token_sources(records: Iterable[RequestRecord]) -> dict[str, int]:
    """How the output tokens of successful requests were counted (server_usage, tokenizer, …)."""
    return dict(Counter(r.token_source or "none" for r in records if r.ok))


def per_request_acceptance(ok: Sequence[RequestRecord]) -> dict[str, Any]:
    """Server-reported per-request acceptance where every request has it, else the proxy."""
    server = [request_acceptance(r) for r in ok]
    if ok and all(s is not None for s in server):
        drafted = sum(r.spec_decode["num_draft_tokens"] for r in ok)  # type: ignore[index]
        accepted = sum(r.spec_decode["num_accepted_draft_tokens"] for r in ok)  # type: ignore[index]
        return {
            "source": "server_per_request",
            "acceptance_rate_pooled": accepted / drafted if drafted else None,
            **{k: stats(s[k] for s in server) for k in server[0]},  # type: ignore[index]
        }
    return {
        "source": "proxy_tokens_per_chunk",
        "note": "PROXY: output tokens / streamed chunks, not the server's acceptance",
        "tokens_per_chunk": stats(tokens_per_chunk(r) for r in ok),
    }


def summarize(
    records: Sequence[RequestRecord],
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    span: float | None = None,
) -> dict[str, Any]:
    """All run aggregates in one JSON-ready dict (latencies over successful requests only);
    `span`: the measuring time when it is not last end − first start (a run in blocks)."""
    ok = [r for r in records if r.ok]
    span = span_s(records) if span is None else span
    return {
        "requests": len(records),
        "successful": len(ok),
        "failed": len(records) - len(ok),
        "failures_by_kind": failures_by_kind(records),
        "token_sources": token_sources(records),
        "duration_s": span,
        "output_tokens": sum(r.output_tokens or 0 for r in ok),
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in ok),
        "output_tokens_per_s": output_throughput(records, span),
        "requests_per_s": request_throughput(records, span),
        "goodput_requests_per_s": goodput(records, slo_ttft_s, slo_tpot_s, span)
        if slo_ttft_s is not None or slo_tpot_s is not None
        else None,
        "slo": {"ttft_s": slo_ttft_s, "tpot_s": slo_tpot_s},
        "ttft_s": stats(ttft(r) for r in ok),
        "tpot_s": stats(tpot(r) for r in ok),
        "itl_s": stats(x for r in ok for x in itl(r)),
        "e2e_s": stats(e2e(r) for r in ok),
        "per_user_tokens_per_s": stats(per_user_tokens_per_s(r) for r in ok),
        "output_tokens_per_request": stats(r.output_tokens for r in ok),
        "per_request_acceptance": per_request_acceptance(ok),
    }
