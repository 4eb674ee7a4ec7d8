"""`specwise compare DIR1 DIR2`: two studies side by side (e.g. the shipped head vs a new one).

Cells are joined on (arm, concurrency, temperature), repeats pooled:
    each study's paired gain over its own baseline (X with its interval and verdict,
    specwise.gains), and Δ = (B − A) / A × 100 for tok/s and AL
Both decisions are shown, and one figure overlays the two studies' gains (A solid, B dashed).
Written to OUT/compare.html + OUT/compare.md + OUT/figures/.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from specwise.gains import pair_with_baseline
from specwise.report import html, markdown, plots, tables
from specwise.report.document import Block
from specwise.results import StudyData, load_results, percent, pooled_acceptance


def joined_table(a: StudyData, b: StudyData) -> tables.Table:
    """One row per cell both studies measured: each study's gain and verdict, and the change."""
    ga = {(g.arm, g.concurrency, g.temperature): g for g in pair_with_baseline(a)}
    gb = {(g.arm, g.concurrency, g.temperature): g for g in pair_with_baseline(b)}
    tok_a, tok_b = _cells(a), _cells(b)
    rows = []
    for key, (ra, al_a) in tok_a.items():
        if key not in tok_b:
            continue
        rb, al_b = tok_b[key]
        x_a, x_b = ga.get(key), gb.get(key)
        rows.append(
            {
                "config": f"{key[0]} c={key[1]} T={key[2]:g}",
                "tok_a": ra, "tok_b": rb, "d_tok": change(rb, ra),
                "x_a": x_a.throughput if x_a else None, "v_a": x_a.verdict if x_a else None,
                "x_b": x_b.throughput if x_b else None, "v_b": x_b.verdict if x_b else None,
                "al_a": al_a, "al_b": al_b, "d_al": change(al_b, al_a),
            }
        )  # fmt: skip
    columns = [
        ("config", "cell", ""),
        ("tok_a", "tok/s A", ".1f"),
        ("tok_b", "tok/s B", ".1f"),
        ("d_tok", "Δ tok/s", "%+"),
        ("x_a", f"gain A [{percent(a.confidence)} CI]", "x"),
        ("v_a", "verdict A", ""),
        ("x_b", f"gain B [{percent(b.confidence)} CI]", "x"),
        ("v_b", "verdict B", ""),
        ("al_a", "AL A", ".2f"),
        ("al_b", "AL B", ".2f"),
        ("d_al", "Δ AL", "%+"),
    ]
    note = (
        f"A = {a.name}, B = {b.name}; gain = paired throughput ratio over each study's own "
        "baseline (repeats pooled); Δ = (B − A) / A × 100 on the same cell."
    )
    if not rows:
        note += " The two studies share no configuration (arm, concurrency, temperature)."
    return tables.Table("Side by side", columns, rows, note)


def change(value: float | None, base: float | None) -> float | None:
    """% change = (value − base) / base × 100."""
    return None if value is None or not base else (value - base) / base * 100


def _cells(data: StudyData) -> dict[tuple[str, int, float], tuple[float | None, float | None]]:
    """(arm, c, T) → (mean tok/s over repeats, pooled AL)."""
    groups: dict[tuple[str, int, float], list] = {}
    for r in data.done:
        groups.setdefault((r.arm, r.concurrency, r.temperature), []).append(r)
    out = {}
    for key, rows in groups.items():
        tok = [r.output_tokens_per_s for r in rows if r.output_tokens_per_s is not None]
        acc = pooled_acceptance(rows)
        al = acc.acceptance_length if acc else rows[0].acceptance_length
        out[key] = (sum(tok) / len(tok) if tok else None, al)
    return out


def speedup_figure(a: StudyData, b: StudyData, out: Path) -> plots.Plot | None:
    sa, sb = tables.speedups(a), tables.speedups(b)
    if not sa and not sb:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    for study, sp, style in ((a, sa, "-"), (b, sb, "--")):
        for (arm, t), points in sorted(sp.items()):
            if points:
                label = plots.safe_text(f"{study.name}: {arm} T={t:g}")
                plots.interval_line(ax, points, label, style)
    ax.axhline(1.0, color="black", linewidth=1, linestyle=":", label="break-even")
    plots.style_axes(ax, "Gain over each study's baseline (A solid, B dashed)", "ratio (×)")
    fig.tight_layout()
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / "compare_speedup.png", folder / "compare_speedup.svg"
    fig.savefig(png, dpi=plots.DPI)
    fig.savefig(svg, metadata={"Date": None})
    plt.close(fig)
    return plots.Plot(
        "compare_speedup", "Gains, both studies", "Paired X with its interval.", png, svg
    )


def compare_blocks(a: StudyData, b: StudyData, figure: plots.Plot | None) -> list[Block]:
    blocks: list[Block] = [
        ("h2", f"A: {a.name}"),
        ("list", tables.decision_lines(a)),
        ("p", tables.decided_summary(a) + "."),
        ("h2", f"B: {b.name}"),
        ("list", tables.decision_lines(b)),
        ("p", tables.decided_summary(b) + "."),
        ("table", joined_table(a, b)),
    ]
    if figure is not None:
        blocks.append(("figure", figure))
    blocks += [
        ("h2", "Conditions A"),
        ("kv", a.conditions),
        ("h2", "Conditions B"),
        ("kv", b.conditions),
    ]
    return blocks


def compare_studies(dir_a: Path, dir_b: Path, out: Path | None = None) -> Path:
    """Write OUT/compare.html + OUT/compare.md (OUT defaults to DIR_B/compare); return the HTML."""
    a, b = load_results(Path(dir_a)), load_results(Path(dir_b))
    out = Path(out) if out else Path(dir_b) / "compare"
    out.mkdir(parents=True, exist_ok=True)
    blocks = compare_blocks(a, b, speedup_figure(a, b, out))
    title = f"specwise compare: {a.name} vs {b.name}"
    (out / "compare.md").write_text(markdown.render(title, blocks))
    page = out / "compare.html"
    page.write_text(html.render(title, blocks))
    return page
