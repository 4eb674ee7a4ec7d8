"""The report as an ordered list of blocks, computed once and rendered twice (HTML, Markdown).

A block is ("h2", text) | ("p", text) | ("list", [text]) | ("table", Table) | ("figure", Plot)
| ("kv", {label: value}). Every text may hold model or server output: renderers escape it.
"""

from __future__ import annotations

from typing import Any

from specwise.report import tables
from specwise.report.methods import methods_table
from specwise.report.plots import Plot
from specwise.report.theory import theory_table
from specwise.results import StudyData

Block = tuple[str, Any]


def study_blocks(data: StudyData, plots: list[Plot]) -> list[Block]:
    """Decision, the gains with their verdicts, the methods compared, the load-aware schedule,
    every configuration,
    capacity, figures, theory,
    quality, conditions, failures and sample outputs, in that order."""
    done, total = len(data.done), len(data.rows)
    blocks: list[Block] = [
        ("h2", "Decision"),
        ("list", tables.decision_lines(data)),
        (
            "p",
            f"{done} of {total} configurations measured; baseline: {data.baseline}. "
            f"{tables.decided_summary(data)}.",
        ),
        ("table", tables.gains_table(data)),
        ("table", methods_table(data)),
        ("table", tables.schedule_table(data)),
        ("table", tables.study_table(data)),
        ("table", tables.capacity_table(data)),
        ("h2", "Figures"),
    ]
    blocks += [("figure", p) for p in plots]
    blocks += [
        ("table", theory_table(data)),
        ("table", tables.quality_table(data)),
        ("h2", "Conditions"),
        ("kv", data.conditions | {"SLO": tables.slo_text(data)} | measured(data)),
        ("table", tables.failures_table(data)),
        ("table", tables.samples_table(data)),
    ]
    return blocks


def measured(data: StudyData) -> dict[str, str]:
    """Workload as measured: requests, mean prompt / output tokens per successful request, and
    which counter gave the output tokens (server usage, or the local tokenizer fallback)."""
    done = data.done
    ok = sum(r.successful for r in done)
    out = {"requests measured": f"{sum(r.requests for r in done)} ({ok} successful)"}
    if ok and any(r.output_tokens for r in done):
        prompt, output = sum(r.prompt_tokens for r in done), sum(r.output_tokens for r in done)
        out["mean tokens per request"] = f"prompt {prompt / ok:.1f}, output {output / ok:.1f}"
    if any(r.method == "suffix" for r in done):
        out["suffix decoding"] = (
            "its tree learns from every request its server answered: warm-ups, and earlier "
            "turns, looks and cells of this study (a prefix-cache reset does not clear it), so "
            "a later configuration of a suffix arm is measured with a warmer tree"
        )
    counts: dict[str, int] = {}
    for r in done:
        for source, n in r.token_sources.items():
            counts[source] = counts.get(source, 0) + n
    if counts:
        out["output tokens counted by"] = ", ".join(
            f"{k} ({n} requests)" for k, n in counts.items()
        )
    return out
