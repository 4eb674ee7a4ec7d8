"""`specwise compare`: the join, the changes and the rendering (synthetic studies)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from specwise.report import html
from specwise.report.compare import compare_blocks, joined_table, speedup_figure
from specwise.report.model import StudyData


def better_head(study: StudyData) -> StudyData:
    """B: the same study, eagle3-k3 10 % faster and accepting more."""
    rows = [
        replace(r, output_tokens_per_s=r.output_tokens_per_s * 1.1, acceptance_length=2.5)
        if r.arm == "eagle3-k3" and r.status == "done"
        else r
        for r in study.rows
    ]
    return replace(study, name="new-head", rows=rows)


def test_joined_table(study: StudyData):
    t = joined_table(study, better_head(study))
    rows = {r["config"]: r for r in t.rows}
    assert len(rows) == 32
    assert rows["eagle3-k3 c=4 T=0"]["d_tok"] == pytest.approx(10.0)
    assert rows["nim-2gpu c=4 T=0"]["d_tok"] == pytest.approx(0.0)
    assert rows["eagle3-k3 c=4 T=0"]["d_al"] == pytest.approx((2.5 - 2.08) / 2.08 * 100)


def test_compare_renders(study: StudyData, tmp_path):
    b = better_head(study)
    fig = speedup_figure(study, b, tmp_path)
    assert fig is not None and fig.png.stat().st_size > 1000 and fig.svg.exists()
    page = html.render("compare", compare_blocks(study, b, fig))
    assert "new-head" in page and "<script" not in page
    assert page.count("data:image/png;base64,") == 1


def test_no_shared_configuration(study: StudyData):
    other = replace(study, rows=[replace(r, arm=r.arm + "-x") for r in study.rows])
    t = joined_table(study, other)
    assert not t.rows and "share no configuration" in t.note
