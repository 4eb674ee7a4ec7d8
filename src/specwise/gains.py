"""Paired gains of each arm over the baseline, with intervals and a verdict per cell.

A cell = (concurrency, temperature); its repeats are pooled. A pair = one request answered
successfully by both the arm and the baseline in the same cell and repeat, keyed by
(repeat, request id): the sweep sends every arm the same draws.
    throughput ratio  X = (Σ out_a / Σ E2E_a) / (Σ out_b / Σ E2E_b)
        (the token rate of the paired requests; at c = 1 it is the arms' throughput ratio,
        at c > 1 it is throughput / c by Little's law, so the ratio is the same)
    latency ratio     L = mean(latency_a) / mean(latency_b)    for TTFT, TPOT and E2E
Intervals, 95 % (adaptive sampling: 1 − 0.05/K, see adaptive.py):
  X, measured in turns (an interleaved sweep: the arms take turns of a few requests, the same
  requests in turn j of every arm): a t interval on the turns. y_j = log X_j of turn j's
  paired requests; s² = Σ (y_j − ȳ_cell)² / ν pooled over the cells at this concurrency (every
  arm, temperature and repeat: the machine's drift between turns is the same for all arms),
  ν = Σ (turns_cell − 1), or the cell's own s² where it has ≥ 4 df and is larger (an arm
  whose gain varies more from request to request than the others');
  interval = X · exp(± √(t_ν² s² / turns + z² τ² / R)). Requests of one turn run together
  (at c > 1 in one batch), so the turn, not the request, is the independent unit; the A/A
  study (benchmarks/aa) measured a bootstrap over requests covering 1 too rarely.
  τ = the study's `cell_noise`: the sd of log X between cells of two identical servers beyond
  what their turns explain (one server a few % faster for a whole cell, then not; no analysis
  inside one cell sees it), measured by the A/A study; R = the repeats pooled.
  X of a cell in one turn (a sequential sweep), and every latency ratio: percentile bootstrap
  over the pairs, B = 2000 resamples with replacement, the same resampled indices for both
  arms and every metric (the pairing is kept), seeded by the cell so a report is
  reproducible; it does not see drift between one arm's block and the next's. X's bootstrap
  interval is widened by τ too: each side's log half-width h becomes √(h² + (z τ)² / R).
Verdict on X with a practical margin m (default 0.03):
    pays          X_low  > 1 + m
    loses         X_high < 1 − m
    break-even    1 − m ≤ X_low and X_high ≤ 1 + m
    inconclusive  otherwise, or fewer than MIN_PAIRS pairs
"""

from __future__ import annotations

import hashlib
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from specwise.results import Row, StudyData

RESAMPLES = 2000
CONFIDENCE = 0.95
MIN_PAIRS = 8
DEFAULT_MARGIN = 0.03
OWN_DF = 4  # a cell's own turn spread replaces the pooled one from this many df (wider_spread)
# τ, the sd of log X between cells of identical servers that the turns do not explain: 0.035,
# pooled from two A/A studies on the 2-core dev machine (benchmarks/aa/RESULTS.md); a study's
# `cell_noise` sets it for another machine (benchmarks/aa/coverage.py estimates it)
DEFAULT_CELL_NOISE = 0.035
PAYS, LOSES, BREAK_EVEN, INCONCLUSIVE = "pays", "loses", "break-even", "inconclusive"
DECIDED = (PAYS, LOSES, BREAK_EVEN)


@dataclass(frozen=True)
class RequestPoint:
    """What the paired statistics read of one measured request."""

    repeat: int
    request_id: str
    ok: bool
    output_tokens: int
    ttft_s: float | None
    tpot_s: float | None
    e2e_s: float | None
    look: int = 0
    turn: int = 0  # the block of an interleaved run it was sent in

    @property
    def turn_key(self) -> tuple[int, int, int]:
        return (self.repeat, self.look, self.turn)


