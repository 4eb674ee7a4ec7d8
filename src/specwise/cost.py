"""The cost model: what a configuration costs per token, per GPU, and at a latency SLO.

Per configuration (one arm at one concurrency and temperature):
    $/hour            = GPUs × $/GPU-hour
    $/1M output tok   = GPUs × $/GPU-hour / (output tok/s × 3600) × 1e6
    tok/s per GPU     = output tok/s / GPUs
    goodput per GPU   = requests/s meeting every SLO threshold / GPUs
A configuration meets the SLO when at least `target` (default 90 %) of its requests meet every
threshold (TTFT and TPOT); the largest concurrency meeting it is the fair capacity of an arm.
Comparisons (the headline): X = tok/s(arm) / tok/s(baseline) at equal concurrency and
temperature; Y = $/1M(arm) / $/1M(baseline) = ($/h(arm) / $/h(baseline)) / X. Without a price the
GPU count stands in for it (an equal $/GPU-hour on both sides). An arm with `gpus: 0` runs on
CPU: it counts as one machine (its price is then $/machine-hour).
The theoretical check (i.i.d. acceptance α, k drafts, draft cost c = draft step / target step):
    E[tokens/step] = (1 − α^(k+1)) / (1 − α)        speedup ≈ E / (k·c + 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

SLO_TARGET = 0.9  # fraction of requests that must meet every SLO threshold


class Priced(Protocol):
    """What the cost model reads from one measured configuration."""

    arm: str
    gpus: int
    gpu_hour_usd: float | None
    concurrency: int
    temperature: float
    output_tokens_per_s: float | None
    speculative: bool


def units(gpus: int) -> int:
    """What is billed: the GPUs, or one machine for a CPU arm (gpus = 0)."""
    return gpus if gpus > 0 else 1


def device(gpus: int) -> str:
    return "CPU" if gpus <= 0 else f"{gpus} GPU" + ("s" if gpus > 1 else "")


def usd_per_hour(gpus: int, gpu_hour_usd: float | None) -> float | None:
    """$/hour = GPUs × $/GPU-hour."""
    return None if gpu_hour_usd is None else units(gpus) * gpu_hour_usd


def usd_per_million_tokens(
    gpus: int, gpu_hour_usd: float | None, tokens_per_s: float | None
) -> float | None:
    """$/1M output tokens = GPUs × $/GPU-hour / (output tok/s × 3600) × 1e6."""
    hourly = usd_per_hour(gpus, gpu_hour_usd)
    if hourly is None or not tokens_per_s:
        return None
    return hourly / (tokens_per_s * 3600) * 1e6


def per_gpu(value: float | None, gpus: int) -> float | None:
    """value / GPUs (tok/s per GPU, goodput per GPU); per machine for a CPU arm."""
    return None if value is None else value / units(gpus)


def meets_slo(fraction_ok: float | None, target: float = SLO_TARGET) -> bool | None:
    """A configuration meets the SLO when fraction_ok ≥ target; None when not measured."""
    return None if fraction_ok is None else fraction_ok >= target


def largest_concurrency_meeting_slo(
    points: Iterable[tuple[int, float | None]], target: float = SLO_TARGET
) -> int | None:
    """max{c : fraction of requests meeting the SLO at concurrency c ≥ target}, or None."""
    ok = [c for c, fraction in points if meets_slo(fraction, target)]
    return max(ok) if ok else None


def expected_tokens_per_step(alpha: float, k: int) -> float:
    """E[tokens/step] = (1 − α^(k+1)) / (1 − α) = 1 + α + … + α^k (k + 1 at α = 1)."""
    return float(k + 1) if alpha >= 1 else (1 - alpha ** (k + 1)) / (1 - alpha)


def theoretical_speedup(alpha: float, k: int, c: float) -> float:
    """speedup ≈ E[tokens/step] / (k·c + 1)."""
    return expected_tokens_per_step(alpha, k) / (k * c + 1)


def fit_draft_cost(points: Iterable[tuple[float, int, float]]) -> float | None:
    """Least-squares c from (α, k, measured speedup S): k·c + 1 ≈ E/S, so
    c = Σ k·(E/S − 1) / Σ k², clipped at 0 (a draft is never cheaper than free)."""
    num = den = 0.0
    for alpha, k, speedup in points:
        if speedup > 0 and k > 0:
            num += k * (expected_tokens_per_step(alpha, k) / speedup - 1)
            den += k * k
    return max(0.0, num / den) if den else None


@dataclass(frozen=True)
class Comparison:
    """One arm against the baseline at equal concurrency and temperature."""

    arm: str
    baseline: str
    arm_gpus: int
    baseline_gpus: int
    concurrency: int
    temperature: float
    throughput_ratio: float  # X = tok/s(arm) / tok/s(baseline)
    hourly_cost_ratio: float  # $/h(arm) / $/h(baseline) (GPU count when unpriced)
    token_cost_ratio: float  # Y = hourly_cost_ratio / X
    priced: bool  # both sides carry a $/GPU-hour


def compare(arm: Priced, base: Priced) -> Comparison | None:
    """X and Y for `arm` against `base`; None when a throughput or a GPU count is missing."""
    if not arm.output_tokens_per_s or not base.output_tokens_per_s:
        return None
    priced = arm.gpu_hour_usd is not None and base.gpu_hour_usd is not None
    if priced:
        hourly = (
            usd_per_hour(arm.gpus, arm.gpu_hour_usd),
            usd_per_hour(base.gpus, base.gpu_hour_usd),
        )
    else:
        hourly = float(units(arm.gpus)), float(units(base.gpus))
    if not hourly[1]:
        return None
    x = arm.output_tokens_per_s / base.output_tokens_per_s
    cost = hourly[0] / hourly[1]  # type: ignore[operator]
    return Comparison(
        arm.arm,
        base.arm,
        arm.gpus,
        base.gpus,
        arm.concurrency,
        arm.temperature,
        x,
        cost,
        cost / x,
        priced,
    )


def comparisons(rows: Sequence[Priced], baseline: str) -> list[Comparison]:
    """Every speculative arm against the baseline wherever both measured (concurrency, T)."""
    base = {(r.concurrency, r.temperature): r for r in rows if r.arm == baseline}
    out = []
    for r in rows:
        b = base.get((r.concurrency, r.temperature))
        if r.arm != baseline and r.speculative and b is not None:
            cmp = compare(r, b)
            if cmp is not None:
                out.append(cmp)
    return out


def headline(rows: Sequence[Priced], baseline: str) -> Comparison | None:
    """The reference study's line, computed: at the lowest temperature and the highest
    concurrency both measured (the loaded regime where GPUs are bought), the speculative arm
    with the highest throughput against the baseline."""
    found = comparisons(rows, baseline)
    if not found:
        return None
    t = min(c.temperature for c in found)
    at_t = [c for c in found if c.temperature == t]
    top = max(c.concurrency for c in at_t)
    return max((c for c in at_t if c.concurrency == top), key=lambda c: c.throughput_ratio)


def headline_text(c: Comparison) -> str:
    """ "<arm> on N GPU(s) delivers X % of the M-GPU <baseline>'s throughput at Y % of its cost"."""
    basis = "$/1M output tokens" if c.priced else "device-hours per 1M output tokens"
    base = "CPU" if c.baseline_gpus <= 0 else f"{c.baseline_gpus}-GPU"
    return (
        f"{c.arm} on {device(c.arm_gpus)} delivers {c.throughput_ratio:.0%} of the "
        f"{base} {c.baseline}'s throughput at {c.token_cost_ratio:.0%} of its cost "
        f"({basis}; concurrency {c.concurrency}, temperature {c.temperature:g})"
    ).replace("%", " %")
