"""The report's tables as numbers: lists of dicts plus the columns that show them.

Nothing here renders HTML or Markdown; `Table.columns` says (key, header, format) and
`cell` turns one value into text for both renderers.
    gain (X), latency ratios and verdicts = specwise.gains.pair_with_baseline (paired, repeats
        pooled; X's interval over turns, latency ratios' by bootstrap): the only comparison
    capacity = the largest concurrency meeting the SLO (cost.SLO_TARGET of requests)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specwise import cost, gains
from specwise.gains import Gain, Interval, gain_text, pair_with_baseline
from specwise.results import Row, StudyData, percent


@dataclass
class Table:
    title: str
    columns: list[tuple[str, str, str]]  # (key, header, format: a format spec, "%", "ms", "s")
    rows: list[dict[str, Any]]
    note: str = ""


def cell(value: Any, spec: str) -> str:
    """One value as text: None → "–"; "ms" = seconds shown in ms; "%+" = a signed percent."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if spec == "ms":
        return f"{value * 1e3:.1f}"
    if spec == "%+":
        return f"{value:+.1f} %"
    if spec == "%":
        return f"{value:.0%}".replace("%", " %")
    if spec == "yes":
        return "yes" if value else "no"
    if spec == "x":  # an Interval of a ratio
        return gains.ratio_text(value)
    return format(value, spec) if spec else str(value)


def _stat(s: dict[str, float] | None, key: str) -> float | None:
    return None if not s else s.get(key)


def study_table(data: StudyData) -> Table:
    """Every stored configuration: throughput, cost, latency p50/p99, acceptance, cache."""
    rows = []
    for r in data.done:
        rows.append(
            {
                "config": r.label,
                "gpus": r.gpus,
                "tok_s": r.output_tokens_per_s,
                "tok_s_gpu": cost.per_gpu(r.output_tokens_per_s, r.gpus),
                "usd_1m": cost.usd_per_million_tokens(
                    r.gpus, r.gpu_hour_usd, r.output_tokens_per_s
                ),
                "ttft50": _stat(r.ttft_s, "median"),
                "ttft99": _stat(r.ttft_s, "p99"),
                "tpot50": _stat(r.tpot_s, "median"),
                "tpot99": _stat(r.tpot_s, "p99"),
                "e2e50": _stat(r.e2e_s, "median"),
                "e2e99": _stat(r.e2e_s, "p99"),
                "alpha": r.acceptance_rate,
                "al": r.acceptance_length,
                "tps": r.tokens_per_step,
                "cache": r.prefix_cache_hit_rate,
                "ok": f"{r.successful}/{r.requests}",
            }
        )
    columns = [
        ("config", "configuration", ""),
        ("gpus", "GPUs", "d"),
        ("tok_s", "tok/s", ".1f"),
        ("tok_s_gpu", "tok/s/GPU", ".1f"),
        ("usd_1m", "$/1M tok", ".3f"),
        ("ttft50", "TTFT p50 ms", "ms"),
        ("ttft99", "TTFT p99 ms", "ms"),
        ("tpot50", "TPOT p50 ms", "ms"),
        ("tpot99", "TPOT p99 ms", "ms"),
        ("e2e50", "E2E p50 ms", "ms"),
        ("e2e99", "E2E p99 ms", "ms"),
        ("alpha", "α", ".3f"),
        ("al", "AL", ".2f"),
        ("tps", "tok/step", ".2f"),
        ("cache", "prefix-cache hits", "%"),
        ("ok", "ok", ""),
    ]
    note = (
        "α = accepted / drafted tokens; AL = 1 + accepted / drafts (drafting steps only); "
        "tok/step = output tokens / target steps over all steps, steps = max(generated − "
        "accepted, drafts + requests); prefix-cache hits = hit tokens / queried prompt tokens; "
        "all from the server's /metrics counters over each run. A CPU arm (0 GPUs) counts as "
        "one machine in per-GPU and $ columns. Comparisons with the baseline: the next table."
    )
    return Table("Every configuration", columns, rows, note)


def priced_arms(data: StudyData) -> dict[str, Row]:
    """One row per arm: what the cost model reads (GPU count, $/GPU-hour)."""
    out: dict[str, Row] = {}
    for r in data.rows:
        out.setdefault(r.arm, r)
    return out


