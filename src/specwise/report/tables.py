"""The report's tables as numbers: lists of dicts plus the columns that show them.

Nothing here renders HTML or Markdown; `Table.columns` says (key, header, format) and
`cell` turns one value into text for both renderers.
    % change vs baseline = (value(arm) − value(baseline)) / value(baseline) × 100,
        at the same concurrency, temperature and repeat
    speedup               = tok/s(arm) / tok/s(baseline) at the same concurrency and temperature
    capacity              = the largest concurrency meeting the SLO (cost.SLO_TARGET of requests)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specwise import cost
from specwise.report.model import Row, StudyData


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
    return format(value, spec) if spec else str(value)


def _stat(s: dict[str, float] | None, key: str) -> float | None:
    return None if not s else s.get(key)


def change(value: float | None, base: float | None) -> float | None:
    """% change = (value − base) / base × 100."""
    return None if value is None or not base else (value - base) / base * 100


def baseline_index(data: StudyData) -> dict[tuple[int, float, int], Row]:
    return {
        (r.concurrency, r.temperature, r.repeat): r for r in data.done if r.arm == data.baseline
    }


def study_table(data: StudyData) -> Table:
    """Every configuration: throughput, cost, latency p50/p99, acceptance, % vs baseline."""
    base = baseline_index(data)
    rows = []
    for r in data.done:
        b = base.get((r.concurrency, r.temperature, r.repeat))
        ttft50, tpot50 = _stat(r.ttft_s, "median"), _stat(r.tpot_s, "median")
        rows.append(
            {
                "config": r.label,
                "gpus": r.gpus,
                "tok_s": r.output_tokens_per_s,
                "tok_s_gpu": cost.per_gpu(r.output_tokens_per_s, r.gpus),
                "usd_1m": cost.usd_per_million_tokens(
                    r.gpus, r.gpu_hour_usd, r.output_tokens_per_s
                ),
                "ttft50": ttft50,
                "ttft99": _stat(r.ttft_s, "p99"),
                "tpot50": tpot50,
                "tpot99": _stat(r.tpot_s, "p99"),
                "e2e50": _stat(r.e2e_s, "median"),
                "e2e99": _stat(r.e2e_s, "p99"),
                "alpha": r.acceptance_rate,
                "al": r.acceptance_length,
                "tps": r.tokens_per_step,
                "d_tok": None
                if b is None or b is r
                else change(r.output_tokens_per_s, b.output_tokens_per_s),
                "d_tpot": None
                if b is None or b is r
                else change(tpot50, _stat(b.tpot_s, "median")),
                "d_e2e": None
                if b is None or b is r
                else change(_stat(r.e2e_s, "median"), _stat(b.e2e_s, "median")),
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
        ("d_tok", "Δ tok/s", "%+"),
        ("d_tpot", "Δ TPOT p50", "%+"),
        ("d_e2e", "Δ E2E p50", "%+"),
        ("ok", "ok", ""),
    ]
    note = (
        f"Δ = % change vs {data.baseline} at the same concurrency, temperature and repeat. "
        "α = accepted / drafted tokens; AL = 1 + accepted / drafts (drafting steps only); "
        "tok/step = output tokens / target steps over all steps (from /metrics counters). "
        "A CPU arm (0 GPUs) counts as one machine in per-GPU and $ columns."
    )
    return Table("Every configuration", columns, rows, note)


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
) -> dict[tuple[str, float], list[tuple[int, float]]]:
    """speedup(arm, T, c) = mean tok/s(arm) / mean tok/s(ref) at the same c and T, where ref is
    reference[arm] (default: the study's baseline for every arm)."""
    tok = series(data.done, lambda r: r.output_tokens_per_s)
    out = {}
    for (arm, t), points in tok.items():
        if reference is not None and arm not in reference:
            continue
        ref = data.baseline if reference is None else reference[arm]
        base = dict(tok.get((ref, t), []))
        if arm != ref and base:
            out[(arm, t)] = [(c, v / base[c]) for c, v in points if base.get(c)]
    return out


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


def decision_lines(data: StudyData) -> list[str]:
    """The decision in sentences: the headline, then where each speculative arm pays."""
    lines = []
    h = cost.headline(data.done, data.baseline)
    if h is not None:
        lines.append(cost.headline_text(h) + ".")
    speculative = {r.arm for r in data.done if r.speculative}
    for (arm, t), points in sorted(speedups(data).items()):
        if not points or arm not in speculative:
            continue
        lo, hi = min(s for _, s in points), max(s for _, s in points)
        pays = [c for c, s in points if s > 1]
        where = f"pays up to concurrency {max(pays)}" if pays else "never pays"
        if pays and len(pays) < len(points):
            where += f" (loses at {', '.join(str(c) for c, s in points if s <= 1)})"
        lines.append(
            f"{arm} at T={t:g}: {lo:.2f}–{hi:.2f}× the throughput of {data.baseline} "
            f"over concurrency {points[0][0]}–{points[-1][0]}; {where}."
        )
    if not lines:
        lines.append(f"No speculative arm was measured against {data.baseline}; nothing to decide.")
    return lines
