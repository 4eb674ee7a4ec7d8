"""Deterministic checks: pairing, first difference, mismatch classes, tool calls, JSON."""

from __future__ import annotations

import pytest

from specwise.bench.client import RequestRecord
from specwise.quality import exact
from specwise.workloads.kinds import OUTPUT_CHECKS


def rec(rid: str, text: str, **kw) -> RequestRecord:
    return RequestRecord(request_id=rid, ok=True, text=text, **kw)


def test_pairing_by_id_and_occurrence_drops_failures():
    base = [rec("a", "1"), rec("b", "2"), rec("a", "3")]
    cand = [rec("a", "x"), rec("a", "y"), RequestRecord(request_id="b", ok=False)]
    pairs = exact.pair_records(base, cand)
    assert [(p.baseline.text, p.candidate.text) for p in pairs] == [("1", "x"), ("3", "y")]


def test_first_difference():
    assert exact.first_difference("abc", "abc") is None
    assert exact.first_difference("abc", "abd") == 2
    assert exact.first_difference("ab", "abc") == 2  # a prefix: the shorter length
    assert exact.first_difference([1, 2], [3]) == 0


def test_classify_near_tie_real_truncated_unknown():
    top = [{"x": -0.1}, {"y": -0.70, "z": -0.75, "w": -3.0}]
    assert exact.classify("xy", "xy", ["x", "y"], ["x", "y"], top)[0] == "identical"
    assert exact.classify("xy", "xz", ["x", "y"], ["x", "z"], top) == (
        "near_tie",
        1,
        pytest.approx(0.05),
    )
    assert exact.classify("xy", "xw", ["x", "y"], ["x", "w"], top) == (
        "real",
        1,
        pytest.approx(2.3),
    )
    assert exact.classify("xy", "xq", ["x", "y"], ["x", "q"], top) == (
        "real",
        1,
        None,
    )  # not in top-k
    assert exact.classify("xy", "x", ["x", "y"], ["x"], top) == ("truncated", 1, None)
    assert exact.classify("xy", "xz", ["x", "y"], ["x", "z"], None) == ("unknown", 1, None)
    # text only: a prefix is truncation, anything else is unknown
    assert exact.classify("hello world", "hello")[0] == "truncated"
    assert exact.classify("hello world", "hello there") == ("unknown", 6, None)


def test_tool_calls_equal_after_normalisation():
    a = rec("r", '{"tool": "get_order_status", "arguments": {"order_id": "A-1", "x": 1}}')
    b = rec("r", '{"arguments": {"x": 1, "order_id": "A-1"},  "tool": "get_order_status"}')
    c = rec("r", '{"tool": "get_order_status", "arguments": {"order_id": "A-2"}}')
    openai = rec(
        "r",
        "",
        tool_calls=[
            {"function": {"name": "get_order_status", "arguments": '{"x":1,"order_id":"A-1"}'}}
        ],
    )
    assert exact.tool_calls_equal(a, b) is True
    assert exact.tool_calls_equal(a, openai) is True
    assert exact.tool_calls_equal(a, c) is False
    assert exact.tool_calls_equal(a, rec("r", "Sorry, which order?")) is False
    assert exact.tool_calls_equal(rec("r", "hi"), rec("r", "hello")) is None


def test_check_pair_and_summary_search_params():
    good = '{"category": "office_chairs", "keywords": "chair", "sort": "relevance"}'
    pairs = [
        exact.Pair("s1", rec("s1", good), rec("s1", good), kind="search_params"),
        exact.Pair("s2", rec("s2", good), rec("s2", "not json"), kind="search_params"),
        exact.Pair("t1", rec("t1", "abc"), rec("t1", "ab"), kind="answer"),
    ]
    rows = [exact.check_pair(p, output_checks=OUTPUT_CHECKS) for p in pairs]
    assert [r["class"] for r in rows] == ["identical", "unknown", "truncated"]
    assert "json_a" not in exact.check_pair(pairs[1])  # no check for the kind: generic checks
    assert rows[1]["json_a"] and not rows[1]["json_b"]
    s = exact.exact_summary(rows)
    assert (s.pairs, s.identical, s.changed, s.search_pairs) == (3, 1, 1, 2)
    assert (s.json_a, s.json_b) == (2, 1)
    assert s.exact_rate == pytest.approx(1 / 3)


def test_check_pair_uses_logprobs_in_records():
    a = rec(
        "r",
        "xy",
        extra={"tokens": ["x", "y"], "top_logprobs": [{"x": 0.0}, {"y": -0.6, "z": -0.7}]},
    )
    b = rec("r", "xz", extra={"tokens": ["x", "z"]})
    row = exact.check_pair(exact.Pair("r", a, b))
    assert (row["class"], row["first_diff"], row["unit"]) == ("near_tie", 1, "token")


def test_distribution_tests_catch_a_shift():
    rows = [
        {
            "kind": "tool_call",
            "len_a": i,
            "len_b": i + 50,
            "tool_a": "t",
            "tool_b": None,
            "expected_tool": "t",
        }
        for i in range(30)
    ]
    p = exact.distribution_tests(rows)
    assert p["ks_length"] < 1e-6 and p["tool_choice"] < 1e-6 and p["json_valid"] is None
