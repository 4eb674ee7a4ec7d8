"""Verdict rules per arm × temperature, the judge's gate and Holm over the run's tests."""

from __future__ import annotations

import pytest

from specwise.quality.exact import ExactSummary
from specwise.quality.judge import counts
from specwise.quality.verdict import (
    DIFFERS,
    EQUIVALENT,
    NOT_SHOWN,
    UNRELIABLE,
    Family,
    family_tests,
    holm_family,
    judge_gate,
    verdict,
)

GOOD_GATE = judge_gate(400, 400, 20, 20)


def summary(pairs: int, identical: int, **classes: int) -> ExactSummary:
    return ExactSummary(pairs, identical, {"identical": identical, **classes}, 0, 0)


def judged(w: int, t: int, l: int, inconsistent: int = 0) -> dict[str, int]:  # noqa: E741
    outcomes = ["win"] * w + ["tie"] * t + ["loss"] * l + ["inconsistent"] * inconsistent
    return counts([{"outcome": o} for o in outcomes])


def test_inconsistent_judgments_are_no_information():
    c = judged(10, 20, 10, inconsistent=60)
    assert (c["ties_total"], c["n"], c["decided"], c["consistent"]) == (20, 40, 100, 40)
    c = counts([{"outcome": "identical"}, {"outcome": "unparsable"}, {"outcome": "tie"}])
    assert (c["ties_total"], c["n"], c["decided"]) == (2, 2, 1)


def test_all_identical_is_equivalent_without_a_judge():
    assert verdict(0.0, summary(40, 40)).label == EQUIVALENT
    # the gate is not needed when nothing differs, even a failed one
    assert verdict(0.7, summary(40, 40), judged(0, 0, 0), gate=judge_gate(0, 0, 0, 0)).label == (
        EQUIVALENT
    )


def test_truncation_at_t0_differs():
    v = verdict(0.0, summary(40, 0, truncated=40))
    assert v.label == DIFFERS and "40 truncated" in v.reason


def test_near_ties_alone_never_differ():
    v = verdict(0.0, summary(40, 21, near_tie=19))
    assert v.label == NOT_SHOWN and "no judge" in v.reason


def test_one_real_change_in_40_is_tolerated_but_many_are_not():
    assert verdict(0.0, summary(40, 39, real=1)).label == NOT_SHOWN  # Wilson low ≈ .004
    assert verdict(0.0, summary(40, 30, real=10)).label == DIFFERS  # Wilson low ≈ .14


def test_gate_position_consistency():
    # 0/400 consistent: Wilson [0, .0095]
    g = judge_gate(400, 0, 20, 20)
    assert not g.passed and g.consistency == 0.0
    assert "position consistency 0.00 [0.00, 0.01] on 400 decided pairs" in g.reason
    assert ">= 0.8" in g.reason
    # 20/20: Wilson low = (1 + .096)/1.192 − 1.644 · .049 = .839 ≥ .8; 19/20: low .764
    assert judge_gate(20, 20, 20, 20).passed
    assert not judge_gate(20, 19, 20, 20).passed
    g = judge_gate(19, 19, 20, 20)  # too few decided pairs, however consistent
    assert not g.passed and "only 19 decided pairs" in g.reason
    assert g.consistency_interval == pytest.approx((0.8318, 1.0), abs=1e-3)


def test_gate_positive_control():
    assert judge_gate(100, 100, 18, 20).passed  # 90 %
    g = judge_gate(100, 100, 17, 20)
    assert not g.passed and "17/20 planted pairs (85%)" in g.reason
    g = judge_gate(100, 100, 9, 9)  # too few planted pairs, however well judged
    assert not g.passed and "only 9 planted pairs" in g.reason
    assert judge_gate(100, 100, 10, 10).passed
    both = judge_gate(100, 0, 0, 20)
    assert "position consistency" in both.reason and "0/20" in both.reason
    assert both.to_dict()["consistency_interval"] == list(both.consistency_interval)


def test_a_position_biased_judge_is_unreliable_not_equivalent():
    s = summary(400, 0, near_tie=400)
    c = judged(0, 0, 0, inconsistent=400)  # always "A": both orders disagree every time
    v = verdict(0.0, s, c, gate=judge_gate(c["decided"], c["consistent"], 20, 20))
    assert v.label == UNRELIABLE and "position consistency 0.00" in v.reason
    # the old rule counted these as ties: 0/400/0 → win rate .5 [.451, .549] "equivalent"


