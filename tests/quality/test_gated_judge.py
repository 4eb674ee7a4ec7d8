"""The judge's gate end to end (bench directories, fake judges on 127.0.0.1, no vLLM): a judge
that cannot tell answers apart never makes anything "equivalent", a sound one still can."""

from __future__ import annotations

import pytest
from bench_dirs import write_dir
from fake_judge import CALLS, fake_judge

from specwise.bench.client import RequestRecord
from specwise.quality import exact
from specwise.quality.run import Group, JudgeOptions, evaluate, run_judge
from specwise.quality.settings import JudgeSettings

NO_JUDGE = JudgeSettings(llm_judge=False)

WIDE = (0.4, 0.6)  # n = 100 ties: Wilson [.404, .596] lies inside, so 100 pairs suffice


def answer(i: int) -> str:
    return f"Your order {i:04d} shipped on Monday and should arrive by Friday at the latest."


def same_length_rewording(i: int) -> str:
    """Differs from answer(i), as long as it, neither a prefix of the other: a tie to judge."""
    return answer(i).replace("Monday", "MONDAY")


def judge_dirs(tmp_path, model: str, n: int, candidate, margin=WIDE) -> dict:
    base = write_dir(tmp_path / "base", None, {f"q{i}": answer(i) for i in range(n)})
    cand = write_dir(tmp_path / "ngram", None, {f"q{i}": candidate(i) for i in range(n)})
    return judge(base, cand, model, margin)


def judge(base, cand, model: str, margin=WIDE) -> dict:
    with fake_judge() as url:
        CALLS.clear()
        settings = JudgeSettings(judge_url=url, judge_model=model, margin=margin, concurrency=16)
        options = JudgeOptions(source=cand, baseline=base, settings=settings)
        (row,) = run_judge(options)
    return row


def test_an_always_a_judge_is_unreliable(tmp_path):
    """The old rule counted its 400 inconsistent pairs as ties: win rate .50 [.451, .549],
    "equivalent" at the default margin."""
    row = judge_dirs(tmp_path, "always-a", 400, same_length_rewording, margin=(0.45, 0.55))
    assert row["verdict"] == "judge unreliable"
    assert "position consistency 0.00 [0.00, 0.01] on 400 decided pairs" in row["reason"]
    assert row["judge"]["inconsistent"] == 400 and row["judge"]["n"] == 0
    gate = row["judge_gate"]
    assert (gate["decided"], gate["consistency"], gate["passed"]) == (400, 0.0, False)
    assert (gate["control_preferred"], gate["control_n"]) == (0, 20)


def test_a_judge_fooled_by_truncation_fails_the_positive_control(tmp_path):
    """Consistent (it always prefers the shorter reply, in either order) and all ties on the
    real pairs, so the old rules said "equivalent"; it prefers every planted truncation."""
    row = judge_dirs(tmp_path, "prefers-shorter", 100, same_length_rewording)
    assert row["verdict"] == "judge unreliable"
    assert "intact answer in 0/20 planted pairs" in row["reason"]
    assert "position consistency" not in row["reason"]  # that part of the gate passed
    gate = row["judge_gate"]
    assert gate["consistency"] == 1.0 and gate["decided"] == 100
    assert {o["planted"] for o in gate["control_outcomes"]} == {"truncated"}
    assert {o["outcome"] for o in gate["control_outcomes"]} == {"win"}


def test_a_judge_that_prefers_longer_replies_fails_on_wrong_tool_calls(tmp_path):
    """Planted wrong tool calls are longer than the intact ones: length bias either way fails."""
    call = '{{"tool": "get_order_status", "arguments": {{"order_id": "{}-{:04d}"}}}}'
    base = write_dir(tmp_path / "base", None, {f"q{i}": call.format("A", i) for i in range(30)})
    cand = write_dir(tmp_path / "ngram", None, {f"q{i}": call.format("B", i) for i in range(30)})
    row = judge(base, cand, "prefers-longer")
    assert row["verdict"] == "judge unreliable"
    assert "intact answer in 0/20 planted pairs" in row["reason"]
    assert {o["planted"] for o in row["judge_gate"]["control_outcomes"]} == {"wrong_tool"}


