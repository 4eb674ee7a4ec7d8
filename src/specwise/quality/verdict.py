"""The verdict per speculative arm × temperature: "equivalent", "not shown equivalent" (why),
or "differs" (why), from the deterministic checks, the judge's counts and an A/A control.

Rules, in order (α = 0.05 unless given; each reason names the number that decided it):
  differs      T = 0: the share of mismatches numerics cannot explain (truncated or a clear
               change at the first differing token) has a Wilson lower bound above
               `max_changed` (speculation is lossless; a near-tie flip is numerics);
               T > 0: a distribution test (KS on lengths, two-proportion on tool choice and
               schema validity) has p < α/3 (Bonferroni over the three);
               judge: the sign test on non-ties has p < α and the baseline wins more.
  equivalent   every output identical (at T > 0: seeded, the same samples); or the Wilson
               interval of the judge's win rate (ties half) lies inside the margin.
  not shown equivalent   anything else: the interval is too wide, the judge was not run, or
               the A/A control is itself not equivalent (the judge's noise floor is too high).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specwise.quality import stats
from specwise.quality.exact import ExactSummary

EQUIVALENT, NOT_SHOWN, DIFFERS = "equivalent", "not shown equivalent", "differs"


@dataclass
class Verdict:
    label: str
    reason: str


def verdict(
    temperature: float,
    exact: ExactSummary,
    judged: dict[str, int] | None = None,
    distributions: dict[str, float | None] | None = None,
    control: dict[str, int] | None = None,
    margin: tuple[float, float] = stats.DEFAULT_MARGIN,
    alpha: float = 0.05,
    max_changed: float = 0.05,
) -> Verdict:
    """Apply the module's rules to one arm × temperature."""
    if temperature == 0 and exact.pairs:
        low, _ = stats.wilson(exact.changed, exact.pairs)
        if low > max_changed:
            return Verdict(DIFFERS, _changed_reason(exact, low))
    if temperature > 0:
        for name, p in (distributions or {}).items():
            if p is not None and p < alpha / 3:
                return Verdict(DIFFERS, f"{DISTRIBUTION_NAMES[name]} differ (p = {p:.2g})")
    if exact.pairs and exact.identical == exact.pairs:  # at T > 0: same seed, same samples
        return Verdict(EQUIVALENT, f"all {exact.pairs} outputs identical")
    if not judged:
        return Verdict(NOT_SHOWN, "outputs differ and no judge was run")
    w, t, l = judged["win"], judged["ties_total"], judged["loss"]  # noqa: E741
    p = stats.sign_test(w, l)
    if p < alpha and l > w:
        return Verdict(
            DIFFERS, f"the judge prefers the baseline: {w}/{t}/{l} w/t/l, sign p = {p:.2g}"
        )
    eq = stats.equivalence(w, t, l, margin)
    interval = f"win rate {eq.win_rate:.3f} [{eq.low:.3f}, {eq.high:.3f}]"
    if eq.equivalent:
        if control and not _control_ok(control, margin):
            return Verdict(NOT_SHOWN, f"{interval} inside the margin, but the A/A control is not")
        return Verdict(EQUIVALENT, f"{interval} inside [{margin[0]}, {margin[1]}]")
    return Verdict(NOT_SHOWN, f"{interval} not inside [{margin[0]}, {margin[1]}] (n = {eq.n})")


DISTRIBUTION_NAMES = {
    "ks_length": "output lengths (KS)",
    "tool_choice": "tool choices (two-proportion)",
    "json_valid": "SearchParams validity rates (two-proportion)",
}


def _changed_reason(exact: ExactSummary, low: float) -> str:
    detail = ", ".join(f"{exact.classes.get(c, 0)} {c}" for c in ("truncated", "real"))
    return (
        f"{exact.changed}/{exact.pairs} temperature-0 outputs changed beyond numerics ({detail}; "
        f"Wilson lower bound {low:.2f})"
    )


def _control_ok(control: dict[str, int], margin: tuple[float, float]) -> bool:
    return stats.equivalence(
        control["win"], control["ties_total"], control["loss"], margin
    ).equivalent


def as_row(v: Verdict, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"verdict": v.label, "reason": v.reason} | (extra or {})
