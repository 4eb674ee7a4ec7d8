"""The judge: verdict parsing, the order swap, retries, caching, grading, the fallback to text."""

from __future__ import annotations

import asyncio
import json

import pytest
from fake_judge import CALLS, fake_judge

from specwise.bench.client import RequestRecord
from specwise.quality import judge
from specwise.quality.exact import Pair


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ('{"reason": "x", "verdict": "A"}', "A"),
        ('```json\n{"reason": "x", "verdict": "tie"}\n```', "tie"),
        ("B is better.\nVerdict: B", "B"),
        ("Verdict: A ... on reflection\n**Verdict:** b", "B"),
        ("final: [[TIE]]", "tie"),
        ("I cannot decide.", None),
        ('{"verdict": "C"}', None),
        ("", None),
    ],
)
def test_parse_verdict(text, verdict):
    assert judge.parse_verdict(text) == verdict


def test_parse_score():
    assert judge.parse_score('{"reason": "r", "score": 7}') == 7
    assert judge.parse_score('{"score": 11}') is None
    assert judge.parse_score("Good.\nScore: 10") == 10
    assert judge.parse_score("no idea") is None


@pytest.mark.parametrize(
    ("first", "second", "outcome"),
    [
        ("B", "A", "win"),  # candidate sat at B, then at A: preferred both times
        ("A", "B", "loss"),
        ("tie", "tie", "tie"),
        ("A", "A", "inconsistent"),  # position bias: always the first reply
        ("B", "tie", "inconsistent"),
        (None, "A", "unparsable"),
    ],
)
def test_combine_swap(first, second, outcome):
    assert judge.combine(first, second) == outcome


def pair(rid: str, base: str, cand: str) -> Pair:
    r = lambda t: RequestRecord(request_id=rid, ok=True, text=t)  # noqa: E731
    return Pair(rid, r(base), r(cand), kind="answer", question="user: where is my order?")


PAIRS = [
    pair("win", "meh", "GOOD answer"),
    pair("loss", "GOOD answer", "meh"),
    pair("tie", "meh", "also meh"),
    pair("same", "identical", "identical"),
]


def run(model: str, url: str, cache: judge.Cache, grade: bool = False) -> list[dict]:
    endpoint = judge.Endpoint(url, model, concurrency=2)
    return asyncio.run(judge.judge_pairs(PAIRS, endpoint, cache, grade))


def test_consistent_judge_and_cache(tmp_path):
    path = tmp_path / "judgments.jsonl"
    with fake_judge() as url:
        CALLS.clear()
        out = run("prefers-good", url, judge.Cache(path))
        assert [o["outcome"] for o in out] == ["win", "loss", "tie", "identical"]
        assert len(CALLS) == 6  # 3 differing pairs × 2 orders; identical pairs cost nothing
        assert all(c["response_format"]["type"] == "json_schema" for c in CALLS)
        assert all(c["temperature"] == 0.0 for c in CALLS)
        CALLS.clear()
        again = run("prefers-good", url, judge.Cache(path))  # a rerun reads the cache
        assert again == out and CALLS == []
    c = judge.counts(out)
    assert (c["win"], c["loss"], c["ties_total"], c["identical"]) == (1, 1, 2, 1)


def test_position_biased_judge_is_inconsistent(tmp_path):
    with fake_judge() as url:
        out = run("always-a", url, judge.Cache(None))
    assert [o["outcome"] for o in out] == ["inconsistent"] * 3 + ["identical"]
    assert [(o["first"], o["second"]) for o in out[:3]] == [("baseline", "candidate")] * 3


def test_unparsable_after_one_retry(tmp_path):
    with fake_judge() as url:
        CALLS.clear()
        out = run("garbage", url, judge.Cache(None))
        assert [o["outcome"] for o in out[:3]] == ["unparsable"] * 3
        assert len(CALLS) == 12  # 3 pairs × 2 orders × (ask + one retry)
        CALLS.clear()
        out = run("late", url, judge.Cache(None))
        assert [o["outcome"] for o in out] == ["win", "loss", "tie", "identical"]
        assert CALLS[-1]["messages"][-1]["content"] == judge.RETRY


def test_falls_back_to_text_when_structured_output_is_rejected():
    with fake_judge() as url:
        CALLS.clear()
        out = run("nostructured", url, judge.Cache(None))
    assert [o["outcome"] for o in out] == ["win", "loss", "tie", "identical"]
    assert any("response_format" in c for c in CALLS)
    assert judge.ASK_TEXT in CALLS[-1]["messages"][-1]["content"]


def test_grading(tmp_path):
    with fake_judge() as url:
        endpoint = judge.Endpoint(url, "grader")
        out = asyncio.run(judge.judge_pairs(PAIRS[:1], endpoint, judge.Cache(None), grade=True))
    assert (out[0]["score_baseline"], out[0]["score_candidate"]) == (3, 9)


def test_cache_file_is_jsonl(tmp_path):
    cache = judge.Cache(tmp_path / "c.jsonl")
    cache.put({"key": "k", "verdict": "A"})
    assert json.loads((tmp_path / "c.jsonl").read_text()) == {"key": "k", "verdict": "A"}
    assert judge.Cache(tmp_path / "c.jsonl").get("k")["verdict"] == "A"
