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
        "acceptance_length": 1 + accepted / steps if steps else float("nan"),
        "tokens_per_step": out / (out - accepted) if out > accepted else float("nan"),
    }


def span_s(records: Sequence[RequestRecord]) -> float:
    """span = max(end) − min(start) over the measured records (failed ones included)."""
    if not records:
        return 0.0
    return max(r.ended_at for r in records) - min(r.started_at for r in records)


def output_tokens_per_s(
    records: Sequence[RequestRecord], span: float | None = None
) -> float | None:
    """Output tok/s = Σ output_tokens (successful requests) / span."""
    span = span_s(records) if span is None else span
    return sum(r.output_tokens or 0 for r in records if r.ok) / span if span > 0 else None


def requests_per_s(records: Sequence[RequestRecord], span: float | None = None) -> float | None:
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
        "output_tokens_per_s": output_tokens_per_s(records, span),
        "requests_per_s": requests_per_s(records, span),
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


class Reservoir:
    """A column of one metric in bounded memory: every value enters n, mean, std (Chan's
    merge of batch moments), min and max; percentiles come from a uniform sample of at most
    `cap` values (reservoir sampling, seeded), exact while n ≤ cap. Values are folded in with
    numpy every BATCH of them (one Python call per value is the client's hot path).
    float32 sample: ~7 significant digits."""

    BATCH = 4096

    def __init__(self, cap: int, seed: int = 0) -> None:
        from array import array

        self.cap, self.rng = cap, np.random.default_rng(seed)
        self.sample, self.filled = np.empty(cap, dtype=np.float32), 0
        self.pending = array("d")
        self.n, self.mean_, self.m2 = 0, 0.0, 0.0
        self.lo, self.hi = float("inf"), float("-inf")

    def add(self, x: float | None) -> None:
        if x is not None:
            self.pending.append(x)
            if len(self.pending) >= self.BATCH:
                self.fold()

    def extend(self, xs: Sequence[float]) -> None:
        self.pending.extend(xs)
        if len(self.pending) >= self.BATCH:
            self.fold()

    def fold(self) -> None:
        """Merge the pending values: moments, extremes, and the sample (algorithm R)."""
        x = np.frombuffer(self.pending, dtype=float).copy()
        del self.pending[:]
        x = x[~np.isnan(x)]
        if not x.size:
            return
        n_a, k = self.n, x.size
        mean_b = float(x.mean())
        delta = mean_b - self.mean_
        self.n = n_a + k
        self.mean_ += delta * k / self.n
        self.m2 += float(((x - mean_b) ** 2).sum()) + delta * delta * n_a * k / self.n
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        room = min(self.cap - self.filled, k)
        self.sample[self.filled : self.filled + room] = x[:room]
        self.filled += room
        rest, first = x[room:], n_a + room + 1  # 1-based index of the first value not kept yet
        if rest.size:  # value i (1-based) replaces a random slot with probability cap / i
            slots = (self.rng.random(rest.size) * np.arange(first, first + rest.size)).astype(int)
            keep = slots < self.cap
            self.sample[slots[keep]] = rest[keep]

    def stats(self) -> dict[str, float] | None:
        """stats()'s keys: n, mean, std and the extremes over every value, the median and
        percentiles over the sample."""
        self.fold()
        if not self.n:
            return None
        v = self.sample[: self.filled].astype(float)
        out = {"n": self.n, "mean": self.mean_, "median": float(np.median(v))}
        out |= {f"p{p}": float(np.percentile(v, p)) for p in PERCENTILES}
        return out | {"std": (self.m2 / self.n) ** 0.5, "min": self.lo, "max": self.hi}


