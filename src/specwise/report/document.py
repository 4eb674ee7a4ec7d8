"""The report as an ordered list of blocks, computed once and rendered twice (HTML, Markdown).

A block is ("h2", text) | ("p", text) | ("list", [text]) | ("table", Table) | ("figure", Plot)
| ("kv", {label: value}). Every text may hold model or server output: renderers escape it.
"""

from __future__ import annotations

from typing import Any

from specwise.report import tables
from specwise.report.model import StudyData
from specwise.report.plots import Plot

Block = tuple[str, Any]


def study_blocks(data: StudyData, plots: list[Plot]) -> list[Block]:
    """Headline decision, the study table, capacity, figures, theory, quality, conditions,
    failures and sample outputs, in that order."""
    done, total = len(data.done), len(data.rows)
    blocks: list[Block] = [
        ("h2", "Decision"),
        ("list", tables.decision_lines(data)),
        ("p", f"{done} of {total} configurations measured; baseline: {data.baseline}."),
        ("table", tables.study_table(data)),
        ("table", tables.capacity_table(data)),
        ("h2", "Figures"),
    ]
    blocks += [("figure", p) for p in plots]
    blocks += [
        ("table", tables.theory_table(data)),
        ("table", tables.quality_table(data)),
        ("h2", "Conditions"),
        ("kv", data.conditions | {"SLO": tables.slo_text(data), **token_sources(data)}),
        ("table", tables.failures_table(data)),
        ("table", tables.samples_table(data)),
    ]
    return blocks


def token_sources(data: StudyData) -> dict[str, str]:
    """Which counter gave the output tokens (server usage, or the local tokenizer fallback)."""
    counts: dict[str, int] = {}
    for r in data.done:
        for source, n in r.token_sources.items():
            counts[source] = counts.get(source, 0) + n
    if not counts:
        return {}
    return {"output tokens counted by": ", ".join(f"{k} ({n} requests)" for k, n in counts.items())}