@dataclass(frozen=True)
class TurnSpread:
    """Pooled within-cell spread of turn log ratios: s² = ss / df, df = Σ (turns − 1)."""

    ss: float
    df: int

    def __add__(self, other: TurnSpread) -> TurnSpread:
        return TurnSpread(self.ss + other.ss, self.df + other.df)

    @property
    def s2(self) -> float:
        return self.ss / self.df


@dataclass(frozen=True)
class Interval:
    """A ratio (arm / baseline) and its interval (95 %, or the study's confidence)."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Gain:
    """One arm against the baseline in one cell: the paired ratios and the verdict on X."""

    arm: str
    baseline: str
    concurrency: int
    temperature: float
    pairs: int
    throughput: Interval | None  # X
    ttft: Interval | None
    tpot: Interval | None
    e2e: Interval | None
    verdict: str
    margin: float

    @property
    def decided(self) -> bool:
        return self.verdict in DECIDED


def paired(
    arm: Sequence[RequestPoint], base: Sequence[RequestPoint]
) -> list[tuple[RequestPoint, RequestPoint]]:
    """(arm, baseline) points of the requests both answered, in the baseline's order."""
    mine = {(p.repeat, p.request_id): p for p in arm if p.ok and p.e2e_s}
    return [
        (mine[k], b) for b in base if b.ok and b.e2e_s and (k := (b.repeat, b.request_id)) in mine
    ]


Pairs = list[tuple[RequestPoint, RequestPoint]]


def turn_log_ratios(both: Pairs) -> np.ndarray:
    """y_j = log X_j, X_j = X over the pairs of turn j (the baseline's turn), in turn order."""
    turns: dict[tuple[int, int, int], list[tuple[RequestPoint, RequestPoint]]] = defaultdict(list)
    for a, b in both:
        turns[b.turn_key].append((a, b))
    y = []
    for key in sorted(turns):
        pairs = turns[key]
        rate_a = sum(a.output_tokens for a, _ in pairs) / sum(a.e2e_s or 0 for a, _ in pairs)
        rate_b = sum(b.output_tokens for _, b in pairs) / sum(b.e2e_s or 0 for _, b in pairs)
        if rate_a > 0 and rate_b > 0:
            y.append(np.log(rate_a / rate_b))
    return np.array(y, dtype=float)


def turn_spread(cells: Sequence[Pairs]) -> TurnSpread | None:
    """The pooled spread of the cells' turn log ratios; None unless some cell has 2 turns."""
    ss, df = 0.0, 0
    for both in cells:
        y = turn_log_ratios(both)
        if y.size >= 2:
            ss, df = ss + float(((y - y.mean()) ** 2).sum()), df + y.size - 1
    return TurnSpread(ss, df) if df else None


def wider_spread(pooled: TurnSpread | None, own: TurnSpread | None) -> TurnSpread | None:
    """The pooled spread, or the cell's own where it has ≥ OWN_DF degrees of freedom and is
    the larger: a method whose gain varies more from request to request than the other arms'
    (n-gram's does) must not borrow their narrower spread."""
    if pooled is None or (own is not None and own.df >= OWN_DF and own.s2 > pooled.s2):
        return own
    return pooled


def turn_interval(
    x: float,
    turns: int,
    spread: TurnSpread,
    confidence: float = CONFIDENCE,
    cell_noise: float = 0.0,
    repeats: int = 1,
) -> Interval:
    """X · exp(± √(t_ν² s² / turns + z² τ² / R)), s² = spread.ss / ν, ν = spread.df,
    τ = cell_noise: each term with its own quantile (τ is a constant, not estimated here)."""
    from scipy import stats

    tail = 1 - (1 - confidence) / 2
    turn = stats.t.ppf(tail, spread.df) ** 2 * spread.ss / spread.df / turns
    half = np.sqrt(turn + (stats.norm.ppf(tail) * cell_noise) ** 2 / repeats)
    return Interval(float(x), float(x * np.exp(-half)), float(x * np.exp(half)))