def gains_table(data: StudyData) -> Table:
    """Per arm × temperature × concurrency: the paired ratios with their intervals, the cost
    ratio and the verdict."""
    found = pair_with_baseline(data)
    costs = {
        (c.arm, c.concurrency, c.temperature): c for c in cost.comparisons(found, priced_arms(data))
    }
    stopped = {(r.arm, r.concurrency, r.temperature): r.sampling for r in data.done if r.sampling}
    rows = []
    for g in found:
        c = costs.get((g.arm, g.concurrency, g.temperature))
        y = None if c is None else Interval(c.token_cost_ratio, c.token_cost_low, c.token_cost_high)
        rows.append(
            {
                "arm": g.arm, "t": g.temperature, "c": g.concurrency, "pairs": g.pairs,
                "x": g.throughput, "ttft": g.ttft, "tpot": g.tpot, "e2e": g.e2e, "y": y,
                "verdict": g.verdict, "stopped": stopped.get((g.arm, g.concurrency, g.temperature)),
            }
        )  # fmt: skip
    columns = [
        ("arm", "arm", ""),
        ("t", "T", "g"),
        ("c", "concurrency", "d"),
        ("pairs", "pairs", "d"),
        ("x", "throughput ratio [CI]", "x"),
        ("ttft", "TTFT ratio", "x"),
        ("tpot", "TPOT ratio", "x"),
        ("e2e", "E2E ratio", "x"),
        ("y", "cost per token ratio", "x"),
        ("verdict", "verdict", ""),
        ("stopped", "sampling stopped", ""),
    ]
    m, level = percent(data.margin), percent(data.confidence)
    adaptive = " (adaptive sampling: 1 − 5 %/K over K looks)" if data.confidence > 0.95 else ""
    note = (
        f"Against {data.baseline} on the same requests (pairs = requests both answered, repeats "
        "and looks pooled). Throughput ratio X = (Σ tokens / Σ E2E) of the arm over the "
        f"baseline's; latency ratios = mean(arm) / mean(baseline); intervals: {level}{adaptive}: "
        "X's a t interval over the turns the arms took (the spread of turn ratios pooled per "
        "concurrency), or a paired bootstrap over requests for a cell measured in one turn, "
        f"both with the between-cell term τ = {data.cell_noise:g} (the sd of log X between "
        "cells of identical servers, measured by an A/A study; `cell_noise`); "
        "latency ratios' a paired bootstrap over requests. Verdict with margin m = "
        f"{m}: pays if X's lower bound "
        "> 1 + m, loses if its "
        "upper bound < 1 − m, break-even if the interval lies within 1 ± m, else inconclusive "
        f"(also below {gains.MIN_PAIRS} pairs). Cost per token ratio = hourly cost ratio / X."
    )
    return Table("Gains over the baseline", columns, rows, note)


def schedule_table(data: StudyData) -> Table:
    """Per method family and temperature: the k chosen at each measured concurrency, its
    evidence, and the schedule vLLM takes (tune.py; `specwise tune` prints the same)."""
    import json

    from specwise.tune import SCHEDULE, schedules

    rows = []
    for s in schedules(data):
        for level in s.levels:
            rows.append({
                "family": s.family, "t": s.temperature, "c": level.concurrency, "k": level.k,
                "arm": level.arm or "—", "gain": gain_text(level.gain), "verdict": level.verdict,
                "schedule": json.dumps(s.ranges) if s.pays_anywhere else "no speculation",
            })  # fmt: skip
    columns = [
        ("family", "method", ""), ("t", "T", "g"), ("c", "c", "d"), ("k", "k chosen", "d"),
        ("arm", "from arm", ""), ("gain", "its gain [CI]", ""), ("verdict", "verdict", ""),
        ("schedule", SCHEDULE, ""),
    ]  # fmt: skip
    note = (
        "k at each measured concurrency: the k of the method's arm that pays there with the "
        "highest lower bound, else 0 (for k = 0 the gain shown is the method's best). Batch "
        "sizes between two measured levels take the k of the level above them, batch sizes "
        "above the highest level take 0. Measure a tuned arm on fresh draws (specwise tune "
        "DIR --arms-out F.yaml, then a study with workload.skip) before trusting it."
    )
    return Table("Load-aware schedule", columns, rows, note)


