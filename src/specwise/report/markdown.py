"""Render report blocks as Markdown (report.md): figures link to figures/NAME.png.

Untrusted text is made inert: HTML-significant characters become entities and table pipes and
newlines are escaped, so a Markdown viewer shows model output as text."""

from __future__ import annotations

from html import escape
from typing import Any

from specwise.report.document import Block
from specwise.report.tables import Table, cell


def md_text(text: str) -> str:
    """Inline-safe text: HTML escaped, pipes escaped, newlines as spaces, backticks escaped."""
    return (
        escape(text, quote=False)
        .replace("|", "\\|")
        .replace("`", "\\`")
        .replace("\n", " ")
        .replace("\r", "")
    )


def table_md(t: Table) -> str:
    lines = [f"## {md_text(t.title)}", ""]
    if t.note:
        lines += [f"_{md_text(t.note)}_", ""]
    if t.rows:
        lines.append("| " + " | ".join(md_text(h) for _, h, _ in t.columns) + " |")
        lines.append("|" + "|".join("---" for _ in t.columns) + "|")
        for row in t.rows:
            cells = (md_text(cell(row.get(k), spec)) for k, _, spec in t.columns)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def block_md(kind: str, value: Any) -> str:
    if kind == "h2":
        return f"## {md_text(value)}\n"
    if kind == "p":
        return md_text(value) + "\n"
    if kind == "list":
        return "\n".join(f"- {md_text(x)}" for x in value) + "\n"
    if kind == "table":
        return table_md(value)
    if kind == "figure":
        return (
            f"![{md_text(value.title)}](figures/{value.name}.png)\n\n_{md_text(value.caption)}_\n"
        )
    if kind == "kv":
        return "\n".join(f"- **{md_text(k)}**: {md_text(str(v))}" for k, v in value.items()) + "\n"
    raise ValueError(f"unknown block {kind!r}")


def render(title: str, blocks: list[Block]) -> str:
    return f"# {md_text(title)}\n\n" + "\n".join(block_md(k, v) for k, v in blocks)