def widen(x: Interval, cell_noise: float, repeats: int, confidence: float = CONFIDENCE) -> Interval:
    """Each side's log half-width h → √(h² + (z τ)² / R): the cell term on a bootstrap interval."""
    from scipy import stats

    if cell_noise <= 0 or x.estimate <= 0 or x.low <= 0:
        return x
    extra = (stats.norm.ppf(1 - (1 - confidence) / 2) * cell_noise) ** 2 / repeats
    low = np.sqrt(np.log(x.estimate / x.low) ** 2 + extra)
    high = np.sqrt(np.log(x.high / x.estimate) ** 2 + extra)
    return Interval(x.estimate, float(x.estimate * np.exp(-low)), float(x.estimate * np.exp(high)))


def resample_indices(n: int, seed: str, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, n) indices drawn with replacement; the seed string fixes them."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little")
    return np.random.default_rng(digest).integers(0, n, size=(resamples, n))


def percentile_interval(
    estimate: float, samples: np.ndarray, confidence: float = CONFIDENCE
) -> Interval:
    """[q(α/2), q(1 − α/2)] of the bootstrap samples, α = 1 − confidence."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def rate_ratio(
    tok_a: np.ndarray, e2e_a: np.ndarray, tok_b: np.ndarray, e2e_b: np.ndarray, idx: np.ndarray
) -> tuple[float, np.ndarray]:
    """X = (Σ out_a / Σ E2E_a) / (Σ out_b / Σ E2E_b), for the data and for each resample."""
    x = (tok_a.sum() / e2e_a.sum()) / (tok_b.sum() / e2e_b.sum())
    boot = (tok_a[idx].sum(1) / e2e_a[idx].sum(1)) / (tok_b[idx].sum(1) / e2e_b[idx].sum(1))
    return float(x), boot


def mean_ratio(
    a: np.ndarray, b: np.ndarray, idx: np.ndarray, confidence: float = CONFIDENCE
) -> Interval | None:
    """L = mean(a) / mean(b) over the pairs where both are defined, with its interval."""
    undefined = np.isnan(a) | np.isnan(b)
    if (~undefined).sum() < 2 or b[~undefined].sum() <= 0:
        return None
    a, b = np.where(undefined, np.nan, a), np.where(undefined, np.nan, b)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample of undefined pairs only
        boot = np.nanmean(a[idx], 1) / np.nanmean(b[idx], 1)
    return percentile_interval(np.nanmean(a) / np.nanmean(b), boot, confidence)


def verdict(x: Interval | None, pairs: int, margin: float = DEFAULT_MARGIN) -> str:
    """pays / loses / break-even / inconclusive from X's interval (see the module docstring)."""
    if x is None or pairs < MIN_PAIRS:
        return INCONCLUSIVE
    if x.low > 1 + margin:
        return PAYS
    if x.high < 1 - margin:
        return LOSES
    if 1 - margin <= x.low and x.high <= 1 + margin:
        return BREAK_EVEN
    return INCONCLUSIVE


def _column(points: Sequence[RequestPoint], name: str) -> np.ndarray:
    return np.array(
        [np.nan if getattr(p, name) is None else getattr(p, name) for p in points], dtype=float
    )


