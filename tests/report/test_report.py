"""The report's computations and its two renderings (no browser here; see test_browser.py)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from specwise.errors import SpecwiseError
from specwise.report import parse_prices, render, tables, with_prices
from specwise.report.plots import pareto_front
from specwise.report.theory import theory_table
from specwise.results import StudyData


def test_study_table_shows_every_configuration(study: StudyData):
    t = tables.study_table(study)
    rows = {r["config"]: r for r in t.rows}
    assert len(rows) == 32  # the failed configuration is not in the table
    base, k3 = rows["nim-2gpu c=4 T=0"], rows["eagle3-k3 c=4 T=0"]
    assert k3["tok_s_gpu"] == k3["tok_s"]  # one GPU
    assert base["tok_s_gpu"] == pytest.approx(base["tok_s"] / 2)
    # $/1M = 2 × 2.5 / (tok/s × 3600) × 1e6
    assert base["usd_1m"] == pytest.approx(5.0 / (base["tok_s"] * 3600) * 1e6)


def test_gains_table_pairs_every_arm_with_the_baseline(study: StudyData):
    rows = {(r["arm"], r["t"], r["c"]): r for r in tables.gains_table(study).rows}
    assert len(rows) == 24  # 3 arms × 2 T × 4 c; the baseline has no gain over itself
    assert ("nim-2gpu", 0.0, 4) not in rows
    k3 = rows[("eagle3-k3", 0.0, 1)]
    assert k3["pairs"] == 16 and k3["x"].low <= k3["x"].estimate <= k3["x"].high
    # the same requests, 64 tokens each: X = Σ E2E(baseline) / Σ E2E(arm)
    a = [
        p.e2e_s
        for r in study.done
        if (r.arm, r.concurrency, r.temperature) == ("eagle3-k3", 1, 0)
        for p in r.points
    ]
    b = [
        p.e2e_s
        for r in study.done
        if (r.arm, r.concurrency, r.temperature) == ("nim-2gpu", 1, 0)
        for p in r.points
    ]
    assert k3["x"].estimate == pytest.approx(sum(b) / sum(a))
    # cost per token ratio Y = ($2.50 / $5.00) / X, its interval from X's ends
    assert k3["y"].estimate == pytest.approx(0.5 / k3["x"].estimate)
    assert k3["y"].low == pytest.approx(0.5 / k3["x"].high)
    assert {r["verdict"] for r in rows.values()} <= {"pays", "loses", "break-even", "inconclusive"}


def test_theory_uses_measured_step_cost_not_a_fit(study: StudyData):
    rows = theory_table(study).rows
    assert {r["arm"] for r in rows} == {"eagle3-k3", "eagle3-k5"}
    assert {r["vs"] for r in rows} == {"vllm-1gpu"}  # same GPU count, not the 2-GPU baseline
    k3 = next(r for r in rows if (r["arm"], r["t"], r["c"]) == ("eagle3-k3", 0.0, 1))
    # counters: 16 × 64 = 1024 generated, 400 drafts, accepted round(400 × 0.36 × 3) = 432;
    # steps = max(1024 − 432, 400 + 16) = 592 → 1024 / 592 tokens per step, AL = 1 + 432/400
    assert k3["tps"] == pytest.approx(1024 / 592) and k3["al"] == pytest.approx(2.08)
    assert k3["tps"] <= k3["al"]
    # α i.i.d. solves 1 + α + α² + α³ = 2.08
    a = k3["alpha_iid"]
    assert 1 + a + a**2 + a**3 == pytest.approx(2.08, abs=1e-6)
    # fixture: the arm's TPOT is the plain arm's / its gain g at c = 1: g = 1 + 0.7 / (1 + 1/16)
    g = 1 + 0.7 / (1 + 1 / 16)
    assert k3["r"] == pytest.approx(k3["tps"] / g)  # r = TPOT ratio × tokens per step
    assert k3["predicted"] == pytest.approx(g)


def test_decision_per_arm_and_load(study: StudyData):
    lines = tables.decision_lines(study)
    k3 = next(x for x in lines if x.startswith("eagle3-k3 at T=0: "))
    assert "pays at c = 1 (+" in k3 and "enable it at c ≤ " in k3
    assert any(x.startswith("eagle3-k3 on 1 GPU delivers ") for x in lines)  # GPU counts differ
    assert "concurrency 32, temperature 0" in lines[-1]
    summary = tables.decided_summary(study)
    decided = sum(r["verdict"] != "inconclusive" for r in tables.gains_table(study).rows)
    assert summary.startswith(f"{decided} of 24 arm × cell gains decided")


def test_the_schedule_takes_the_k_that_pays_most_surely_at_each_load(study: StudyData):
    """k = 3 gains more than k = 5 at every concurrency of the fixture, and both pay up to
    c = 32 against the 1-GPU arm: k = 3 for batch sizes 1–32, then 0 (never measured above)."""
    one_gpu = replace(study, baseline="vllm-1gpu")
    rows = [r for r in tables.schedule_table(one_gpu).rows if r["t"] == 0.0]
    assert [(r["family"], r["c"], r["k"], r["arm"]) for r in rows] == [
        ("eagle3", c, 3, "eagle3-k3") for c in (1, 4, 16, 32)
    ]
    assert {r["schedule"] for r in rows} == {"[[1, 32, 3], [33, 1048576, 0]]"}


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
    assert written.headline.startswith("At T=0 vs nim-2gpu — eagle3-k3: enable it at c ≤ ")


def test_render_with_only_a_baseline(tmp_path, study: StudyData):
    only = StudyData("one", "nim-2gpu", [r for r in study.rows if r.arm == "nim-2gpu"])
    written = render(only, tmp_path)
    assert "No speculative arm" in written.html.read_text()
    assert {p.name for p in written.figures} == {
        "throughput.png", "throughput.svg", "tpot.png", "tpot.svg", "pareto.png", "pareto.svg"
    }  # fmt: skip


def test_suffix_has_no_iid_alpha_but_a_measured_prediction(study: StudyData):
    """Suffix drafts a varying number of tokens: its row keeps tokens per step, r and the
    prediction, and leaves the fixed-k i.i.d. α out."""
    from dataclasses import replace

    as_suffix = replace(
        study, rows=[replace(r, method="suffix") if r.arm == "eagle3-k3" else r for r in study.rows]
    )
    rows = [r for r in theory_table(as_suffix).rows if r["arm"] == "eagle3-k3"]
    assert rows and all(r["method"] == "suffix" and r["alpha_iid"] is None for r in rows)
    assert all(r["predicted"] is not None and r["tps"] is not None for r in rows)
    from specwise.report.document import measured

    assert "suffix decoding" in measured(as_suffix) and "suffix decoding" not in measured(study)


def test_an_undecided_gain_that_cannot_pay_says_leave_it_off():
    from specwise.gains import Gain, Interval, verdict

    def gain(c: int, low: float, x: float, high: float) -> Gain:
        i = Interval(x, low, high)
        return Gain("a", "b", c, 0.0, 32, i, None, None, None, verdict(i, 32), 0.03)

    below = tables.action([gain(1, 0.77, 0.88, 1.00), gain(4, 0.56, 0.69, 0.84)])
    assert below == "it cannot pay at c = 1 (interval below +3 %): leave it off"
    open_ = tables.action([gain(1, 0.94, 1.10, 1.28), gain(4, 0.77, 0.88, 1.00)])
    assert open_ == (
        "it cannot pay at c = 4 (interval below +3 %); undecided at c = 1: measure more "
        "requests there"
    )


def test_methods_compared_per_load_best_first(study: StudyData):
    """Per T and c, every speculative arm ordered by X's lower bound, with its per-position
    acceptance from the counters, and the k of a per-batch-size schedule at that load."""
    from specwise.report.methods import methods_table

    sched = {"method": "eagle3", "model": "h", "num_speculative_tokens": 5,
             "num_speculative_tokens_per_batch_size": [[1, 1, 5], [2, 1048576, 0]]}  # fmt: skip
    arms = study.arms | {"eagle3-k5": {"name": "eagle3-k5", "speculative_config": sched}}
    table = methods_table(replace(study, baseline="vllm-1gpu", arms=arms))
    cells = [(r["t"], r["c"]) for r in table.rows]
    assert cells == sorted(cells) and len(cells) == 16  # 2 arms × 2 T × 4 c
    first = table.rows[:2]  # T = 0, c = 1
    assert [r["arm"] for r in first] == ["eagle3-k3", "eagle3-k5"]  # k3 gains more
    assert first[0]["x"].low >= first[1]["x"].low
    # counters: per position round(400 × 0.36^(i+1) × 1.3) of 400 drafting steps, 4 runs pooled
    a = [round(400 * 0.36 ** (i + 1) * 1.3) / 400 for i in range(3)]
    assert first[0]["positions"] == " · ".join(f"{x:.2f}" for x in a)
    assert first[0]["k"] == "3" and first[0]["tuned"] == 3  # eagle3-k3 alone is the family
    by_c = {r["c"]: r for r in table.rows if r["arm"] == "eagle3-k5" and r["t"] == 0.0}
    assert by_c[1]["k"] == "5 (schedule)" and by_c[4]["k"] == "0 (schedule)"
    assert by_c[1]["tuned"] is None  # a scheduled arm is not tuned again
    assert "T = 0, c = 1: eagle3-k3 pays, with the highest lower bound." in table.note
