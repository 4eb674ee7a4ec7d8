"""The positive control's planted answers: wrong tool, broken JSON, truncation, the draw."""

from __future__ import annotations

import json

from specwise.bench.client import RequestRecord
from specwise.quality import exact, planted
from specwise.workloads.commerce import check_search_params

SEARCH = '{"category": "office_chairs", "keywords": "mesh chair", "sort": "relevance"}'
LONG = "Your order shipped on Monday and should arrive by Friday at the latest."


def rec(text: str, **kw) -> RequestRecord:
    return RequestRecord(request_id="r", ok=True, text=text, **kw)


def test_wrong_tool_text_protocol():
    intact = rec('{"tool": "get_order_status", "arguments": {"order_id": "A-1"}}')
    bad = planted.wrong_tool(intact)
    assert exact.tool_call(bad) == ("update_shipping_address", {"order_id": "A-1"})
    assert len(bad.text) > len(intact.text)  # a judge preferring longer replies is caught too
    assert exact.tool_calls_equal(intact, bad) is False
    assert bad.extra == {"planted": "wrong_tool"}
    same = rec('{"tool": "update_shipping_address", "arguments": {"order_id": "A-1"}}')
    assert exact.tool_call(planted.wrong_tool(same))[0] == "update_payment_method"
    assert planted.wrong_tool(rec(LONG)) is None


def test_wrong_tool_openai_calls_leave_the_intact_record_alone():
    call = {"function": {"name": "list_orders", "arguments": '{"limit": 3}'}}
    intact = rec("", tool_calls=[call])
    bad = planted.wrong_tool(intact)
    assert exact.tool_call(bad) == ("update_shipping_address", {"limit": 3})
    assert intact.tool_calls[0]["function"]["name"] == "list_orders"


def test_broken_json_for_search_requests_only():
    bad = planted.broken_json(rec(SEARCH), "search_params")
    assert bad is not None and SEARCH.startswith(bad.text) and len(bad.text) < len(SEARCH)
    assert check_search_params(bad.text)["json"] is False
    assert planted.broken_json(rec(SEARCH), "answer") is None
    assert planted.broken_json(rec("no json here"), "search_params") is None


def test_truncated_keeps_a_true_prefix_of_a_few_words():
    bad = planted.truncated(rec("Your  order\tshipped on Monday and should arrive"))
    assert bad.text == "Your  order\tshipped on"
    assert planted.truncated(rec("Too short to cut, seven words.")) is None


def test_degrade_order():
    tool = '{"tool": "get_order_status", "arguments": {"order_id": "A-1"}}'
    assert planted.degrade(rec(tool), "tool_call").extra["planted"] == "wrong_tool"
    assert planted.degrade(rec(SEARCH), "search_params").extra["planted"] == "broken_json"
    assert planted.degrade(rec(LONG), "answer").extra["planted"] == "truncated"
    assert planted.degrade(rec("ok"), "answer") is None


def pair(rid: str, text: str, kind: str | None = "answer") -> exact.Pair:
    r = RequestRecord(request_id=rid, ok=True, text=text)
    return exact.Pair(rid, r, RequestRecord(request_id=rid, ok=True, text="other"), kind)


def test_draw_is_deterministic_capped_and_one_per_request():
    pairs = [pair(f"q{i}", f"{LONG} ({i})") for i in range(30)]
    pairs += [pair("q0", f"{LONG} (a second answer to q0)"), pair("short", "ok")]
    drawn = planted.draw(pairs, 20)
    assert len(drawn) == 20 and len({p.request_id for p in drawn}) == 20
    assert [p.request_id for p in drawn] == [p.request_id for p in planted.draw(pairs[::-1], 20)]
    assert all(p.baseline.text.startswith(p.candidate.text) for p in drawn)
    assert "short" not in {p.request_id for p in planted.draw(pairs, 100)}
    assert len(planted.draw(pairs, 100)) == 30  # fewer when fewer answers can be planted
    q0 = next(p for p in planted.draw(pairs, 100) if p.request_id == "q0")
    assert q0.baseline.text == f"{LONG} (0)"  # the first answer to a request


def test_label_and_preferred():
    drawn = planted.draw([pair("a", LONG), pair("b", SEARCH, "search_params")], 5)
    outcomes = [{"request_id": p.request_id, "outcome": "loss"} for p in drawn]
    outcomes[0]["outcome"] = "inconsistent"
    labelled = planted.label(drawn, outcomes)
    assert {o["planted"] for o in labelled} == {"truncated", "broken_json"}
    assert planted.preferred(labelled) == 1
    assert json.dumps(labelled)  # JSON-ready for quality.json