def test_identical_outputs_are_equivalent_without_the_judge(tmp_path):
    row = judge_dirs(tmp_path, "sensible", 400, answer)
    assert row["verdict"] == "equivalent" and "all 400 outputs identical" in row["reason"]
    assert row["judge_gate"] is None and CALLS == []  # no pair, planted or real, was judged


def test_a_sound_judge_can_still_show_equivalence(tmp_path):
    row = judge_dirs(tmp_path, "sensible", 100, same_length_rewording)
    assert row["verdict"] == "equivalent", row["reason"]
    assert "win rate 0.500 [0.404, 0.596] inside [0.4, 0.6] (n = 100)" in row["reason"]
    gate = row["judge_gate"]
    assert gate["passed"] and (gate["control_preferred"], gate["control_n"]) == (20, 20)
    assert len(CALLS) == 2 * (100 + 20)  # the real pairs and the planted ones, both orders
    # a rerun is answered from the cache, planted pairs included
    again = judge(tmp_path / "base", tmp_path / "ngram", "sensible")
    assert again["judge_gate"] == gate and CALLS == []


def records(ids: range, text) -> list[RequestRecord]:
    return [RequestRecord(request_id=f"q{i}", ok=True, text=text(i)) for i in ids]


def test_the_gate_is_per_temperature(tmp_path):
    """T = 0 has long baseline answers to plant; T = 0.7's are too short to truncate."""
    long_pairs = exact.pair_records(
        records(range(30), answer), records(range(30), same_length_rewording)
    )
    short = exact.pair_records(
        records(range(30), lambda i: f"ok {i}"), records(range(30), lambda i: f"OK {i}")
    )
    groups = [Group("ngram", 0.0, long_pairs), Group("ngram", 0.7, short)]
    with fake_judge() as url:
        settings = JudgeSettings(judge_url=url, judge_model="sensible")
        options = JudgeOptions(source=tmp_path, settings=settings)
        rows = {r["temperature"]: r for r in evaluate(groups, options)}
    assert rows[0.0]["judge_gate"]["passed"] and rows[0.0]["verdict"] == "not shown equivalent"
    assert rows[0.7]["verdict"] == "judge unreliable"
    assert "only 0 planted pairs" in rows[0.7]["reason"]


def tool_pairs(n: int) -> list[exact.Pair]:
    """n requests where the baseline calls a tool and the candidate answers in text instead
    (same token count, so only tool choice differs): McNemar b = n, c = 0."""
    call = '{"tool": "get_order_status", "arguments": {"order_id": "A-1"}}'
    base = [
        RequestRecord(request_id=f"q{i}", ok=True, text=call, output_tokens=9) for i in range(n)
    ]
    cand = [
        RequestRecord(request_id=f"q{i}", ok=True, text="Which order?", output_tokens=9)
        for i in range(n)
    ]
    return exact.pair_records(base, cand)


def test_holm_runs_over_every_group_of_the_run(tmp_path):
    # one group: KS p = 1 and McNemar p = 2 · ½⁷ = .015625; Holm over 2 tests: .03125 < .05
    (row,) = evaluate(
        [Group("ngram", 0.5, tool_pairs(7))], JudgeOptions(tmp_path, settings=NO_JUDGE)
    )
    assert row["verdict"] == "differs" and "McNemar" in row["reason"]
    assert row["tests"]["tool_choice"] == {
        "p": pytest.approx(1 / 64),
        "holm_p": pytest.approx(1 / 32),
        "family": 2,
    }
    # two such groups: 4 tests, the smallest two adjusted ×4 and ×3: .0625 ≥ .05
    groups = [Group("ngram", 0.5, tool_pairs(7)), Group("eagle3", 0.5, tool_pairs(7))]
    rows = evaluate(groups, JudgeOptions(tmp_path, settings=NO_JUDGE))
    assert [r["verdict"] for r in rows] == ["not shown equivalent"] * 2
    assert [r["tests"]["tool_choice"]["holm_p"] for r in rows] == pytest.approx([1 / 16, 1 / 16])