def capacity_table(data: StudyData) -> Table:
    """Per arm and temperature: the largest concurrency meeting the SLO and what it yields."""
    groups: dict[tuple[str, float], list[Row]] = defaultdict(list)
    for r in data.done:
        groups[(r.arm, r.temperature)].append(r)
    rows = []
    no_slo = data.slo_ttft_ms is None and data.slo_tpot_ms is None
    for (arm, t), group in [] if no_slo else groups.items():
        best = cost.largest_concurrency_meeting_slo((r.concurrency, r.slo_fraction) for r in group)
        at = [r for r in group if r.concurrency == best]
        tok = _mean([r.output_tokens_per_s for r in at])
        good = _mean([r.goodput_requests_per_s for r in at])
        r0 = group[0]
        rows.append(
            {
                "arm": arm,
                "t": t,
                "gpus": r0.gpus,
                "cmax": best,
                "tok_s_gpu": cost.per_gpu(tok, r0.gpus) if at else None,
                "goodput_gpu": cost.per_gpu(good, r0.gpus) if at else None,
                "usd_1m": cost.usd_per_million_tokens(r0.gpus, r0.gpu_hour_usd, tok)
                if at
                else None,
            }
        )
    columns = [
        ("arm", "arm", ""),
        ("t", "T", "g"),
        ("gpus", "GPUs", "d"),
        ("cmax", "largest concurrency meeting SLO", ""),
        ("tok_s_gpu", "tok/s/GPU there", ".1f"),
        ("goodput_gpu", "goodput req/s/GPU there", ".3f"),
        ("usd_1m", "$/1M tok there", ".3f"),
    ]
    share = f"{cost.SLO_TARGET:.0%}"
    note = f"SLO: {slo_text(data)}; a configuration meets it when ≥ {share} of its requests do."
    return Table("Capacity at the latency SLO", columns, rows, note.replace("%", " %"))


def slo_text(data: StudyData) -> str:
    parts = []
    if data.slo_ttft_ms is not None:
        parts.append(f"TTFT ≤ {data.slo_ttft_ms:g} ms")
    if data.slo_tpot_ms is not None:
        parts.append(f"TPOT ≤ {data.slo_tpot_ms:g} ms")
    return " and ".join(parts) or "none set (pass --slo-ttft-ms / --slo-tpot-ms)"


