"""Render report blocks as one self-contained HTML page: inline CSS, PNGs as base64 data URIs,
no script and no network. Every text is escaped with html.escape (model output included)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from specwise.report.document import Block
from specwise.report.plots import Plot
from specwise.report.tables import Table, cell

CSS = " ".join((Path(__file__).parent / "report.css").read_text().split())  # inlined, one line
TEXT_COLUMNS = {"text", "detail"}  # long free text: wrapped, monospace


def _cls(key: str, spec: str) -> str:
    """Text columns (no number format) align left; free text also wraps."""
    if key in TEXT_COLUMNS:
        return ' class="s text"'
    return ' class="s"' if spec == "" else ""


def table_html(t: Table) -> str:
    head = "".join(f"<th{_cls(k, spec)}>{escape(h)}</th>" for k, h, spec in t.columns)
    body = []
    for row in t.rows:
        cells = []
        for key, _, spec in t.columns:
            cells.append(f"<td{_cls(key, spec)}>{escape(cell(row.get(key), spec))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f"<h2>{escape(t.title)}</h2>{note}" + (table if t.rows else "")


def figure_html(p: Plot) -> str:
    data = base64.b64encode(p.png.read_bytes()).decode("ascii")
    return (
        f'<figure id="fig-{escape(p.name)}"><img alt="{escape(p.title)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{escape(p.title)}: '
        f"{escape(p.caption)} (<code>figures/{escape(p.name)}.svg</code>)</figcaption></figure>"
    )


def block_html(kind: str, value: Any) -> str:
    if kind == "h2":
        return f"<h2>{escape(value)}</h2>"
    if kind == "p":
        return f"<p>{escape(value)}</p>"
    if kind == "list":
        return '<ul class="decision">' + "".join(f"<li>{escape(x)}</li>" for x in value) + "</ul>"
    if kind == "table":
        return table_html(value)
    if kind == "figure":
        return figure_html(value)
    if kind == "kv":
        items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in value.items())
        return f"<dl>{items}</dl>"
    raise ValueError(f"unknown block {kind!r}")


def render(title: str, blocks: list[Block]) -> str:
    """The whole page; its only external reference is none (CSP forbids scripts and fetches)."""
    body = "\n".join(block_html(k, v) for k, v in blocks)
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )
