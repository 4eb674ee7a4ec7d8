"""The verdict per speculative arm × temperature: "equivalent", "not shown equivalent" (why),
"differs" (why) or "judge unreliable" (why), from the deterministic checks, the judge's counts,
the judge's gate and, for `specwise bench` directories, an optional A/A control.

Rules, in order (α = 0.05 unless given; each reason names the number that decided it):
  differs      T = 0: the share of mismatches numerics cannot explain (truncated or a clear
               change at the first differing token) has a Wilson lower bound above
               `max_changed` (speculation is lossless; a near-tie flip is numerics);
               T > 0: a distribution test (KS on lengths, exact McNemar on tool choice and on
               schema validity) has a Holm-adjusted p < α.
  equivalent   every output identical (at T > 0: seeded, the same samples): no judge needed.
  not shown equivalent   outputs differ and no judge was run.
  judge unreliable   outputs differ and the judge failed its gate (`judge_gate`) at this
               temperature: its preferences decide nothing, neither "equivalent" nor "differs".
  differs      the judge's sign test on non-ties has a Holm-adjusted p < α and the baseline
               wins more.
  equivalent   the Wilson interval of the judge's win rate (ties half; position-inconsistent
               and unparsable pairs left out of n) lies inside the margin, and the A/A control,
               where there is one, is equivalent too.
  not shown equivalent   anything else: the interval is too wide or the A/A control is not.

Holm's correction runs over the family of every p-value that can yield "differs" in one
`specwise judge` run (all arms × temperatures: the distribution tests that have something to
decide, and the sign test of every group whose judge passed its gate and has non-ties); called
on one group alone, `verdict` takes that group's tests as the family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from specwise.quality import stats
from specwise.quality.exact import ExactSummary

EQUIVALENT, NOT_SHOWN, DIFFERS = "equivalent", "not shown equivalent", "differs"
UNRELIABLE = "judge unreliable"
MIN_DECIDED, MIN_CONSISTENCY = 20, 0.8  # position consistency: pairs, Wilson lower bound
MIN_CONTROL, CONTROL_SHARE = 10, 0.9  # positive control: planted pairs, share preferred


@dataclass
class Verdict:
    label: str
    reason: str


@dataclass
class Gate:
    """Whether a judge may decide anything at one temperature, and the numbers that say so."""

    consistency: float | None
    consistency_interval: tuple[float, float]
    decided: int
    control_preferred: int
    control_n: int
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"consistency_interval": list(self.consistency_interval)}


def judge_gate(decided: int, consistent: int, control_preferred: int, control_n: int) -> Gate:
    """The judge passes iff (a) position consistency: of `decided` pairs (both orders parsed,
    outputs differing) `consistent` agree across the swap, with decided ≥ MIN_DECIDED and the
    Wilson lower bound of consistent / decided ≥ MIN_CONSISTENCY; and (b) positive control: of
    `control_n` planted pairs (planted.py) it prefers the intact answer in both orders in
    control_preferred / control_n ≥ CONTROL_SHARE, with control_n ≥ MIN_CONTROL (an
    unparsable planted pair counts as not preferred)."""
    low, high = stats.wilson(consistent, decided)
    share = consistent / decided if decided else None
    failed = []
    if decided < MIN_DECIDED:
        failed.append(
            f"only {decided} decided pairs for position consistency, needs at least {MIN_DECIDED}"
        )
    elif low < MIN_CONSISTENCY:
        failed.append(
            f"position consistency {share:.2f} [{low:.2f}, {high:.2f}] on {decided} decided "
            f"pairs, needs a lower bound >= {MIN_CONSISTENCY}"
        )
    control = f"{control_preferred}/{control_n}"
    if control_n < MIN_CONTROL:
        failed.append(
            f"only {control_n} planted pairs could be drawn from the baseline answers for the "
            f"positive control, needs at least {MIN_CONTROL}"
        )
    elif control_preferred / control_n < CONTROL_SHARE:
        failed.append(
            f"the judge preferred the intact answer in {control} planted pairs "
            f"({control_preferred / control_n:.0%}), needs >= {CONTROL_SHARE:.0%}"
        )
    reason = "; ".join(failed) or (
        f"position consistency {share:.2f} [{low:.2f}, {high:.2f}] on {decided} decided pairs; "
        f"intact answer preferred in {control} planted pairs"
    )
    return Gate(share, (low, high), decided, control_preferred, control_n, not failed, reason)


@dataclass
class Family:
    """The Holm-adjusted p-values of one group's tests, and how many tests the family holds."""

    adjusted: dict[str, float]
    size: int


