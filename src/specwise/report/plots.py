"""The report's figures (matplotlib, Agg): each is written as PNG and SVG under DIR/figures/.

Each function draws one figure from `StudyData` and the series of `report.tables`; `draw_all`
writes the ones the data supports and returns them in report order. Model and arm names are
drawn as plain text (usetex off, mathtext disabled for labels taken from data).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from specwise import cost
from specwise.report import tables
from specwise.report.theory import theory_table
from specwise.results import StudyData

DPI = 110
VERDICT_COLORS = {"equivalent": "#66bb6a", "differs": "#ef5350", "judge unreliable": "#ffb74d"}


@dataclass
class Plot:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path


def safe_text(text: str) -> str:
    """Data text drawn literally: `$` would start mathtext."""
    return text.replace("$", r"\$")


def _temps(data: StudyData) -> list[float]:
    return sorted({r.temperature for r in data.done})


def _grid(n: int, title: str) -> tuple[Figure, list]:
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.8), squeeze=False)
    fig.suptitle(title)
    return fig, list(axes[0])


def _lines(data: StudyData, value, ylabel: str, title: str, logx: bool = True) -> Figure:
    temps = _temps(data)
    fig, axes = _grid(len(temps), title)
    for ax, t in zip(axes, temps, strict=True):
        for (arm, temp), points in sorted(tables.series(data.done, value).items()):
            if temp == t and points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=safe_text(arm))
        style_axes(ax, f"temperature {t:g}", ylabel, logx)
    return fig


def style_axes(ax, title: str, ylabel: str, logx: bool = True) -> None:
    ax.set_title(title)
    ax.set_xlabel("concurrency")
    ax.set_ylabel(ylabel)
    if logx:
        marked = [line for line in ax.get_lines() if line.get_marker() not in ("None", "", None)]
        ticks = sorted({int(x) for line in marked for x in line.get_xdata()})
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(c) for c in ticks])
        ax.minorticks_off()
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def throughput(data: StudyData) -> Figure:
    return _lines(
        data, lambda r: r.output_tokens_per_s, "output tok/s", "Throughput vs concurrency"
    )


def tpot(data: StudyData) -> Figure:
    def p50_ms(r):
        return None if not r.tpot_s else r.tpot_s["median"] * 1e3

    return _lines(data, p50_ms, "TPOT p50 (ms)", "TPOT vs concurrency")


def interval_line(ax, points, label: str, style: str = "-", color: str | None = None) -> None:
    """X per concurrency with its interval (the study's confidence) as error bars."""
    xs = [c for c, _ in points]
    ys = [x.estimate for _, x in points]
    err = [[x.estimate - x.low for _, x in points], [x.high - x.estimate for _, x in points]]
    ax.errorbar(xs, ys, yerr=err, fmt=style, marker="o", capsize=3, label=label, color=color)


def speedup(data: StudyData) -> Figure | None:
    sp = tables.speedups(data)
    if not sp:
        return None
    temps = _temps(data)
    fig, axes = _grid(len(temps), f"Throughput ratio vs {data.baseline} (paired, with interval)")
    for ax, t in zip(axes, temps, strict=True):
        for (arm, temp), points in sorted(sp.items()):
            if temp == t and points:
                interval_line(ax, points, safe_text(arm))
        ax.axhspan(1 - data.margin, 1 + data.margin, color="grey", alpha=0.15, label="break-even")
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        style_axes(ax, f"temperature {t:g}", "throughput ratio (×)")
    return fig


def theory(data: StudyData) -> Figure | None:
    """Measured X with its interval (solid) beside tokens per step / r (dashed), per
    speculative arm, one panel per temperature."""
    rows = [r for r in theory_table(data).rows if r["predicted"] is not None]
    if not rows:
        return None
    temps = sorted({r["t"] for r in rows})
    fig, axes = _grid(len(temps), "Measured speedup vs tokens per step / step cost")
    for ax, t in zip(axes, temps, strict=True):
        for i, arm in enumerate(sorted({r["arm"] for r in rows})):
            pts = sorted((r["c"], r) for r in rows if r["arm"] == arm and r["t"] == t)
            if not pts:
                continue
            interval_line(ax, [(c, r["measured"]) for c, r in pts], safe_text(arm), "-", f"C{i}")
            xs = [c for c, _ in pts]
            ax.plot(xs, [r["predicted"] for _, r in pts], "--", color=f"C{i}", label="tok/step ÷ r")
        ax.axhline(1.0, color="black", linewidth=1)
        style_axes(ax, f"temperature {t:g}", "speedup (×)")
    return fig


def per_position(data: StudyData) -> Figure | None:
    """Mean over an arm's configurations of αᵢ = accepted at position i / drafts."""
    rates: dict[str, list[list[float]]] = defaultdict(list)
    for r in data.done:
        if r.per_position_rates:
            rates[r.arm].append(r.per_position_rates)
    if not rates:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    width = 0.8 / len(rates)
    for i, (arm, runs) in enumerate(sorted(rates.items())):
        n = max(len(x) for x in runs)
        mean = [sum(x[p] for x in runs if p < len(x)) / len(runs) for p in range(n)]
        ax.bar(
            [p + 1 + (i - (len(rates) - 1) / 2) * width for p in range(n)],
            mean,
            width,
            label=safe_text(arm),
        )
    ax.set_xlabel("draft position i")
    ax.set_ylabel("accepted at i / drafts")
    ax.set_title("Per-position acceptance")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return fig


def acceptance_lengths(data: StudyData) -> Figure | None:
    """Histogram of per-request acceptance length, pooled over an arm's configurations."""
    lengths: dict[str, list[float]] = defaultdict(list)
    sources: set[str] = set()
    for r in data.done:
        if r.speculative and r.request_lengths:
            lengths[r.arm] += r.request_lengths
            sources.add(r.request_lengths_source or "")
    if not lengths:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    top = max(max(v) for v in lengths.values())
    bins = [1 + i * (top - 1 + 1e-9) / 20 for i in range(21)] if top > 1 else 10
    for arm, values in sorted(lengths.items()):
        ax.hist(
            values,
            bins=bins,
            histtype="step",
            linewidth=2,
            label=f"{safe_text(arm)} (n={len(values)})",
        )
    proxy = "proxy_tokens_per_chunk" in sources
    ax.set_xlabel("tokens per streamed chunk (PROXY)" if proxy else "acceptance length per request")
    ax.set_ylabel("requests")
    ax.set_title("Acceptance length per request")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def pareto(data: StudyData) -> Figure:
    """tok/s per GPU (y) vs median tok/s per user (x); one marker per temperature; labels at the
    lowest temperature give concurrency and $/1M output tokens."""
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    temps = _temps(data)
    points = []
    for i, arm in enumerate(sorted({r.arm for r in data.done})):
        color = f"C{i}"
        for t, marker in zip(temps, "o^sDv<>", strict=False):
            xs, ys = [], []
            for r in data.done:
                y = cost.per_gpu(r.output_tokens_per_s, r.gpus)
                if r.arm != arm or r.temperature != t or y is None or not r.per_user_tokens_per_s:
                    continue
                x = r.per_user_tokens_per_s["median"]
                xs.append(x)
                ys.append(y)
                points.append((x, y))
                usd = cost.usd_per_million_tokens(r.gpus, r.gpu_hour_usd, r.output_tokens_per_s)
                if t == temps[0]:
                    note = f"c{r.concurrency}" + (f" \\${usd:.2f}" if usd else "")
                    ax.annotate(note, (x, y), fontsize=7, xytext=(4, 2), textcoords="offset points")
            label = safe_text(arm) + (f" T={t:g}" if len(temps) > 1 else "")
            ax.scatter(xs, ys, color=color, marker=marker, s=26, label=label)
    front = pareto_front(points)
    if len(front) > 1:
        fx, fy = zip(*front, strict=True)
        ax.plot(fx, fy, color="grey", linewidth=1, linestyle=":", label="Pareto front")
    ax.set_xlabel("tok/s per user (median of 1 / TPOT)")
    ax.set_ylabel("output tok/s per GPU")
    ax.set_title(
        f"Per-GPU vs per-user throughput (labels: concurrency, \\$/1M tok at T={temps[0]:g})"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both axes (higher is better), by increasing x."""
    front = [p for p in points if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]
    return sorted(set(front))


def verdicts(data: StudyData) -> Figure | None:
    if not data.verdicts:
        return None
    arms = sorted({v.arm for v in data.verdicts})
    temps = sorted({v.temperature for v in data.verdicts})
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(temps), 0.9 + 0.5 * len(arms)))
    for v in data.verdicts:
        x, y = temps.index(v.temperature), arms.index(v.arm)
        ax.add_patch(plt.Rectangle((x, y), 1, 1, color=VERDICT_COLORS.get(v.verdict, "#9e9e9e")))
        ax.text(x + 0.5, y + 0.5, safe_text(v.verdict), ha="center", va="center", fontsize=8)
    ax.set_xlim(0, len(temps))
    ax.set_ylim(0, len(arms))
    ax.set_xticks([i + 0.5 for i in range(len(temps))], [f"T={t:g}" for t in temps])
    ax.set_yticks([i + 0.5 for i in range(len(arms))], [safe_text(a) for a in arms])
    ax.set_title("Quality verdicts")
    return fig


FIGURES = (  # (name, title, draw, caption) in report order
    ("throughput", "Throughput vs concurrency", throughput, "Output tok/s per arm and T."),
    ("tpot", "TPOT vs concurrency", tpot, "Median TPOT = (E2E − TTFT) / (out − 1)."),
    (
        "speedup",
        "Speedup vs concurrency",
        speedup,
        "Paired X with its interval; band = break-even.",
    ),
    ("theory", "Theoretical check", theory, "Solid: measured X; dashed: tokens per step / r."),
    ("per_position", "Per-position acceptance", per_position, "αᵢ = accepted at i / drafts."),
    ("acceptance_lengths", "Acceptance length per request", acceptance_lengths, "Pooled."),
    ("pareto", "Per-GPU vs per-user throughput", pareto, "One point per configuration."),
    ("verdicts", "Quality verdicts", verdicts, "One cell per arm × temperature."),
)


def draw_all(data: StudyData, out: Path) -> list[Plot]:
    """Write every figure the data supports as out/figures/NAME.{png,svg}."""
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    plots = []
    for name, title, draw, caption in FIGURES:
        if not data.done and name != "verdicts":
            continue
        fig = draw(data)
        if fig is None:
            continue
        fig.tight_layout()
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        fig.savefig(png, dpi=DPI)
        fig.savefig(svg, metadata={"Date": None})
        plt.close(fig)
        plots.append(Plot(name, title, caption, png, svg))
    return plots
