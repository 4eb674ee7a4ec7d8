"""Adaptive sampling (`requests: auto`): how many requests a cell still needs, and why it stopped.

A cell (temperature, concurrency, repeat) is measured in looks. Look 0 sends `floor` requests to
every arm, each later look `step` more (the next requests of the cell's own slice of the
workload, the same for every arm), to the arms still undecided and the baseline, until the cap:
    looks K = 1 + ⌈(cap − floor) / step⌉
After each look, an arm stops when its paired gain over the baseline (gains.compare_points on
every look so far) is
    decided      pays, loses or break-even, or
    precise      half-width (high − low) / 2 ≤ half_width × estimate, or
    capped       the cell holds `cap` requests.
Error control: every interval of an adaptive study is taken at confidence 1 − α/K (Bonferroni
over the K looks), so stopping at whichever look first decides keeps the chance of a false
"pays" or "loses" below α = 5 % per cell, whatever look it stops at.
Cost: the arms' servers all stay up (`schedule: interleaved`), one warm server per arm, so a
look costs only its requests; the memory of every server at once is the price.
"""

from __future__ import annotations

import math

from specwise.gains import Gain

ALPHA = 0.05


def looks(floor: int, step: int, cap: int) -> int:
    """K = 1 + ⌈(cap − floor) / step⌉: the most looks a cell can take."""
    return 1 + max(0, math.ceil((cap - floor) / step))


def confidence(k: int) -> float:
    """1 − α/K: the per-look confidence that keeps K looks' error at α (Bonferroni)."""
    return 1 - ALPHA / k


def look_slice(look: int, floor: int, step: int, cap: int) -> tuple[int, int]:
    """(start, count) of look `look` within its cell's slice: [0, floor), then `step` more each."""
    if look == 0:
        return 0, min(floor, cap)
    start = floor + (look - 1) * step
    return start, max(0, min(step, cap - start))


def stop_reason(gain: Gain, measured: int, cap: int, half_width: float) -> str | None:
    """Why an arm needs no more requests in this cell, or None while it does."""
    x = gain.throughput
    if gain.decided:
        return f"decided ({gain.verdict}) after {measured} requests"
    if x is not None and (x.high - x.low) / 2 <= half_width * x.estimate:
        return f"half-width ±{(x.high - x.low) / 2 / x.estimate:.1%} ≤ ±{half_width:.0%}"
    if measured >= cap:
        return f"cap of {cap} requests reached, still {gain.verdict}"
    return None
