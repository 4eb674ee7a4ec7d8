"""Deterministic checks on paired outputs: baseline (no speculation) vs a speculative arm.

Per pair: exact match, the first differing token, tool-call equality after JSON normalisation,
JSON and schema validity where the workload checks the request's kind (workloads/kinds.py:
the commerce workload's SearchParams), and a classification of every mismatch:
  identical   same text and tool calls
  truncated   one output is a strict prefix of the other (a max_tokens / stop difference)
  near_tie    at the first differing token the two tokens' baseline logprobs are within
              `tie_nats` (numerics: bf16 rounding or batched verification flips a near-tie)
  real        a clear change: the margin there is larger, or the token is not in the top-k
  unknown     a mismatch without logprobs to tell near-tie from real
At temperature > 0 outputs are samples, so only distributions compare (see `distribution_tests`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from specwise.bench.client import RequestRecord
from specwise.json_reply import extract_json
from specwise.quality import stats

TIE_NATS = 0.25  # |log p(a) − log p(b)| below this at the first difference = near-tie
NUMERIC, CHANGED = ("identical", "near_tie"), ("truncated", "real")


@dataclass
class Pair:
    """One request answered by both arms; `kind`/`expected` come from the workload if known."""

    request_id: str
    baseline: RequestRecord
    candidate: RequestRecord
    kind: str | None = None
    question: str | None = None  # the conversation as text, for the judge
    expected: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] | None = None  # the request's messages, for margin probes


def pair_records(
    baseline: Sequence[RequestRecord],
    candidate: Sequence[RequestRecord],
    workload: dict[str, Any] | None = None,
) -> list[Pair]:
    """Pairs by (request_id, occurrence): the n-th answer to a request in one run meets the n-th
    in the other. Failed records are dropped. `workload` maps request id → WorkloadRequest."""
    base = _keyed(r for r in baseline if r.ok)
    pairs = []
    for key, c in _keyed(r for r in candidate if r.ok).items():
        if key in base:
            w = (workload or {}).get(key[0])
            pairs.append(Pair(key[0], base[key], c, *_workload_fields(w)))
    return pairs


def _keyed(records) -> dict[tuple[str, int], RequestRecord]:
    seen: Counter[str] = Counter()
    out = {}
    for r in records:
        out[(r.request_id, seen[r.request_id])] = r
        seen[r.request_id] += 1
    return out


def _workload_fields(w: Any) -> tuple[Any, ...]:
    if w is None:
        return None, None, {}, None
    turns = [m for m in w.messages if m.get("role") != "system"]
    question = "\n".join(f"{m['role']}: {m.get('content') or ''}" for m in turns)
    return w.kind, question, dict(w.extra), w.messages


def first_difference(a: Sequence[Any], b: Sequence[Any]) -> int | None:
    """The first index i with a[i] ≠ b[i], len(shorter) if one is a prefix, None if equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def tool_call(record: RequestRecord) -> tuple[str, Any] | None:
    """(name, arguments) of the first tool call: OpenAI `tool_calls`, else a JSON reply
    {"tool": name, "arguments": {...}} (the commerce format); None if it is no tool call."""
    if record.tool_calls:
        fn = record.tool_calls[0].get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = fn.get("arguments")
        return fn.get("name", ""), args
    try:
        value = extract_json(record.text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("tool"), str):
        return value["tool"], value.get("arguments")
    return None


