"""Statistics for quality preservation: one statistic, one function, its formula in the docstring.

Counts come from paired comparisons, candidate (speculative arm) vs baseline (no speculation):
w = candidate better, t = tie (identical outputs included), l = baseline better, n = w + t + l.
A position-inconsistent judgment (the two orders disagree) carries no information: it is in
none of w, t, l.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

DEFAULT_MARGIN = (0.45, 0.55)


def z_for(confidence: float = 0.95) -> float:
    """z = Φ⁻¹(1 − (1 − confidence) / 2); 1.959964 for 95 %."""
    return float(stats.norm.ppf(1 - (1 - confidence) / 2))


def wilson(k: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion p̂ = k / n (k may be fractional: ties counted half).

    centre = (p̂ + z²/2n) / (1 + z²/n),  half = z / (1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²).
    For n = 0 the interval is the whole [0, 1].
    """
    if n == 0:
        return 0.0, 1.0
    z, p = z_for(confidence), k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def win_rate(w: int, t: int, l: int) -> float:  # noqa: E741 (w/t/l is the field's notation)
    """r = (w + t/2) / n: the candidate's win rate with ties counted half (0.5 = no difference)."""
    n = w + t + l
    return (w + t / 2) / n if n else 0.5


def sign_test(w: int, l: int) -> float:  # noqa: E741
    """Two-sided exact sign test on the non-ties: p = P(|W − m/2| ≥ |w − m/2|), W ~ Bin(m, ½),
    m = w + l (scipy.stats.binomtest). 1.0 when there are no non-ties."""
    if w + l == 0:
        return 1.0
    return float(stats.binomtest(w, w + l, 0.5).pvalue)


@dataclass
class Equivalence:
    """The equivalence verdict on a win rate: its Wilson interval must lie inside the margin."""

    win_rate: float
    low: float
    high: float
    margin: tuple[float, float]
    n: int

    @property
    def equivalent(self) -> bool:
        return self.n > 0 and self.margin[0] <= self.low and self.high <= self.margin[1]

    @property
    def worse(self) -> bool:
        """The whole interval below ½: the candidate loses more than it wins."""
        return self.n > 0 and self.high < 0.5


def equivalence(
    w: int,
    t: int,
    l: int,  # noqa: E741
    margin: tuple[float, float] = DEFAULT_MARGIN,
    confidence: float = 0.95,
) -> Equivalence:
    """Equivalent iff the Wilson interval of r = (w + t/2)/n lies inside [margin_lo, margin_hi]
    (a TOST-style check at level (1 − confidence)/2 per side for a two-sided interval)."""
    n = w + t + l
    low, high = wilson(w + t / 2, n, confidence)
    return Equivalence(win_rate(w, t, l), low, high, margin, n)


def position_consistency(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Share of pairs whose verdict survives the swap: (1/n) Σ [v₁ᵢ = v₂ᵢ], with both verdicts
    already mapped to the same labels (baseline / candidate / tie). None for no pairs."""
    if not first:
        return None
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's κ between two raters: κ = (p_o − p_e) / (1 − p_e), p_o = observed agreement,
    p_e = Σ_c p_a(c)·p_b(c) (chance agreement from the marginals). 1.0 when p_e = 1 and the
    raters agree; None for no items."""
    if not a:
        return None
    labels = sorted(set(a) | set(b))
    x = np.array([labels.index(v) for v in a])
    y = np.array([labels.index(v) for v in b])
    p_o = float(np.mean(x == y))
    p_e = sum(float(np.mean(x == c)) * float(np.mean(y == c)) for c in range(len(labels)))
    if p_e == 1.0:
        return 1.0 if p_o == 1.0 else 0.0
    return (p_o - p_e) / (1 - p_e)


def ks_test(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sample Kolmogorov–Smirnov p-value on D = sup_x |F_a(x) − F_b(x)| (scipy ks_2samp,
    exact for small samples). None when either side is empty."""
    if not a or not b:
        return None
    return float(stats.ks_2samp(a, b).pvalue)


def mcnemar(b: int, c: int) -> float:
    """Exact McNemar test for paired binary outcomes (the same requests under both arms), on the
    discordant pairs only: b = right for the baseline only, c = right for the candidate only.
    Under H₀ (same rate) B ~ Bin(b + c, ½): p = P(|B − m/2| ≥ |b − m/2|), m = b + c
    (scipy.stats.binomtest, two-sided). 1.0 when there are no discordant pairs."""
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order. With p₍₁₎ ≤ … ≤ p₍ₘ₎ sorted,
    p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1) · p₍ⱼ₎); rejecting every H with p̃ < α keeps the
    family-wise error rate at α over all m tests."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [1.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