def compare_points(
    arm: str,
    base: str,
    concurrency: int,
    temperature: float,
    arm_points: Sequence[RequestPoint],
    base_points: Sequence[RequestPoint],
    margin: float = DEFAULT_MARGIN,
    confidence: float = CONFIDENCE,
    spread: TurnSpread | None = None,
    cell_noise: float = 0.0,
) -> Gain:
    """The Gain of one arm over the baseline from the two arms' points in one cell. `spread`:
    the pooled turn spread at this concurrency (default: this cell's own); X's interval is the
    turn one when the cell has 2 turns or more, else the bootstrap's; both carry the cell term
    τ = `cell_noise` over the repeats pooled."""
    both = paired(arm_points, base_points)
    n = len(both)
    empty = Gain(
        arm, base, concurrency, temperature, n, None, None, None, None, INCONCLUSIVE, margin
    )
    if n < 2:
        return empty
    a, b = [p for p, _ in both], [q for _, q in both]
    idx = resample_indices(n, f"{arm}|{base}|{concurrency}|{temperature:g}")
    tok_a, tok_b = _column(a, "output_tokens"), _column(b, "output_tokens")
    x, boot = rate_ratio(tok_a, _column(a, "e2e_s"), tok_b, _column(b, "e2e_s"), idx)
    turns = len({q.turn_key for _, q in both})
    repeats = len({q.repeat for _, q in both})
    spread = wider_spread(spread, turn_spread([both]))
    if turns >= 2 and spread is not None:
        throughput = turn_interval(x, turns, spread, confidence, cell_noise, repeats)
    else:
        throughput = percentile_interval(x, boot, confidence)
        throughput = widen(throughput, cell_noise, repeats, confidence)
    latency = {
        m: mean_ratio(_column(a, m), _column(b, m), idx, confidence)
        for m in ("ttft_s", "tpot_s", "e2e_s")
    }
    return Gain(
        arm,
        base,
        concurrency,
        temperature,
        n,
        throughput,
        latency["ttft_s"],
        latency["tpot_s"],
        latency["e2e_s"],
        verdict(throughput, n, margin),
        margin,
    )


def pair_with_baseline(data: StudyData, reference: dict[str, str] | None = None) -> list[Gain]:
    """THE pairing function: every arm other than its reference (default: the study's baseline)
    against that reference in every cell both measured, repeats pooled, the turn spread pooled
    per concurrency over those cells as they stood at the arm's last look (adaptive sampling:
    the spread its stop was decided on, so later looks of other arms do not flip a verdict it
    stopped at); sorted by arm, T, c."""
    cells: dict[tuple[str, int, float], list[Row]] = defaultdict(list)
    for r in data.done:
        cells[(r.arm, r.concurrency, r.temperature)].append(r)
    compared: list[tuple[str, str, int, float, list[RequestPoint], list[RequestPoint]]] = []
    for (arm, c, t), rows in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        ref = data.baseline if reference is None else reference.get(arm)
        base_rows = cells.get((ref, c, t)) if ref else None
        if ref is None or arm == ref or not base_rows:
            continue
        points = [p for r in rows for p in r.points]
        compared.append((arm, ref, c, t, points, [p for r in base_rows for p in r.points]))
    spreads: dict[tuple[int, int], TurnSpread | None] = {}
    found = []
    for arm, ref, c, t, a, b in compared:
        last = max((p.look for p in a), default=0)
        if (c, last) not in spreads:
            spreads[(c, last)] = turn_spread(
                [paired(through_look(a2, last), through_look(b2, last))
                 for _, _, c2, _, a2, b2 in compared if c2 == c]
            )  # fmt: skip
        spread = spreads[(c, last)]
        found.append(compare_points(arm, ref, c, t, a, b, data.margin, data.confidence, spread,
                                    data.cell_noise))  # fmt: skip
    return found


def through_look(points: Sequence[RequestPoint], look: int) -> list[RequestPoint]:
    """The points measured in looks 0 … look."""
    return [p for p in points if p.look <= look]


def gain_text(x: Interval | None) -> str:
    """ "+38 % [+21, +55]" for X = 1.38 [1.21, 1.55]; "n/a" when there is none."""
    if x is None:
        return "n/a"
    pct = lambda v: f"{(v - 1) * 100:+.0f}"  # noqa: E731
    return f"{pct(x.estimate)} % [{pct(x.low)}, {pct(x.high)}]"


def ratio_text(x: Interval | None, spec: str = ".2f") -> str:
    """ "1.38× [1.21, 1.55]" ; "n/a" when there is none."""
    if x is None:
        return "n/a"
    return f"{x.estimate:{spec}}× [{x.low:{spec}}, {x.high:{spec}}]"