def normalise(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, so key order and spacing never differ."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def tool_calls_equal(a: RequestRecord, b: RequestRecord) -> bool | None:
    """Same function and same arguments after normalisation; None when neither calls a tool."""
    x, y = tool_call(a), tool_call(b)
    if x is None and y is None:
        return None
    return x is not None and y is not None and x[0] == y[0] and normalise(x[1]) == normalise(y[1])


def classify(
    text_a: str,
    text_b: str,
    tokens_a: Sequence[str] | None = None,
    tokens_b: Sequence[str] | None = None,
    top_a: Sequence[dict[str, float]] | None = None,
    tie_nats: float = TIE_NATS,
) -> tuple[str, int | None, float | None]:
    """(class, first differing token index, margin in nats) for one pair; see the module doc.

    margin = log p_base(token_base) − log p_base(token_cand) at the first differing position,
    read from the baseline's top-k logprobs `top_a` (greedy decoding makes both runs share
    the prefix, so the baseline's distribution there is the one both saw, up to numerics).
    """
    if text_a == text_b:  # tokens are the same tokenizer's encoding of the text
        return "identical", None, None
    if tokens_a is None or tokens_b is None:
        i = first_difference(text_a, text_b)
        truncated = text_a.startswith(text_b) or text_b.startswith(text_a)
        return ("truncated" if truncated else "unknown"), i, None
    i = first_difference(tokens_a, tokens_b)
    if i is None or i >= min(len(tokens_a), len(tokens_b)):
        return "truncated", i, None
    if not top_a or i >= len(top_a) or tokens_a[i] not in top_a[i]:
        return "unknown", i, None
    if tokens_b[i] not in top_a[i]:
        return "real", i, None
    margin = top_a[i][tokens_a[i]] - top_a[i][tokens_b[i]]
    return ("near_tie" if margin <= tie_nats else "real"), i, margin


def check_pair(
    pair: Pair,
    tokenize: Callable[[str], list[Any]] | None = None,
    output_checks: Mapping[str, Callable[[str], dict[str, bool]]] | None = None,
    tie_nats: float = TIE_NATS,
) -> dict[str, Any]:
    """Every deterministic check of one pair as a flat dict. Logprobs, when the records carry
    them (extra["tokens"], extra["top_logprobs"]), decide near-tie vs real; else `tokenize`
    gives token positions; else character positions."""
    a, b = pair.baseline, pair.candidate
    tokens_a, tokens_b = a.extra.get("tokens"), b.extra.get("tokens")
    if tokens_a is None and tokenize is not None:
        tokens_a, tokens_b = tokenize(a.text), tokenize(b.text)
    kind, index, margin = classify(
        a.text, b.text, tokens_a, tokens_b, a.extra.get("top_logprobs"), tie_nats
    )
    if kind == "identical" and normalise(a.tool_calls) != normalise(b.tool_calls):
        kind = "real"
    row: dict[str, Any] = {"request_id": pair.request_id, "kind": pair.kind, "class": kind}
    row |= {"first_diff": index, "unit": "token" if tokens_a else "char", "margin": margin}
    row |= {"tool_equal": tool_calls_equal(a, b), "len_a": _length(a), "len_b": _length(b)}
    row |= {"tool_a": _tool_name(a), "tool_b": _tool_name(b)}
    row["expected_tool"] = pair.expected.get("expected_tool")
    check = (output_checks or {}).get(pair.kind or "")
    if check is not None:  # the workload's own check of this kind's replies (workloads/kinds.py)
        va, vb = check(a.text), check(b.text)
        row |= {"json_a": va["json"], "json_b": vb["json"]}
        row |= {"schema_a": va["valid"], "schema_b": vb["valid"]}
    return row


def _length(r: RequestRecord) -> int:
    return r.output_tokens if r.output_tokens is not None else len(r.text)


def _tool_name(r: RequestRecord) -> str | None:
    call = tool_call(r)
    return call[0] if call else None


@dataclass
class ExactSummary:
    """Rates over the pairs of one arm × temperature (a rate is None when it has no pairs)."""

    pairs: int
    identical: int
    classes: dict[str, int]
    tool_pairs: int
    tool_equal: int
    json_a: int = 0
    json_b: int = 0
    schema_a: int = 0
    schema_b: int = 0
    search_pairs: int = 0

    @property
    def exact_rate(self) -> float | None:
        return self.identical / self.pairs if self.pairs else None

    @property
    def tool_equal_rate(self) -> float | None:
        return self.tool_equal / self.tool_pairs if self.tool_pairs else None

    @property
    def changed(self) -> int:
        """Mismatches that numerics cannot explain (truncated or real)."""
        return sum(self.classes.get(c, 0) for c in CHANGED)

    def to_dict(self) -> dict[str, Any]:
        rates = {"exact_rate": self.exact_rate, "tool_equal_rate": self.tool_equal_rate}
        return asdict(self) | rates | {"changed": self.changed}


def exact_summary(rows: Sequence[dict[str, Any]]) -> ExactSummary:
    """Counts of identical pairs, mismatch classes, tool-call equality and JSON validity."""
    tools = [r["tool_equal"] for r in rows if r["tool_equal"] is not None]
    search = [r for r in rows if "json_a" in r]
    return ExactSummary(
        pairs=len(rows),
        identical=sum(r["class"] == "identical" for r in rows),
        classes=dict(Counter(r["class"] for r in rows)),
        tool_pairs=len(tools),
        tool_equal=sum(tools),
        json_a=sum(r["json_a"] for r in search),
        json_b=sum(r["json_b"] for r in search),
        schema_a=sum(r["schema_a"] for r in search),
        schema_b=sum(r["schema_b"] for r in search),
        search_pairs=len(search),
    )


def distribution_tests(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """p-values for temperature > 0, where single pairs are samples and only distributions can
    match: KS on output lengths; exact McNemar tests (the pairs share request ids, so the
    binary outcomes are paired) on "chose the right tool" (the expected tool where the workload
    names one, else "called a tool at all") over tool-call requests, and on schema validity over
    the requests whose kind has an output check. None where a test has nothing to decide (no
    rows, or no discordant pair): it then stays out of the family of tests (verdict.py)."""
    tool_rows = [r for r in rows if r["kind"] in (None, "tool_call")]
    search = [r for r in rows if "schema_a" in r]
    tools = [(_right_tool(r, r["tool_a"]), _right_tool(r, r["tool_b"])) for r in tool_rows]
    return {
        "ks_length": stats.ks_test([r["len_a"] for r in rows], [r["len_b"] for r in rows]),
        "tool_choice": _paired(tools),
        "json_valid": _paired([(r["schema_a"], r["schema_b"]) for r in search]),
    }


def _paired(outcomes: Sequence[tuple[bool, bool]]) -> float | None:
    """McNemar on (baseline right, candidate right) per pair; None without a discordant pair."""
    b = sum(a and not c for a, c in outcomes)
    c = sum(c and not a for a, c in outcomes)
    return stats.mcnemar(b, c) if b + c else None


def _right_tool(row: dict[str, Any], tool: str | None) -> bool:
    expected = row.get("expected_tool")
    return tool == expected if expected else tool is not None
