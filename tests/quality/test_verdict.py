"""Verdict rules per arm × temperature."""

from __future__ import annotations

from specwise.quality.exact import ExactSummary
from specwise.quality.verdict import DIFFERS, EQUIVALENT, NOT_SHOWN, verdict


def summary(pairs: int, identical: int, **classes: int) -> ExactSummary:
    return ExactSummary(pairs, identical, {"identical": identical, **classes}, 0, 0)


def judged(w: int, t: int, l: int, inconsistent: int = 0) -> dict[str, int]:  # noqa: E741
    return {
        "win": w,
        "tie": t,
        "loss": l,
        "inconsistent": inconsistent,
        "identical": 0,
        "unparsable": 0,
        "ties_total": t + inconsistent,
    }


def test_all_identical_at_t0_is_equivalent():
    assert verdict(0.0, summary(40, 40)).label == EQUIVALENT


def test_truncation_at_t0_differs():
    v = verdict(0.0, summary(40, 0, truncated=40))
    assert v.label == DIFFERS and "40 truncated" in v.reason


def test_near_ties_alone_never_differ():
    v = verdict(0.0, summary(40, 21, near_tie=19))
    assert v.label == NOT_SHOWN and "no judge" in v.reason


def test_one_real_change_in_40_is_tolerated_but_many_are_not():
    assert verdict(0.0, summary(40, 39, real=1)).label == NOT_SHOWN  # Wilson low ≈ .004
    assert verdict(0.0, summary(40, 30, real=10)).label == DIFFERS  # Wilson low ≈ .14


def test_judge_equivalence_and_preference():
    s = summary(400, 0, near_tie=400)
    assert verdict(0.0, s, judged(160, 80, 160)).label == EQUIVALENT
    wide = verdict(0.0, s, judged(40, 20, 40))
    assert wide.label == NOT_SHOWN and "0.404" in wide.reason
    assert verdict(0.0, s, judged(5, 10, 25)).label == DIFFERS  # sign p = .0003, baseline wins
    # an A/A control that is itself not equivalent blocks the claim
    v = verdict(0.0, s, judged(160, 80, 160), control=judged(4, 2, 4))
    assert v.label == NOT_SHOWN and "A/A" in v.reason


def test_distributions_at_t_above_zero():
    s = summary(100, 0)
    v = verdict(0.5, s, None, {"ks_length": 0.001, "tool_choice": 0.9, "json_valid": None})
    assert v.label == DIFFERS and "KS" in v.reason
    # p = .03 is above the Bonferroni threshold .05/3
    assert verdict(0.5, s, None, {"ks_length": 0.03}).label == NOT_SHOWN
