"""Paired gains: pairing, the bootstrap interval's coverage, and the four verdicts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from specwise import gains
from specwise.gains import RequestPoint, compare_points, pair_with_baseline, verdict
from specwise.results import Row, StudyData
from specwise.servers.prometheus import Acceptance


def points(e2e: list[float], repeat: int = 0, tokens: int = 32) -> list[RequestPoint]:
    return [RequestPoint(repeat, f"r{i}", True, tokens, 0.1, (e - 0.1) / (tokens - 1), e)
            for i, e in enumerate(e2e)]  # fmt: skip


def test_pairs_are_the_requests_both_answered():
    base = points([1.0, 1.0, 1.0, 1.0])
    arm = points([0.5, 0.5, 0.5])  # r3 missing
    arm[0] = RequestPoint(0, "r0", False, 0, None, None, None)  # r0 failed
    pairs = gains.paired(arm, base)
    assert [b.request_id for _, b in pairs] == ["r1", "r2"]
    other_repeat = points([0.5] * 4, repeat=1)
    assert gains.paired(other_repeat, base) == []  # (repeat, id) must match


def test_a_uniform_gain_pays_a_uniform_loss_loses():
    g = compare_points("a", "b", 1, 0.0, points([0.8] * 10), points([1.0] * 10))
    # 32 tokens both sides: X = Σ E2E(b) / Σ E2E(a) = 1.25, every resample the same
    assert (g.throughput.estimate, g.throughput.low, g.throughput.high) == pytest.approx(
        (1.25, 1.25, 1.25)
    )
    assert g.verdict == "pays" and g.pairs == 10
    assert g.e2e.estimate == pytest.approx(0.8) and g.ttft.estimate == pytest.approx(1.0)
    assert compare_points("a", "b", 1, 0.0, points([1.25] * 10), points([1.0] * 10)).verdict == (
        "loses"
    )


def test_break_even_needs_the_whole_interval_inside_the_margin():
    rng = np.random.default_rng(0)
    base = list(1.0 + 0.01 * rng.standard_normal(40))
    arm = list(1.0 + 0.01 * rng.standard_normal(40))
    g = compare_points("a", "b", 1, 0.0, points(arm), points(base))
    assert g.throughput.low >= 0.97 and g.throughput.high <= 1.03
    assert g.verdict == "break-even"
    noisy = [0.7, 1.3] * 5  # mean 1, ±30 %: an interval wider than 1 ± m on 10 pairs
    wide = compare_points("a", "b", 1, 0.0, points(noisy), points(base[:10]))
    assert wide.throughput.low < 0.97 and wide.throughput.high > 1.03
    assert wide.verdict == "inconclusive"


def test_too_few_pairs_are_inconclusive_whatever_the_ratio():
    g = compare_points("a", "b", 1, 0.0, points([0.5] * 7), points([1.0] * 7))
    assert g.throughput.estimate == pytest.approx(2.0) and g.verdict == "inconclusive"
    assert verdict(None, 100) == "inconclusive"


def test_verdict_boundaries():
    x = lambda lo, hi: gains.Interval((lo + hi) / 2, lo, hi)  # noqa: E731
    assert verdict(x(1.031, 1.2), 20) == "pays"
    assert verdict(x(1.03, 1.2), 20) == "inconclusive"  # touching 1 + m is not above it
    assert verdict(x(0.8, 0.969), 20) == "loses"
    assert verdict(x(0.97, 1.03), 20) == "break-even"
    assert verdict(x(0.96, 1.02), 20) == "inconclusive"
    assert verdict(x(1.01, 1.2), 20, margin=0.0) == "pays"


def test_intervals_cover_the_true_ratio_of_identical_arms():
    """A/A: both arms draw each request's E2E from the same skewed distribution (per-request
    prompt effects shared, noise independent); 300 cells of 16 pairs. A 95 % interval that
    covers 1 in fewer than 90 % of cells would call differences that are not there."""
    rng = np.random.default_rng(1)
    covered, decided_wrong = 0, 0
    for cell in range(300):
        prompt = rng.lognormal(0.0, 0.5, 16)  # how long each request takes on either arm
        a = prompt * rng.lognormal(0.0, 0.1, 16)
        b = prompt * rng.lognormal(0.0, 0.1, 16)
        g = compare_points("a", "b", cell, 0.0, points(list(a + 0.2)), points(list(b + 0.2)))
        covered += g.throughput.contains(1.0)
        decided_wrong += g.verdict in ("pays", "loses")
    assert covered / 300 >= 0.9
    assert decided_wrong / 300 <= 0.1


def row(arm: str, c: int, e2e: list[float], repeat: int = 0, k: int | None = None) -> Row:
    return Row(arm, c, 0.0, repeat=repeat, method="ngram" if k else None, k=k,
               points=points(e2e, repeat))  # fmt: skip


def test_pair_with_baseline_pools_repeats_and_skips_cells_without_a_baseline():
    rows = [
        row("base", 1, [1.0] * 5), row("base", 1, [1.0] * 5, repeat=1),
        row("spec", 1, [0.8] * 5), row("spec", 1, [0.8] * 5, repeat=1),
        row("spec", 4, [0.8] * 5),
    ]  # fmt: skip
    found = pair_with_baseline(StudyData("s", "base", rows))
    assert len(found) == 1
    g = found[0]
    assert (g.arm, g.baseline, g.concurrency, g.pairs) == ("spec", "base", 1, 10)
    assert g.verdict == "pays"  # 10 pooled pairs ≥ MIN_PAIRS; 5 per repeat alone would not be


def test_tokens_per_step_never_exceeds_the_acceptance_length():
    """A last step cut by max_tokens: accepted tokens the output never shows. 3 requests,
    10 drafting steps of which 8 accepted 1 token: generated 17 with 2 tokens cut."""
    acc = Acceptance(drafts=10, draft_tokens=30, accepted=8, accepted_per_position=(8, 0, 0),
                     generated=17, requests=3)  # fmt: skip
    # generated − accepted = 9 < drafts + requests = 13: steps = 13
    assert acc.steps == 13
    assert acc.tokens_per_step == pytest.approx(17 / 13)
    assert acc.tokens_per_step <= acc.acceptance_length == pytest.approx(1.8)
    whole = Acceptance(10, 30, 8, (8, 0, 0), 21, 3)  # nothing cut: 3 + 10 + 8 tokens
    assert whole.steps == 13 and whole.tokens_per_step == pytest.approx(21 / 13)


def turned(e2e: list[float], block: int, repeat: int = 0) -> list[RequestPoint]:
    """Points sent in turns of `block` requests (what an interleaved sweep stores)."""
    return [RequestPoint(repeat, f"r{i}", True, 32, 0.1, (e - 0.1) / 31, e, 0, i // block)
            for i, e in enumerate(e2e)]  # fmt: skip


def test_the_turn_interval_by_hand():
    """Three turns of two requests: turn ratios 1.0, 1.1, 1.2 (the arm's E2E 1/X of the
    baseline's); y_j = log X_j, s² = Σ (y − ȳ)² / 2, interval X · exp(± t_2 · s / √3)."""
    from scipy import stats

    ratios = [1.0, 1.1, 1.2]
    base = turned([1.0] * 6, 2)
    arm = turned([1 / x for x in ratios for _ in range(2)], 2)
    y = np.log(ratios)
    assert gains.turn_log_ratios(gains.paired(arm, base)) == pytest.approx(y)
    spread = gains.turn_spread([gains.paired(arm, base)])
    assert (spread.ss, spread.df) == (pytest.approx(((y - y.mean()) ** 2).sum()), 2)
    g = compare_points("a", "b", 1, 0.0, arm, base)
    x = 6 / sum(1 / r for r in ratios for _ in range(2))  # Σ tokens / Σ E2E, tokens alike
    half = stats.t.ppf(0.975, 2) * np.sqrt(spread.ss / 2) / np.sqrt(3)
    assert (g.throughput.estimate, g.throughput.low, g.throughput.high) == pytest.approx(
        (x, x * np.exp(-half), x * np.exp(half))
    )
    wider = gains.TurnSpread(spread.ss * 4, 2)  # a pooled spread given replaces the cell's own
    g4 = compare_points("a", "b", 1, 0.0, arm, base, spread=wider)
    assert g4.throughput.high == pytest.approx(x * np.exp(2 * half))


def test_turn_intervals_cover_when_requests_of_a_turn_drift_together():
    """An A/A machine whose speed drifts turn by turn (each arm's turn slowed by its own
    factor, sd 8 %, shared by the turn's requests, as in a batch): the turn interval covers 1
    in ≥ 90 % of 200 cells; the bootstrap over requests, blind to the drift, far less."""
    rng = np.random.default_rng(5)
    turn_cover = boot_cover = 0
    cells = []
    for _ in range(200):
        e2e = rng.lognormal(0, 0.3, size=12)  # the requests' own lengths, paired
        slow = lambda: np.repeat(rng.lognormal(0, 0.08, size=3), 4)  # noqa: E731
        cells.append((turned(list(e2e * slow()), 4), turned(list(e2e * slow()), 4)))
    spread = gains.turn_spread([gains.paired(a, b) for a, b in cells])
    for a, b in cells:
        x = compare_points("a", "b", 4, 0.0, a, b, spread=spread).throughput
        one_turn = [replace(p, turn=0) for p in b]  # the same data as a single block
        xb = compare_points("a", "b", 4, 0.0, a, one_turn).throughput
        turn_cover += x.contains(1.0)
        boot_cover += xb.contains(1.0)
    assert turn_cover >= 180 and boot_cover < 150


def test_the_cell_term_by_hand_and_on_a_bootstrap_interval():
    """τ enters as √(t_ν² s² / turns + z² τ² / R); a bootstrap interval's log sides widen alike."""
    from scipy import stats

    ratios = [1.0, 1.1, 1.2]
    base = turned([1.0] * 6, 2)
    arm = turned([1 / x for x in ratios for _ in range(2)], 2)
    spread = gains.turn_spread([gains.paired(arm, base)])
    g = compare_points("a", "b", 1, 0.0, arm, base, cell_noise=0.05)
    x = g.throughput.estimate
    turn = stats.t.ppf(0.975, 2) ** 2 * spread.ss / 2 / 3
    half = np.sqrt(turn + (stats.norm.ppf(0.975) * 0.05) ** 2)
    assert (g.throughput.low, g.throughput.high) == pytest.approx(
        (x * np.exp(-half), x * np.exp(half))
    )
    flat = points([0.8] * 10)  # one turn, every pair alike: a bootstrap interval of width 0
    b = compare_points("a", "b", 1, 0.0, flat, points([1.0] * 10), cell_noise=0.05)
    z = stats.norm.ppf(0.975) * 0.05
    assert (b.throughput.low, b.throughput.high) == pytest.approx(
        (1.25 * np.exp(-z), 1.25 * np.exp(z))
    )


def test_the_cell_term_restores_coverage_when_a_whole_cell_runs_fast():
    """An A/A machine where, besides turn drift, one server is faster for a whole cell
    (sd 4 % in log X, as the A/A studies measured): the turn interval alone covers 1 too rarely;
    with τ = 0.04 it covers in ≥ 90 % of 200 cells."""
    rng = np.random.default_rng(11)
    cells = []
    for _ in range(200):
        e2e = rng.lognormal(0, 0.3, size=8)
        effect = rng.lognormal(0, 0.04)  # this cell: server a's speed relative to b's
        slow = lambda: np.repeat(rng.lognormal(0, 0.03, size=4), 2)  # noqa: E731
        cells.append((turned(list(e2e * slow() * effect), 2), turned(list(e2e * slow()), 2)))
    spread = gains.turn_spread([gains.paired(a, b) for a, b in cells])
    bare = sum(
        compare_points("a", "b", 1, 0.0, a, b, spread=spread).throughput.contains(1.0)
        for a, b in cells
    )
    with_cell = sum(
        compare_points("a", "b", 1, 0.0, a, b, spread=spread, cell_noise=0.04).throughput.contains(
            1.0
        )
        for a, b in cells
    )
    assert bare < 170 and with_cell >= 180


def test_an_arm_whose_turns_spread_more_than_the_pool_uses_its_own_spread():
    """Two arms at one concurrency: one steady, one whose gain swings ±20 % from turn to turn.
    The swinging arm gets its own (larger) spread, not the pooled one; the steady arm the pool."""
    base = turned([1.0] * 12, 2)
    steady = turned([1 / 1.1] * 12, 2)
    swings = turned([1 / x for x in [0.9, 1.3] * 3 for _ in range(2)], 2)
    pooled = gains.turn_spread([gains.paired(steady, base), gains.paired(swings, base)])
    own = gains.turn_spread([gains.paired(swings, base)])
    assert own.df == 5 and own.s2 > pooled.s2
    g = compare_points("a", "b", 1, 0.0, swings, base, spread=pooled)
    mine = compare_points("a", "b", 1, 0.0, swings, base, spread=own)
    assert (g.throughput.low, g.throughput.high) == (mine.throughput.low, mine.throughput.high)
    calm = compare_points("a", "b", 1, 0.0, steady, base, spread=pooled)
    assert calm.throughput.high - calm.throughput.low > 0  # the pool's spread, not its own 0


def test_an_arm_that_stopped_keeps_the_spread_its_stop_was_decided_on():
    """Adaptive sampling: "fast" stopped after look 0; "noisy" went on for a look whose turns
    swing wildly. fast's interval pools the spread of look 0 only (what its stop saw), so the
    later look of another arm cannot flip the verdict it stopped at."""

    def at(points: list[RequestPoint], look: int, first: int) -> list[RequestPoint]:
        return [replace(p, look=look, request_id=f"r{first + i}", turn=first // 2 + p.turn)
                for i, p in enumerate(points)]  # fmt: skip

    wobble = [1.0, 1.02, 0.98, 1.01] * 2  # turns of 2: small spread
    base0, base1 = at(turned([1.0] * 8, 2), 0, 0), at(turned([1.0] * 8, 2), 1, 8)
    fast = at(turned([0.8 * w for w in wobble], 2), 0, 0)
    noisy0 = at(turned([0.9 * w for w in wobble], 2), 0, 0)
    noisy1 = at(turned([0.5, 0.5, 1.5, 1.5] * 2, 2), 1, 8)
    rows = [Row("base", 1, 0.0, points=base0 + base1), Row("fast", 1, 0.0, points=fast),
            Row("noisy", 1, 0.0, points=noisy0 + noisy1)]  # fmt: skip
    found = {g.arm: g for g in pair_with_baseline(StudyData("s", "base", rows, cell_noise=0.0))}
    look0 = gains.turn_spread([gains.paired(fast, base0), gains.paired(noisy0, base0)])
    alone = compare_points("fast", "base", 1, 0.0, fast, base0 + base1, spread=look0)
    assert found["fast"].throughput == alone.throughput and found["fast"].verdict == "pays"
    everything = gains.turn_spread(
        [gains.paired(fast, base0 + base1), gains.paired(noisy0 + noisy1, base0 + base1)]
    )
    assert everything.s2 > 10 * look0.s2  # with it, fast's interval would be far wider
