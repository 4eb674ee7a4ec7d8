"""The judge's positive control: planted, clearly worse answers it must tell from intact ones.

From the baseline answers of one temperature, taken in a fixed order (sha256 of the request
id), each answer gets one degraded twin, the first of these that applies:
  wrong_tool   the answer is a tool call (exact.tool_call): the same call, same arguments, to
               update_shipping_address (update_payment_method where it was that one): a
               wrong action, and a longer reply than the intact one
  broken_json  a request of a kind whose replies are JSON by contract (a kind with an output
               check, workloads/kinds.py) answered with JSON: its first half, which no
               longer parses
  truncated    any other answer of at least 2 × PLANT_WORDS words: its first PLANT_WORDS words
Answers none of these can degrade are skipped. A planted pair is baseline = the intact answer,
candidate = its degraded twin, judged by the same Judge and Cache as the real pairs (both
orders, cached, resumable). The judge prefers the intact answer when both orders agree on it:
the outcome "loss" for the candidate. How many it must prefer: verdict.judge_gate.

Truncation and broken JSON make the reply shorter, the wrong tool makes it longer: a judge that
merely prefers shorter (or longer) replies fails the control.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from specwise.bench.client import RequestRecord
from specwise.json_reply import extract_json
from specwise.quality.exact import Pair, tool_call
from specwise.quality.settings import DEFAULT_CONTROL
from specwise.workloads.kinds import OUTPUT_CHECKS

PLANT_WORDS = 4
WRONG_TOOL, WRONG_TOOL_ELSE = "update_shipping_address", "update_payment_method"


def planted(record: RequestRecord, how: str, text: str, tool_calls: list[Any]) -> RequestRecord:
    """The degraded twin of `record`, marked extra["planted"] = how (never shown to the judge)."""
    return RequestRecord(
        request_id=record.request_id,
        ok=True,
        text=text,
        tool_calls=tool_calls,
        extra={"planted": how},
    )


def wrong_tool(record: RequestRecord) -> RequestRecord | None:
    """The same tool call (same arguments) to a tool that does something else; None when the
    answer is no tool call."""
    call = tool_call(record)
    if call is None:
        return None
    name = WRONG_TOOL if call[0] != WRONG_TOOL else WRONG_TOOL_ELSE
    if record.tool_calls:
        first = copy.deepcopy(record.tool_calls[0])
        first["function"] = dict(first.get("function") or {}) | {"name": name}
        return planted(record, "wrong_tool", record.text, [first, *record.tool_calls[1:]])
    text = json.dumps({"tool": name, "arguments": call[1]})
    return planted(record, "wrong_tool", text, [])


def broken_json(record: RequestRecord, kind: str | None) -> RequestRecord | None:
    """The first half of a JSON answer to a kind with an output check (it no longer parses);
    None for other kinds, answers that hold no JSON, or a half that still parses."""
    if kind not in OUTPUT_CHECKS or not holds_json(record.text):
        return None
    half = record.text[: len(record.text.strip()) // 2]
    if holds_json(half):
        return None
    return planted(record, "broken_json", half, [])


def holds_json(text: str) -> bool:
    """Some JSON object can be read from the text (json_reply.extract_json)."""
    try:
        extract_json(text)
    except ValueError:
        return False
    return True


def truncated(record: RequestRecord, words: int = PLANT_WORDS) -> RequestRecord | None:
    """The answer's prefix up to its `words`-th word; None below 2 × words words."""
    found = list(re.finditer(r"\S+", record.text))
    if len(found) < 2 * words:
        return None
    return planted(record, "truncated", record.text[: found[words - 1].end()], [])


def degrade(record: RequestRecord, kind: str | None) -> RequestRecord | None:
    """The first degradation of the module's list that applies; None when none does."""
    return wrong_tool(record) or broken_json(record, kind) or truncated(record)


def draw(pairs: Sequence[Pair], n: int = DEFAULT_CONTROL) -> list[Pair]:
    """Up to n planted pairs from the baseline answers of `pairs` (one answer per request id),
    in the order of sha256(request id): the same answers give the same control."""
    answers: dict[str, Pair] = {}
    for p in pairs:
        answers.setdefault(p.request_id, p)
    out: list[Pair] = []
    for rid in sorted(answers, key=lambda r: hashlib.sha256(r.encode()).hexdigest()):
        if len(out) >= n:
            break
        p = answers[rid]
        bad = degrade(p.baseline, p.kind)
        if bad is not None:
            out.append(Pair(rid, p.baseline, bad, p.kind, p.question, p.expected))
    return out


def label(pairs: Sequence[Pair], outcomes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The judge's outcomes of planted pairs, each with how its candidate was degraded."""
    return [
        {"request_id": o["request_id"], "planted": p.candidate.extra["planted"]}
        | {"outcome": o["outcome"]}
        for p, o in zip(pairs, outcomes, strict=True)
    ]


def preferred(outcomes: Sequence[dict[str, Any]]) -> int:
    """Planted pairs where both orders preferred the intact answer (outcome "loss")."""
    return sum(o["outcome"] == "loss" for o in outcomes)