def test_an_ungated_judge_decides_nothing():
    s = summary(400, 0, near_tie=400)
    v = verdict(0.0, s, judged(160, 80, 160))
    assert v.label == UNRELIABLE and "no position-consistency" in v.reason
    failed = judge_gate(400, 400, 3, 20)  # consistent, but fooled by planted answers
    assert verdict(0.0, s, judged(5, 10, 385), gate=failed).label == UNRELIABLE  # not "differs"
    assert verdict(0.0, s, judged(160, 80, 160), gate=failed).label == UNRELIABLE


def test_gated_judge_equivalence_and_preference():
    s = summary(400, 0, near_tie=400)
    v = verdict(0.0, s, judged(160, 80, 160), gate=GOOD_GATE)
    assert v.label == EQUIVALENT and "n = 400" in v.reason
    wide = verdict(0.0, s, judged(40, 20, 40), gate=GOOD_GATE)
    assert wide.label == NOT_SHOWN and "0.404" in wide.reason
    v = verdict(0.0, s, judged(5, 10, 25), gate=GOOD_GATE)  # sign p = .0003, baseline wins
    assert v.label == DIFFERS and "Holm-adjusted p = 0.00032 over 1 test" in v.reason
    # inconsistent pairs are out of n: 40 pairs are too few however many are inconsistent
    assert verdict(0.0, s, judged(16, 8, 16, 360), gate=GOOD_GATE).label == NOT_SHOWN


def test_a_bench_aa_control_that_is_not_equivalent_blocks_the_claim():
    s = summary(400, 0, near_tie=400)
    v = verdict(0.0, s, judged(160, 80, 160), control=judged(4, 2, 4), gate=GOOD_GATE)
    assert v.label == NOT_SHOWN and "A/A" in v.reason


def test_distributions_at_t_above_zero_with_holm():
    s = summary(100, 0)
    v = verdict(0.5, s, None, {"ks_length": 0.001, "tool_choice": 0.9, "json_valid": None})
    assert v.label == DIFFERS and "KS" in v.reason and "Holm-adjusted p = 0.002 over 2" in v.reason
    # .03 and .02 alone would pass; Holm over three: .02 × 3 = .06, max(.06, .03 × 2) = .06
    p = {"ks_length": 0.03, "tool_choice": 0.02, "json_valid": 0.9}
    assert verdict(0.5, s, None, p).label == NOT_SHOWN
    assert verdict(0.5, s, None, {"ks_length": 0.03}).label == DIFFERS  # a family of one
    # the run's family decides: the same p, adjusted over more groups, is not enough
    family = Family({"ks_length": 0.09}, 3)
    assert verdict(0.5, s, None, {"ks_length": 0.03}, family=family).label == NOT_SHOWN
    v = verdict(0.5, s, None, {"tool_choice": 0.001}, family=Family({"tool_choice": 0.004}, 4))
    assert v.label == DIFFERS and "McNemar" in v.reason and "0.004 over 4 tests" in v.reason


def test_family_members_and_holm_across_groups():
    s = summary(100, 0)
    dist = {"ks_length": 0.01, "tool_choice": None, "json_valid": 0.2}
    assert family_tests(0.5, s, None, dist) == {"ks_length": 0.01, "json_valid": 0.2}
    assert family_tests(0.0, s, None, dist) == {}  # distributions only decide at T > 0
    assert set(family_tests(0.5, s, judged(3, 0, 9), dist, GOOD_GATE)) == {
        "ks_length",
        "json_valid",
        "sign",
    }
    failed = judge_gate(0, 0, 0, 0)
    assert "sign" not in family_tests(
        0.5, s, judged(3, 0, 9), dist, failed
    )  # its judge decides nothing
    assert "sign" not in family_tests(0.5, s, judged(0, 9, 0), dist, GOOD_GATE)  # no non-ties
    one, two = holm_family([{"ks_length": 0.01, "sign": 0.04}, {"ks_length": 0.02}])
    # sorted .01 (×3), .02 (×2), .04 (×1): .03, .04, max(.04, .04)
    assert one.adjusted == pytest.approx({"ks_length": 0.03, "sign": 0.04})
    assert two.adjusted == pytest.approx({"ks_length": 0.04})
    assert one.size == two.size == 3