class Tally:
    """The run aggregates of `summarize`, kept as bounded columns instead of records, so a long
    run's memory stays flat: each finished record adds its per-request metrics (the functions
    above) to Reservoirs and is dropped. summary() gives what summarize() gives for the same
    records (exactly while a column holds ≤ its cap: REQUESTS_CAP requests, ITL_CAP gaps)."""

    REQUESTS_CAP, ITL_CAP = 100_000, 200_000

    def __init__(self, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None) -> None:
        self.slo = (slo_ttft_s, slo_tpot_s)
        self.n = self.good = 0
        self.first_start, self.last_end = float("inf"), float("-inf")
        self.kinds: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.output_tokens = self.prompt_tokens = 0
        names = ("ttft", "tpot", "e2e", "per_user", "out", "tpc", "alpha", "al", "tps")
        self.cols = {k: Reservoir(self.REQUESTS_CAP, seed=i) for i, k in enumerate(names)}
        self.itl = Reservoir(self.ITL_CAP, seed=99)
        self.drafted = self.accepted = 0
        self.all_spec = True

    def add(self, r: RequestRecord) -> None:
        self.n += 1
        self.first_start = min(self.first_start, r.started_at)
        self.last_end = max(self.last_end, r.ended_at)
        if not r.ok:
            self.kinds[r.error_kind or "unknown"] += 1
            return
        self.sources[r.token_source or "none"] += 1
        self.output_tokens += r.output_tokens or 0
        self.prompt_tokens += r.prompt_tokens or 0
        self.good += meets_slo(r, *self.slo)
        c = self.cols
        for key, value in (("ttft", ttft(r)), ("tpot", tpot(r)), ("e2e", e2e(r)),
                           ("per_user", per_user_tokens_per_s(r)), ("out", r.output_tokens),
                           ("tpc", tokens_per_chunk(r))):  # fmt: skip
            c[key].add(None if value is None else float(value))
        self.itl.extend(itl(r))
        acc = request_acceptance(r)
        if acc is None:
            self.all_spec = False
            return
        for key, name in (("alpha", "acceptance_rate"), ("al", "acceptance_length"),
                          ("tps", "tokens_per_step")):  # fmt: skip
            c[key].add(acc[name])
        self.drafted += r.spec_decode["num_draft_tokens"]  # type: ignore[index]
        self.accepted += r.spec_decode["num_accepted_draft_tokens"]  # type: ignore[index]

    def summary(self) -> dict[str, Any]:
        """summarize()'s dict from the columns."""
        ok = sum(self.sources.values())
        span = max(0.0, self.last_end - self.first_start) if self.n else 0.0
        per_s = (lambda x: x / span) if span > 0 else (lambda x: None)
        slo = any(x is not None for x in self.slo)
        c = self.cols
        if ok and self.all_spec:
            per_request: dict[str, Any] = {
                "source": "server_per_request",
                "acceptance_rate_pooled": self.accepted / self.drafted if self.drafted else None,
                "acceptance_rate": c["alpha"].stats(),
                "acceptance_length": c["al"].stats(),
                "tokens_per_step": c["tps"].stats(),
            }
        else:
            per_request = {
                "source": "proxy_tokens_per_chunk",
                "note": "PROXY: output tokens / streamed chunks, not the server's acceptance",
                "tokens_per_chunk": c["tpc"].stats(),
            }
        return {
            "requests": self.n, "successful": ok, "failed": self.n - ok,
            "failures_by_kind": dict(self.kinds), "token_sources": dict(self.sources),
            "duration_s": span, "output_tokens": self.output_tokens,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens_per_s": per_s(self.output_tokens), "requests_per_s": per_s(ok),
            "goodput_requests_per_s": per_s(self.good) if slo else None,
            "slo": {"ttft_s": self.slo[0], "tpot_s": self.slo[1]},
            "ttft_s": c["ttft"].stats(), "tpot_s": c["tpot"].stats(), "itl_s": self.itl.stats(),
            "e2e_s": c["e2e"].stats(), "per_user_tokens_per_s": c["per_user"].stats(),
            "output_tokens_per_request": c["out"].stats(),
            "per_request_acceptance": per_request,
        }  # fmt: skip
