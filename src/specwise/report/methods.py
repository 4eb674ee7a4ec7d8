"""The methods compared: per temperature and load, every speculative arm's gain, how it drafts,
and the k its family's schedule takes there, best first.

Per speculative arm and cell (vLLM's counters over every look of the cell):
    X [CI], verdict              gains.pair_with_baseline (the same numbers as the gains table)
    k here                       a fixed k; for an arm with a per-batch-size schedule, the k its
                                 schedule gives batch size c (tune.scheduled_k); suffix: its
                                 most tokens per step
    αᵢ = accepted at position i / drafting steps   (suffix: a step whose draft is shorter than
                                 i counts as not accepted at i, so αᵢ is still P(≥ i accepted))
    tokens / step = generated / steps (prometheus.Acceptance.tokens_per_step)
    tuned k = the k `specwise tune` picks for the arm's family at c (tune.schedules)
Rows of one cell are ordered by X's lower bound: the first row that pays is the method to serve
at that load.
"""

from __future__ import annotations

from specwise.gains import PAYS, pair_with_baseline
from specwise.report.tables import Table
from specwise.results import StudyData, pooled_acceptance
from specwise.tune import SCHEDULE, family_key, scheduled_k, schedules

POSITIONS_SHOWN = 5  # α₁ … α₅; suffix drafts up to 24


def positions_text(rates: tuple[float, ...] | None) -> str | None:
    """α₁ · α₂ · …, the first POSITIONS_SHOWN, "…" when there are more."""
    if not rates:
        return None
    shown = " · ".join(f"{a:.2f}" for a in rates[:POSITIONS_SHOWN])
    return shown + (" · …" if len(rates) > POSITIONS_SHOWN else "")


def k_here(spec: dict, concurrency: int) -> str:
    """The k an arm drafts at batch size = concurrency (its most, for suffix)."""
    k = spec.get("num_speculative_tokens")
    if SCHEDULE in spec:
        return f"{scheduled_k(spec, concurrency)} (schedule)"
    if spec.get("method") == "suffix":
        return f"≤ {k}"
    return str(k)


def tuned_ks(data: StudyData) -> dict[tuple[str, float, int], int]:
    """(family key, T, c) → the k `specwise tune` chooses there."""
    out = {}
    for s in schedules(data):
        key = family_key(s.source.get("speculative_config") or {})
        for level in s.levels:
            out[(key, s.temperature, level.concurrency)] = level.k
    return out


def methods_table(data: StudyData) -> Table:
    """Per T and c: every speculative arm's X, verdict, per-position acceptance, tokens per
    step, its k there and the tuned k of its family, ordered by X's lower bound."""
    tuned = tuned_ks(data)
    rows = []
    for g in pair_with_baseline(data):
        spec = (data.arms.get(g.arm) or {}).get("speculative_config") or {}
        cell = [
            r
            for r in data.done
            if (r.arm, r.concurrency, r.temperature) == (g.arm, g.concurrency, g.temperature)
        ]
        if not spec or not cell:
            continue
        acc = pooled_acceptance(cell)
        tuned_k = tuned.get((family_key(spec), g.temperature, g.concurrency))
        rows.append(
            {
                "t": g.temperature, "c": g.concurrency, "method": spec.get("method"),
                "arm": g.arm,
                "k": k_here(spec, g.concurrency), "x": g.throughput, "verdict": g.verdict,
                "positions": positions_text(acc.per_position_rates if acc else None),
                "tps": acc.tokens_per_step if acc else None,
                "tuned": tuned_k if SCHEDULE not in spec else None,
                "low": g.throughput.low if g.throughput else float("-inf"),
            }
        )  # fmt: skip
    rows.sort(key=lambda r: (r["t"], r["c"], -r["low"]))
    columns = [
        ("t", "T", "g"),
        ("c", "c", "d"),
        ("method", "method", ""),
        ("arm", "arm", ""),
        ("k", "k here", ""),
        ("x", "X [CI]", "x"),
        ("verdict", "verdict", ""),
        ("positions", "α per position (α₁ · α₂ · …)", ""),
        ("tps", "tokens / step", ".2f"),
        ("tuned", "tuned k (its family)", "d"),
    ]
    best = best_per_load(rows)
    note = (
        "Per temperature and concurrency, best first (by X's lower bound). αᵢ = steps whose "
        "draft had its i-th token accepted / steps that drafted (suffix drafts vary in length: "
        "a shorter draft counts as not accepted at i); tokens / step = generated / target steps, "
        "vLLM's counters over every look of the cell. k here: the arm's fixed k, the k its "
        "per-batch-size schedule gives batch size c, or suffix's most. Tuned k: the k "
        "`specwise tune` picks for the arm's family at c (0 = it pays nowhere there). " + best
    )
    return Table("Methods compared", columns, rows, note)


def best_per_load(rows: list[dict]) -> str:
    """One sentence per (T, c): the paying method with the highest lower bound, or none."""
    parts = []
    for t, c in dict.fromkeys((r["t"], r["c"]) for r in rows):
        paying = [r for r in rows if (r["t"], r["c"]) == (t, c) and r["verdict"] == PAYS]
        who = f"{paying[0]['arm']} pays, with the highest lower bound" if paying else "none pays"
        parts.append(f"T = {t:g}, c = {c}: {who}.")
    return " ".join(parts)
