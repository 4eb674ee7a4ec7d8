"""The report's computations and its two renderings (no browser here; see test_browser.py)."""

from __future__ import annotations

import re

import pytest

from specwise.errors import SpecwiseError
from specwise.report import parse_prices, render, tables, with_prices
from specwise.report.model import StudyData
from specwise.report.plots import pareto_front
from specwise.report.theory import theory_table


def test_study_table_changes_vs_baseline(study: StudyData):
    t = tables.study_table(study)
    rows = {r["config"]: r for r in t.rows}
    assert len(rows) == 32  # the failed configuration is not in the table
    base, k3 = rows["nim-2gpu c=4 T=0"], rows["eagle3-k3 c=4 T=0"]
    assert base["d_tok"] is None
    assert k3["d_tok"] == pytest.approx((k3["tok_s"] - base["tok_s"]) / base["tok_s"] * 100)
    assert k3["tok_s_gpu"] == k3["tok_s"]  # one GPU
    assert base["tok_s_gpu"] == pytest.approx(base["tok_s"] / 2)
    # $/1M = 2 × 2.5 / (tok/s × 3600) × 1e6
    assert base["usd_1m"] == pytest.approx(5.0 / (base["tok_s"] * 3600) * 1e6)


def test_capacity_is_the_largest_concurrency_meeting_the_slo(study: StudyData):
    t = tables.capacity_table(study)
    by = {(r["arm"], r["t"]): r for r in t.rows}
    # the fixture meets the SLO while TPOT p50 < 45 ms: nim-2gpu everywhere, eagle3-k3 to 16
    assert by[("nim-2gpu", 0.0)]["cmax"] == 32
    assert by[("eagle3-k3", 0.0)]["cmax"] == 16
    assert by[("eagle3-k5", 0.0)]["cmax"] == 16


def test_theory_fits_c_per_arm(study: StudyData):
    rows = theory_table(study).rows
    assert {r["arm"] for r in rows} == {"eagle3-k3", "eagle3-k5"}
    assert {r["vs"] for r in rows} == {"vllm-1gpu"}  # same GPU count, not the 2-GPU baseline
    for r in rows:
        assert r["fit_c"] is not None and r["fit_c"] >= 0
        assert r["e"] == pytest.approx((1 - r["alpha"] ** (r["k"] + 1)) / (1 - r["alpha"]))
        assert r["theory"] == pytest.approx(r["e"] / (r["k"] * r["fit_c"] + 1))


def test_decision_and_headline(study: StudyData):
    lines = tables.decision_lines(study)
    assert lines[0].startswith("eagle3-k3 on 1 GPU delivers ")
    assert "2-GPU nim-2gpu" in lines[0] and "concurrency 32, temperature 0" in lines[0]
    assert any("eagle3-k5 at T=0: " in x and "never pays" in x for x in lines)


def test_prices_override():
    assert parse_prices("2.5") == {"*": 2.5}
    assert parse_prices("base=5, spec=2.5") == {"base": 5.0, "spec": 2.5}
    with pytest.raises(SpecwiseError, match="not a price"):
        parse_prices("base=cheap")


def test_with_prices(study: StudyData):
    priced = with_prices(study, {"*": 1.0, "nim-2gpu": 4.0})
    assert {(r.arm, r.gpu_hour_usd) for r in priced.rows if r.arm != "eagle3-k5"} == {
        ("nim-2gpu", 4.0),
        ("vllm-1gpu", 1.0),
        ("eagle3-k3", 1.0),
    }


def test_pareto_front():
    pts = [(1, 10), (2, 8), (1.5, 5), (3, 1), (0.5, 9)]
    assert pareto_front(pts) == [(1, 10), (2, 8), (3, 1)]


def test_render_escapes_everything(study: StudyData, tmp_path):
    written = render(study, tmp_path)
    page = written.html.read_text()
    assert "<script" not in page.lower()  # planted scripts are escaped, the page has none
    assert "&lt;script&gt;document.title=&quot;PWNED&quot;" in page
    assert "server crashed: &lt;b&gt;CUDA&lt;/b&gt; out of memory" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    assert page.count("data:image/png;base64,") == len(written.figures) // 2 == 8
    for f in written.figures:
        assert f.exists() and f.stat().st_size > 1000
    md = written.markdown.read_text()
    assert "<script" not in md and "&lt;script&gt;" in md
    assert "![Throughput vs concurrency](figures/throughput.png)" in md
    assert written.headline.startswith("eagle3-k3 on 1 GPU delivers")


def test_render_with_only_a_baseline(tmp_path, study: StudyData):
    only = StudyData("one", "nim-2gpu", [r for r in study.rows if r.arm == "nim-2gpu"])
    written = render(only, tmp_path)
    assert "No speculative arm" in written.html.read_text()
    assert {p.name for p in written.figures} == {
        "throughput.png", "throughput.svg", "tpot.png", "tpot.svg", "pareto.png", "pareto.svg"
    }  # fmt: skip