def _mean(values: list[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None


def series(rows: list[Row], value: Callable[[Row], float | None]) -> dict[tuple[str, float], list]:
    """{(arm, T): [(concurrency, mean value over repeats), …]} sorted by concurrency."""
    acc: dict[tuple[str, float], dict[int, list[float | None]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        acc[(r.arm, r.temperature)][r.concurrency].append(value(r))
    out = {}
    for key, by_c in acc.items():
        points = [(c, _mean(v)) for c, v in sorted(by_c.items())]
        out[key] = [(c, v) for c, v in points if v is not None]
    return out


def speedups(
    data: StudyData, reference: dict[str, str] | None = None
) -> dict[tuple[str, float], list[tuple[int, Interval]]]:
    """{(arm, T): [(c, X with its interval), …]} from gains.pair_with_baseline (repeats pooled),
    against reference[arm] (default: the study's baseline for every arm)."""
    out: dict[tuple[str, float], list[tuple[int, Interval]]] = defaultdict(list)
    for g in pair_with_baseline(data, reference):
        if g.throughput is not None:
            out[(g.arm, g.temperature)].append((g.concurrency, g.throughput))
    return {k: sorted(v, key=lambda p: p[0]) for k, v in out.items()}


def failures_table(data: StudyData) -> Table:
    """Failed configurations and failed requests, with the server's or client's message."""
    rows = []
    for r in data.rows:
        if r.status != "done":
            rows.append(
                {"config": r.label, "what": "configuration failed", "detail": r.reason or ""}
            )
        for kind, n in r.failures_by_kind.items():
            rows.append(
                {
                    "config": r.label,
                    "what": f"{n} request(s): {kind}",
                    "detail": "; ".join(r.errors[:2]),
                }
            )
    columns = [("config", "configuration", ""), ("what", "what", ""), ("detail", "message", "")]
    return Table("Failures", columns, rows, "" if rows else "No configuration or request failed.")


def quality_table(data: StudyData) -> Table:
    rows = [
        {"arm": v.arm, "t": v.temperature, "verdict": v.verdict, "detail": v.detail}
        for v in data.verdicts
    ]
    columns = [
        ("arm", "arm", ""),
        ("t", "T", "g"),
        ("verdict", "verdict", ""),
        ("detail", "detail", ""),
    ]
    note = "" if rows else "No quality verdicts in this directory (run the quality step)."
    return Table("Quality verdicts", columns, rows, note)


def samples_table(data: StudyData) -> Table:
    """A few model outputs per arm (first configuration), shown verbatim and escaped."""
    seen: set[str] = set()
    rows = []
    for r in data.done:
        if r.arm in seen or not r.samples:
            continue
        seen.add(r.arm)
        rows += [{"config": r.label, "text": text[:600]} for text in r.samples]
    return Table(
        "Sample outputs", [("config", "configuration", ""), ("text", "model output", "")], rows
    )


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def verdict_runs(found: list[Gain]) -> list[str]:
    """ "pays at c = 1 (+38 % [+21, +55])", consecutive cells of one verdict grouped."""
    out: list[str] = []
    for g in found:
        cell = f"c = {g.concurrency} ({gain_text(g.throughput)})"
        if out and out[-1].startswith(g.verdict + " at "):
            out[-1] = out[-1] + f", {cell}"
        else:
            out.append(f"{g.verdict} at {cell}")
    return out


def action(found: list[Gain]) -> str:
    """What to do, from the gains of one arm at one temperature sorted by concurrency: enable
    it up to the last concurrency where it pays without a gap, or why not."""
    if found and found[0].verdict == gains.PAYS:
        run = 0
        while run < len(found) and found[run].verdict == gains.PAYS:
            run += 1
        top = found[run - 1].concurrency
        text = f"enable it at c ≤ {top}"
        if run < len(found):
            nxt = found[run]
            if nxt.concurrency > top + 1:
                gap = (
                    f"{top + 1}"
                    if nxt.concurrency == top + 2
                    else f"{top + 1}–{nxt.concurrency - 1}"
                )
                text += f" (c = {gap} not measured)"
            end = "break-even" if nxt.verdict == gains.BREAK_EVEN else nxt.verdict
            text += f"; from c = {nxt.concurrency} it is {end}"
        return text
    if any(g.verdict == gains.PAYS for g in found):
        cs = _join([str(g.concurrency) for g in found if g.verdict == gains.PAYS])
        return f"it pays only at c = {cs}, not at the lowest load: check those cells"
    open_ = [g for g in found if g.verdict == gains.INCONCLUSIVE]
    # an undecided gain whose interval stays below 1 + m cannot pay: that settles "enable it?"
    no = [g for g in open_ if g.throughput and g.throughput.high <= 1 + g.margin]
    maybe = [str(g.concurrency) for g in open_ if g not in no]
    parts = []
    if no:
        cs = _join([str(g.concurrency) for g in no])
        parts.append(f"it cannot pay at c = {cs} (interval below +{no[0].margin * 100:.0f} %)")
    if maybe:
        parts.append(f"undecided at c = {_join(maybe)}: measure more requests there")
    if parts:
        return "; ".join(parts) + ("" if maybe else ": leave it off")
    return "leave it off at these loads"


def decision_lines(data: StudyData) -> list[str]:
    """The decision per speculative arm and temperature: where it pays, with intervals, and
    from which concurrency it stops paying; a cost line where arms differ in price or GPUs."""
    speculative = {r.arm for r in data.done if r.speculative}
    by: dict[tuple[str, float], list[Gain]] = defaultdict(list)
    for g in pair_with_baseline(data):
        if g.arm in speculative:
            by[(g.arm, g.temperature)].append(g)
    lines = []
    for (arm, t), found in sorted(by.items()):
        found.sort(key=lambda g: g.concurrency)
        lines.append(f"{arm} at T={t:g}: {'; '.join(verdict_runs(found))}: {action(found)}.")
    priced = cost.comparisons(pair_with_baseline(data), priced_arms(data))
    h = cost.headline([c for c in priced if c.arm in speculative])
    if h is not None and (h.hourly_cost_ratio != 1 or h.priced):
        lines.append(cost.headline_text(h) + ".")
    if not lines:
        lines.append(f"No speculative arm was measured against {data.baseline}; nothing to decide.")
    return lines


def decided_summary(data: StudyData) -> str:
    """ "3 of 4 arm × cell gains decided (pays, loses or break-even); median interval
    half-width ±8.1 %" (half-width = (high − low) / 2 / estimate)."""
    found = [g for g in pair_with_baseline(data) if g.throughput is not None]
    if not found:
        return "No gain over the baseline was measured."
    decided = sum(g.decided for g in found)
    halves = sorted((g.throughput.high - g.throughput.low) / 2 / g.throughput.estimate
                    for g in found if g.throughput)  # fmt: skip
    mid = len(halves) // 2
    median = halves[mid] if len(halves) % 2 else (halves[mid - 1] + halves[mid]) / 2
    return (
        f"{decided} of {len(found)} arm × cell gains decided (pays, loses or break-even); "
        f"median interval half-width ±{median:.1%}".replace("%", " %")
    )


def headline(data: StudyData) -> str:
    """One line: per speculative arm at the lowest temperature, what to do."""
    speculative = {r.arm for r in data.done if r.speculative}
    found = [g for g in pair_with_baseline(data) if g.arm in speculative]
    if not found:
        return f"No speculative arm was measured against {data.baseline} at equal conditions."
    t = min(g.temperature for g in found)
    parts = []
    for arm in sorted({g.arm for g in found}):
        cells = sorted(
            (g for g in found if g.arm == arm and g.temperature == t), key=lambda g: g.concurrency
        )
        if cells:
            best = max(cells, key=lambda g: g.throughput.estimate if g.throughput else 0.0)
            best_text = f"best {gain_text(best.throughput)} at c = {best.concurrency}"
            parts.append(f"{arm}: {action(cells)} ({best_text})")
    return f"At T={t:g} vs {data.baseline} — " + "; ".join(parts)
