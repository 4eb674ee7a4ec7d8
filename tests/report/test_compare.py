"""`specwise compare`: the join, the changes and the rendering (synthetic studies)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from specwise.report import html
from specwise.report.compare import compare_blocks, joined_table, speedup_figure
from specwise.results import Row, StudyData


def faster(r: Row) -> Row:
    """The same configuration 10 % faster (every request's E2E / 1.1), accepting 25 % more."""
    acc = replace(r.acceptance, accepted=round(r.acceptance.accepted * 1.25))
    pts = [replace(p, e2e_s=p.e2e_s / 1.1) for p in r.points]
    return replace(r, output_tokens_per_s=r.output_tokens_per_s * 1.1, acceptance=acc, points=pts)


def better_head(study: StudyData) -> StudyData:
    """B: the same study, eagle3-k3 10 % faster and accepting more."""
    rows = [faster(r) if r.arm == "eagle3-k3" and r.status == "done" else r for r in study.rows]
    return replace(study, name="new-head", rows=rows)


def test_joined_table(study: StudyData):
    t = joined_table(study, better_head(study))
    rows = {r["config"]: r for r in t.rows}
    assert len(rows) == 32  # cells both measured; the failed one is not among them
    k3, base = rows["eagle3-k3 c=4 T=0"], rows["nim-2gpu c=4 T=0"]
    assert k3["d_tok"] == pytest.approx(10.0) and base["d_tok"] == pytest.approx(0.0)
    # AL = 1 + accepted / drafts: 1 + 432 / 400 = 2.08 → 1 + 540 / 400 = 2.35
    assert (k3["al_a"], k3["al_b"]) == (pytest.approx(2.08), pytest.approx(2.35))
    assert k3["x_b"].estimate == pytest.approx(k3["x_a"].estimate * 1.1)  # paired gain, both
    assert base["x_a"] is None and base["v_a"] is None  # the baseline has no gain over itself


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
