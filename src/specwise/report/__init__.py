"""The study report: `write_report(DIR)` → DIR/report.html, DIR/report.md, DIR/figures/.

Flow: store → `results.load_results` (numbers) → `tables` / `plots` (computed) →
`document` (ordered blocks) → `html` / `markdown` (rendered, every text escaped).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from specwise.errors import SpecwiseError
from specwise.report import document, html, markdown, plots, tables
from specwise.results import StudyData, load_results


@dataclass
class Written:
    html: Path
    markdown: Path
    figures: list[Path]
    headline: str


def parse_prices(text: str | None) -> dict[str, float]:
    """ "2.5" (every arm) or "base=5,eagle3-k3=2.5" → {arm or "*": $/GPU-hour}."""
    if not text:
        return {}
    out: dict[str, float] = {}
    try:
        for part in text.split(","):
            arm, _, price = part.rpartition("=")
            out[arm.strip() or "*"] = float(price)
    except ValueError:
        raise SpecwiseError(
            f"--gpu-hour-usd {text!r} is not a price; pass e.g. 2.5 or base=5,eagle3-k3=2.5."
        ) from None
    if any(p < 0 for p in out.values()):
        raise SpecwiseError("--gpu-hour-usd must not be negative; pass $ per GPU-hour, e.g. 2.5.")
    return out


def with_prices(data: StudyData, prices: dict[str, float]) -> StudyData:
    """Override the study's $/GPU-hour: per arm, or "*" for every arm."""
    if not prices:
        return data
    rows = [
        replace(r, gpu_hour_usd=prices.get(r.arm, prices.get("*", r.gpu_hour_usd)))
        for r in data.rows
    ]
    return replace(data, rows=rows)


def headline(data: StudyData) -> str:
    return tables.headline(data)


def render(data: StudyData, out: Path) -> Written:
    """Draw the figures and write report.html + report.md for already loaded data."""
    out.mkdir(parents=True, exist_ok=True)
    figures = plots.draw_all(data, out)
    blocks = document.study_blocks(data, figures)
    title = f"specwise study: {data.name}"
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(html.render(title, blocks))
    md_path.write_text(markdown.render(title, blocks))
    files = [f for p in figures for f in (p.png, p.svg)]
    return Written(html_path, md_path, files, headline(data))


def write_report(
    out: Path,
    slo_ttft_ms: float | None = None,
    slo_tpot_ms: float | None = None,
    gpu_hour_usd: str | None = None,
) -> Written:
    """The `specwise report DIR` command (and the end of `specwise run`)."""
    data = load_results(Path(out), slo_ttft_ms, slo_tpot_ms)
    if not data.rows:
        raise SpecwiseError(f"{out} holds no measured configuration yet; run the sweep first.")
    return render(with_prices(data, parse_prices(gpu_hour_usd)), Path(out))
