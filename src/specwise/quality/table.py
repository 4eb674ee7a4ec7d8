"""The terminal table of `specwise judge`: one line per arm × temperature."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def table(rows: list[dict[str, Any]]) -> Table:
    """One line per arm × temperature; the verdict's reason goes in the caption lines."""
    t = Table(title="specwise judge · quality vs the baseline arm")
    for col in ("arm", "T", "identical", "tool eq", "mismatches", "judge w/t/l"):
        t.add_column(col)
    for col in ("win rate [95% CI]", "sign p", "pos. cons.", "gate", "verdict"):
        t.add_column(col)
    for r in rows:
        e, s, c = r["exact"], r.get("stats"), r["judge"]
        classes = ", ".join(f"{n} {k}" for k, n in e["classes"].items() if k != "identical")
        judge = "-" if c is None else f"{c['win']}/{c['ties_total']}/{c['loss']}"
        if c and (c["inconsistent"] or c["unparsable"]):
            judge += f" ({c['inconsistent']} incons., {c['unparsable']} unpars.)"
        if c and c.get("failed"):
            judge += f" ({c['failed']} not judged: the judge failed)"
        interval = "-"
        if s:
            interval = f"{s['win_rate']:.2f} [{s['interval'][0]:.2f}, {s['interval'][1]:.2f}]"
        consistency = s and s["position_consistency"]
        t.add_row(
            r["arm"],
            f"{r['temperature']:g}",
            _rate(e["identical"], e["pairs"]),
            _rate(e["tool_equal"], e["tool_pairs"]),
            classes or "-",
            judge,
            interval,
            "-" if not s else f"{s['sign_p']:.3g}",
            "-" if consistency is None or consistency is False else f"{consistency:.2f}",
            _gate(r.get("judge_gate")),
            r["verdict"],
        )
    t.caption = "\n".join(f"{r['arm']} T={r['temperature']:g}: {r['reason']}" for r in rows)
    t.caption_justify = "left"
    return t


def _gate(gate: dict[str, Any] | None) -> str:
    if gate is None:
        return "-"
    control = f"{gate['control_preferred']}/{gate['control_n']}"
    return f"{'pass' if gate['passed'] else 'FAIL'} ({control} planted)"


def _rate(k: int, n: int) -> str:
    return "-" if not n else f"{k}/{n}"
