"""Statistics against values computed by hand (the arithmetic is in each comment)."""

from __future__ import annotations

import pytest

from specwise.quality import stats


def test_wilson_7_of_10():
    # p = .7, z² = 3.841459, denom = 1.3841459, centre = (.7 + .1920729)/denom = .644491,
    # half = 1.959964/denom · √(.021 + .0096036) = 1.416009 · .174939 = .247717
    low, high = stats.wilson(7, 10)
    assert low == pytest.approx(0.396773, abs=1e-5)
    assert high == pytest.approx(0.892208, abs=1e-5)


def test_wilson_edges():
    assert stats.wilson(0, 0) == (0.0, 1.0)
    low, high = stats.wilson(0, 10)  # centre = half = .1920729/1.3841459 = .138767
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(0.277533, abs=1e-5)


def test_win_rate_counts_ties_half():
    assert stats.win_rate(3, 2, 5) == pytest.approx(0.4)  # (3 + 1) / 10
    assert stats.win_rate(0, 0, 0) == 0.5


def test_sign_test():
    # P(X ≥ 8) for Bin(10, ½) = (45 + 10 + 1)/1024; two-sided doubles it: 112/1024
    assert stats.sign_test(8, 2) == pytest.approx(0.109375)
    assert stats.sign_test(5, 0) == pytest.approx(0.0625)  # 2 · (½)^5
    assert stats.sign_test(0, 0) == 1.0


def test_equivalence_needs_enough_pairs():
    # n = 100, r = .5: half = 1.959964/1.0384146 · √(.0025 + .00009604) = .096168
    wide = stats.equivalence(40, 20, 40)
    assert (wide.low, wide.high) == pytest.approx((0.403832, 0.596168), abs=1e-5)
    assert not wide.equivalent
    # n = 400, r = .5: half = 1.959964/1.0096036 · √(.000625 + .0000060) = .048766
    tight = stats.equivalence(160, 80, 160)
    assert (tight.low, tight.high) == pytest.approx((0.451234, 0.548766), abs=1e-5)
    assert tight.equivalent
    assert not stats.equivalence(160, 80, 160, margin=(0.46, 0.54)).equivalent


def test_equivalence_worse():
    eq = stats.equivalence(2, 4, 14)  # r = 4/20 = .2, interval far below ½
    assert eq.win_rate == pytest.approx(0.2)
    assert eq.worse and not eq.equivalent


def test_position_consistency():
    first = ["candidate", "tie", "baseline", "tie"]
    second = ["candidate", "baseline", "baseline", "candidate"]
    assert stats.position_consistency(first, second) == pytest.approx(0.5)
    assert stats.position_consistency([], []) is None


def test_cohen_kappa():
    # p_o = 3/4; marginals A: .5 vs .25, B: .5 vs .75 → p_e = .125 + .375 = .5; κ = .25/.5
    assert stats.cohen_kappa(list("AABB"), list("ABBB")) == pytest.approx(0.5)
    assert stats.cohen_kappa(list("AB"), list("AB")) == pytest.approx(1.0)
    # p_o = 0, p_e = .5 → κ = −1
    assert stats.cohen_kappa(list("AB"), list("BA")) == pytest.approx(-1.0)


def test_ks_separated_samples():
    # D = 1; exact p = 2 / C(8, 4) = 2/70
    assert stats.ks_test([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(2 / 70)
    assert stats.ks_test([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert stats.ks_test([], [1]) is None


def test_mcnemar_on_discordant_pairs():
    # b = 8, c = 2: P(B ≥ 8) for Bin(10, ½) = (45 + 10 + 1)/1024; two-sided doubles it
    assert stats.mcnemar(8, 2) == pytest.approx(112 / 1024)
    assert stats.mcnemar(0, 6) == pytest.approx(2 / 64)  # 2 · (½)^6
    assert stats.mcnemar(3, 3) == pytest.approx(1.0)
    assert stats.mcnemar(0, 0) == 1.0  # no discordant pair: nothing to test


def test_holm_by_hand():
    # sorted: .005 (×4 = .02), .01 (×3 = .03), .03 (×2 = .06), .04 (×1 = .04 → max so far .06)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # 2 × .5 = 1, capped at 1
    assert stats.holm([0.02]) == pytest.approx([0.02])  # a family of one: unadjusted
    assert stats.holm([]) == []
    # Holm is never stricter than Bonferroni and equals it for the smallest p
    assert stats.holm([0.001, 0.2, 0.3])[0] == pytest.approx(0.003)
