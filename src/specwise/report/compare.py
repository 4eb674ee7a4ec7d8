"""`specwise compare DIR1 DIR2`: two studies side by side (e.g. the shipped head vs a new one).

Configurations are joined on (arm, concurrency, temperature, repeat):
    Δ = (B − A) / A × 100 for tok/s, TPOT p50, α and AL
Both headlines and both decisions are shown, and one figure overlays the two studies' speedups
(A solid, B dashed). Written to OUT/compare.html + OUT/compare.md + OUT/figures/.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from specwise.report import html, markdown, plots, tables
from specwise.report.document import Block
from specwise.report.model import StudyData, rows_from_store


def joined_table(a: StudyData, b: StudyData) -> tables.Table:
    """One row per configuration both studies measured, A's value, B's and the change."""
    key = lambda r: (r.arm, r.concurrency, r.temperature, r.repeat)  # noqa: E731
    other = {key(r): r for r in b.done}
    rows = []
    for r in a.done:
        s = other.get(key(r))
        if s is None:
            continue
        tpot_a = r.tpot_s["median"] if r.tpot_s else None
        tpot_b = s.tpot_s["median"] if s.tpot_s else None
        rows.append(
            {
                "config": r.label,
                "tok_a": r.output_tokens_per_s,
                "tok_b": s.output_tokens_per_s,
                "d_tok": tables.change(s.output_tokens_per_s, r.output_tokens_per_s),
                "tpot_a": tpot_a,
                "tpot_b": tpot_b,
                "d_tpot": tables.change(tpot_b, tpot_a),
                "alpha_a": r.acceptance_rate,
                "alpha_b": s.acceptance_rate,
                "al_a": r.acceptance_length,
                "al_b": s.acceptance_length,
                "d_al": tables.change(s.acceptance_length, r.acceptance_length),
            }
        )
    columns = [
        ("config", "configuration", ""),
        ("tok_a", "tok/s A", ".1f"),
        ("tok_b", "tok/s B", ".1f"),
        ("d_tok", "Δ tok/s", "%+"),
        ("tpot_a", "TPOT p50 A ms", "ms"),
        ("tpot_b", "TPOT p50 B ms", "ms"),
        ("d_tpot", "Δ TPOT", "%+"),
        ("alpha_a", "α A", ".3f"),
        ("alpha_b", "α B", ".3f"),
        ("al_a", "AL A", ".2f"),
        ("al_b", "AL B", ".2f"),
        ("d_al", "Δ AL", "%+"),
    ]
    note = f"A = {a.name}, B = {b.name}; Δ = (B − A) / A × 100 on the same configuration."
    if not rows:
        note += " The two studies share no configuration (arm, concurrency, temperature)."
    return tables.Table("Side by side", columns, rows, note)


def speedup_figure(a: StudyData, b: StudyData, out: Path) -> plots.Plot | None:
    sa, sb = tables.speedups(a), tables.speedups(b)
    if not sa and not sb:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    for study, sp, style in ((a, sa, "-"), (b, sb, "--")):
        for (arm, t), points in sorted(sp.items()):
            if points:
                xs, ys = zip(*points, strict=True)
                label = plots.safe_text(f"{study.name}: {arm} T={t:g}")
                ax.plot(xs, ys, style, marker="o", label=label)
    ax.axhline(1.0, color="black", linewidth=1, linestyle=":", label="break-even")
    plots.style_axes(ax, "Speedup vs each study's baseline (A solid, B dashed)", "speedup (×)")
    fig.tight_layout()
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / "compare_speedup.png", folder / "compare_speedup.svg"
    fig.savefig(png, dpi=plots.DPI)
    fig.savefig(svg, metadata={"Date": None})
    plt.close(fig)
    return plots.Plot(
        "compare_speedup", "Speedup, both studies", "tok/s ratio to the baseline.", png, svg
    )


def compare_blocks(a: StudyData, b: StudyData, figure: plots.Plot | None) -> list[Block]:
    blocks: list[Block] = [
        ("h2", f"A: {a.name}"),
        ("list", tables.decision_lines(a)),
        ("h2", f"B: {b.name}"),
        ("list", tables.decision_lines(b)),
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
    a, b = rows_from_store(Path(dir_a)), rows_from_store(Path(dir_b))
    out = Path(out) if out else Path(dir_b) / "compare"
    out.mkdir(parents=True, exist_ok=True)
    blocks = compare_blocks(a, b, speedup_figure(a, b, out))
    title = f"specwise compare: {a.name} vs {b.name}"
    (out / "compare.md").write_text(markdown.render(title, blocks))
    page = out / "compare.html"
    page.write_text(html.render(title, blocks))
    return page