def family_tests(
    temperature: float,
    exact: ExactSummary,
    judged: dict[str, int] | None = None,
    distributions: dict[str, float | None] | None = None,
    gate: Gate | None = None,
) -> dict[str, float]:
    """The raw p-values of one group that can yield "differs": at T > 0 the distribution tests
    that have something to decide (not None); the judge's two-sided sign test where the judge
    passed its gate and has non-ties (w + l > 0)."""
    out = {k: p for k, p in (distributions or {}).items() if p is not None and temperature > 0}
    if judged and gate is not None and gate.passed and judged["win"] + judged["loss"] > 0:
        out["sign"] = stats.sign_test(judged["win"], judged["loss"])
    return out


def holm_family(groups: Sequence[dict[str, float]]) -> list[Family]:
    """Holm over the union of every group's tests (stats.holm), split back per group."""
    flat = [(i, name, p) for i, group in enumerate(groups) for name, p in group.items()]
    adjusted = stats.holm([p for _, _, p in flat])
    out = [Family({}, len(flat)) for _ in groups]
    for (i, name, _), p in zip(flat, adjusted, strict=True):
        out[i].adjusted[name] = p
    return out


def verdict(
    temperature: float,
    exact: ExactSummary,
    judged: dict[str, int] | None = None,
    distributions: dict[str, float | None] | None = None,
    control: dict[str, int] | None = None,
    gate: Gate | None = None,
    family: Family | None = None,
    margin: tuple[float, float] = stats.DEFAULT_MARGIN,
    alpha: float = 0.05,
    max_changed: float = 0.05,
) -> Verdict:
    """Apply the module's rules to one arm × temperature; `family` holds the run's Holm-adjusted
    p-values of this group's `family_tests` (None: this group's tests are the whole family)."""
    if temperature == 0 and exact.pairs:
        low, _ = stats.wilson(exact.changed, exact.pairs)
        if low > max_changed:
            return Verdict(DIFFERS, _changed_reason(exact, low))
    raw = family_tests(temperature, exact, judged, distributions, gate)
    family = family or holm_family([raw])[0]
    adjusted = {k: family.adjusted.get(k, 1.0) for k in raw}
    held = [k for k in DISTRIBUTION_NAMES if k in raw and adjusted[k] < alpha]
    if held:
        name = min(held, key=adjusted.__getitem__)
        return Verdict(DIFFERS, f"{DISTRIBUTION_NAMES[name]} differ ({_p(name, raw, family)})")
    if exact.pairs and exact.identical == exact.pairs:  # at T > 0: same seed, same samples
        return Verdict(EQUIVALENT, f"all {exact.pairs} outputs identical")
    if not judged:
        return Verdict(NOT_SHOWN, "outputs differ and no judge was run")
    if gate is None or not gate.passed:
        why = gate.reason if gate else "no position-consistency or positive-control result"
        return Verdict(UNRELIABLE, f"the judge failed its gate at T = {temperature:g}: {why}")
    w, t, l = judged["win"], judged["ties_total"], judged["loss"]  # noqa: E741
    if "sign" in raw and adjusted["sign"] < alpha and l > w:
        return Verdict(
            DIFFERS, f"the judge prefers the baseline: {w}/{t}/{l} w/t/l, {_p('sign', raw, family)}"
        )
    return _equivalence(w, t, l, control, margin)


def _equivalence(
    w: int,
    t: int,
    l: int,  # noqa: E741
    control: dict[str, int] | None,
    margin: tuple[float, float],
) -> Verdict:
    eq = stats.equivalence(w, t, l, margin)
    interval = f"win rate {eq.win_rate:.3f} [{eq.low:.3f}, {eq.high:.3f}]"
    if eq.equivalent:
        if control and not _control_ok(control, margin):
            return Verdict(NOT_SHOWN, f"{interval} inside the margin, but the A/A control is not")
        return Verdict(EQUIVALENT, f"{interval} inside [{margin[0]}, {margin[1]}] (n = {eq.n})")
    return Verdict(NOT_SHOWN, f"{interval} not inside [{margin[0]}, {margin[1]}] (n = {eq.n})")


DISTRIBUTION_NAMES = {
    "ks_length": "output lengths (KS)",
    "tool_choice": "tool choices (McNemar)",
    "json_valid": "schema validity rates (McNemar)",
}


def _p(name: str, raw: dict[str, float], family: Family) -> str:
    return (
        f"p = {raw[name]:.2g}, Holm-adjusted p = {family.adjusted.get(name, 1.0):.2g} over "
        f"{family.size} test{'s' if family.size != 1 else ''}"
    )


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
