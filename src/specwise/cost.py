"""The cost model: what a configuration costs per token, per GPU, and at a latency SLO.

Per configuration (one arm at one concurrency and temperature):
    $/hour            = GPUs × $/GPU-hour
    $/1M output tok   = GPUs × $/GPU-hour / (output tok/s × 3600) × 1e6
    tok/s per GPU     = output tok/s / GPUs
    goodput per GPU   = requests/s meeting every SLO threshold / GPUs
A configuration meets the SLO when at least `target` (default 90 %) of its requests meet every
threshold (TTFT and TPOT); the largest concurrency meeting it is the fair capacity of an arm.
Comparisons: X = the paired throughput ratio arm / baseline in one cell, with its interval
(specwise.gains); Y = $/1M(arm) / $/1M(baseline) = ($/h(arm) / $/h(baseline)) / X, its interval
from X's. Without a price the GPU count stands in for it (an equal $/GPU-hour on both sides). An
arm with `gpus: 0` runs on CPU: it counts as one machine (its price is then $/machine-hour).
The theoretical check (i.i.d. acceptance α, k drafts; measured step-cost ratio r):
    E[tokens/step] = (1 − α^(k+1)) / (1 − α),  α solved from the measured AL = E
    r = time of a speculative step / time of a plain step
      = (TPOT_arm × tokens per step) / TPOT_baseline      (a step emits tokens-per-step tokens)
    predicted speedup = tokens per step / r
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from specwise.gains import Gain

SLO_TARGET = 0.9  # fraction of requests that must meet every SLO threshold


class Priced(Protocol):
    """What the cost model reads from one measured configuration."""

    arm: str
    gpus: int
    gpu_hour_usd: float | None


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


def meets_slo_target(fraction_ok: float | None, target: float = SLO_TARGET) -> bool | None:
    """A configuration meets the SLO when fraction_ok ≥ target; None when not measured."""
    return None if fraction_ok is None else fraction_ok >= target


def largest_concurrency_meeting_slo(
    points: Iterable[tuple[int, float | None]], target: float = SLO_TARGET
) -> int | None:
    """max{c : fraction of requests meeting the SLO at concurrency c ≥ target}, or None."""
    ok = [c for c, fraction in points if meets_slo_target(fraction, target)]
    return max(ok) if ok else None


def expected_tokens_per_step(alpha: float, k: int) -> float:
    """E[tokens/step] = (1 − α^(k+1)) / (1 − α) = 1 + α + … + α^k (k + 1 at α = 1)."""
    return float(k + 1) if alpha >= 1 else (1 - alpha ** (k + 1)) / (1 - alpha)


def iid_alpha(acceptance_length: float, k: int) -> float:
    """The i.i.d. per-token acceptance α with E[tokens/step](α, k) = AL, by bisection
    (E rises from 1 at α = 0 to k + 1 at α = 1); AL outside [1, k + 1] is clipped."""
    lo, hi = 0.0, 1.0
    target = min(max(acceptance_length, 1.0), k + 1.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected_tokens_per_step(mid, k) < target else (lo, mid)
    return (lo + hi) / 2


def step_cost_ratio(
    tpot_arm_s: float, tokens_per_step: float, tpot_baseline_s: float
) -> float | None:
    """r = (TPOT_arm × tokens per step) / TPOT_baseline: a speculative step's time over a plain
    decode step's (both arms at the same concurrency, each step emitting tokens-per-step)."""
    if tpot_baseline_s <= 0 or tokens_per_step <= 0:
        return None
    return tpot_arm_s * tokens_per_step / tpot_baseline_s


def predicted_speedup(tokens_per_step: float, step_cost: float) -> float:
    """speedup ≈ tokens per step / r (decode only: prefill and TTFT are left out)."""
    return tokens_per_step / step_cost


@dataclass(frozen=True)
class Comparison:
    """One arm against the baseline in one cell: throughput and cost ratios with intervals."""

    arm: str
    baseline: str
    arm_gpus: int
    baseline_gpus: int
    concurrency: int
    temperature: float
    throughput_ratio: float  # X = paired tok/s(arm) / tok/s(baseline)
    throughput_low: float
    throughput_high: float
    hourly_cost_ratio: float  # $/h(arm) / $/h(baseline) (GPU count when unpriced)
    token_cost_ratio: float  # Y = hourly_cost_ratio / X
    token_cost_low: float  # hourly / X_high
    token_cost_high: float  # hourly / X_low
    priced: bool  # both sides carry a $/GPU-hour
    verdict: str  # the gain's: pays | loses | break-even | inconclusive


def hourly_ratio(arm: Priced, base: Priced) -> tuple[float, bool] | None:
    """($/h(arm) / $/h(baseline), priced); the GPU counts stand in when a side has no price."""
    priced = arm.gpu_hour_usd is not None and base.gpu_hour_usd is not None
    if priced:
        a, b = usd_per_hour(arm.gpus, arm.gpu_hour_usd), usd_per_hour(base.gpus, base.gpu_hour_usd)
    else:
        a, b = float(units(arm.gpus)), float(units(base.gpus))
    return None if not b or a is None else (a / b, priced)


def compare(gain: Gain, arm: Priced, base: Priced) -> Comparison | None:
    """X and Y with intervals for a paired gain; None when it has no throughput ratio."""
    x, hourly = gain.throughput, hourly_ratio(arm, base)
    if x is None or hourly is None or x.estimate <= 0:
        return None
    cost, priced = hourly
    inv = lambda v: cost / v if v > 0 else float("inf")  # noqa: E731
    return Comparison(
        gain.arm, gain.baseline, arm.gpus, base.gpus, gain.concurrency, gain.temperature,
        x.estimate, x.low, x.high, cost, cost / x.estimate, inv(x.high), inv(x.low), priced,
        gain.verdict,
    )  # fmt: skip


def comparisons(found: Sequence[Gain], priced: dict[str, Priced]) -> list[Comparison]:
    """Every gain priced: `priced` maps an arm name to its GPU count and price."""
    out = []
    for g in found:
        if g.arm in priced and g.baseline in priced:
            c = compare(g, priced[g.arm], priced[g.baseline])
            if c is not None:
                out.append(c)
    return out


def headline(found: Sequence[Comparison]) -> Comparison | None:
    """The reference study's cost line, computed: at the lowest temperature and the highest
    concurrency measured (the loaded regime where GPUs are bought), the arm with the highest
    throughput ratio against the baseline."""
    if not found:
        return None
    t = min(c.temperature for c in found)
    at_t = [c for c in found if c.temperature == t]
    top = max(c.concurrency for c in at_t)
    return max((c for c in at_t if c.concurrency == top), key=lambda c: c.throughput_ratio)


def headline_text(c: Comparison) -> str:
    """ "<arm> on N GPU(s) delivers X % [lo, hi] of the M-GPU <baseline>'s throughput at Y %
    [lo, hi] of its cost"."""
    basis = "$/1M output tokens" if c.priced else "device-hours per 1M output tokens"
    base = "CPU" if c.baseline_gpus <= 0 else f"{c.baseline_gpus}-GPU"
    x = f"{c.throughput_ratio:.0%} [{c.throughput_low:.0%}, {c.throughput_high:.0%}]"
    y = f"{c.token_cost_ratio:.0%} [{c.token_cost_low:.0%}, {c.token_cost_high:.0%}]"
    return (
        f"{c.arm} on {device(c.arm_gpus)} delivers {x} of the {base} {c.baseline}'s throughput "
        f"at {y} of its cost ({basis}; concurrency {c.concurrency}, temperature "
        f"{c.temperature:g})"
    ).replace("%", " %")
