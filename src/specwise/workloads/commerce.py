"""A deterministic generator of commerce-agent traffic in OpenAI chat format.

Every request starts with the same long system prompt (policy, tool schemas, SearchParams schema,
examples) followed by a per-customer session block, then a conversation from one of
`commerce_search`, `commerce_tools`, `commerce_answers`. The agent's tools are described in the
prompt and called with a text protocol (`{"tool": ..., "arguments": ...}`), so any chat
template and server can run it;
`openai_tools=True` also attaches the OpenAI `tools` list (vLLM then needs
`--enable-auto-tool-choice --tool-call-parser …`).

Same (n, seed, split, weights) -> byte-identical output. `split` train / eval use disjoint
phrasing templates (even / odd indices) and disjoint customers (first names, id parity).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema

from specwise.errors import SpecwiseError
from specwise.json_reply import extract_json
from specwise.workloads.commerce_answers import ANSWER_SCENARIOS
from specwise.workloads.commerce_data import POLICY, SEARCH_SCHEMA, TOOLS
from specwise.workloads.commerce_search import search_scenario
from specwise.workloads.commerce_tools import TOOL_SCENARIOS
from specwise.workloads.commerce_world import (
    Customer,
    Draw,
    Scenario,
    json_line,
    new_customer,
    session_block,
)
from specwise.workloads.loaders import WorkloadRequest

KINDS = ("search_params", "tool_call", "answer")
ASSISTANT = "a customer-service assistant for an online store"  # for the judge (quality)
DEFAULT_WEIGHTS = {"search_params": 0.35, "tool_call": 0.40, "answer": 0.25}
MAX_TOKENS = {"search_params": 160, "tool_call": 128, "answer": 256}
SPLITS = ("all", "train", "eval")

EXAMPLES = f"""\
# Examples
Customer: blue trail runners from Stridelab under $120, best reviewed first
You: {
    json_line(
        {
            "category": "running_shoes",
            "keywords": "trail runners",
            "brands": ["Stridelab"],
            "price_max": 120,
            "attributes": {"color": "blue"},
            "sort": "rating",
        }
    )
}
Customer: has order A-0000000 shipped?
You: {json_line({"tool": "get_order_status", "arguments": {"order_id": "A-0000000"}})}
Customer: do you ship to Norway?
You: Sorry, we only ship within the 50 US states for now."""


def system_prompt() -> str:
    """The prefix every request shares: policy, tools, SearchParams schema and examples."""
    tools = "\n".join(json_line(t["function"]) for t in TOOLS)
    schema = json.dumps(SEARCH_SCHEMA, indent=1)
    return f"{POLICY}\n# Tools\n{tools}\n\n# SearchParams schema\n{schema}\n\n{EXAMPLES}\n"


def parse_weights(text: str | dict[str, float] | None) -> dict[str, float]:
    """'search_params=0.5,tool_call=0.3,answer=0.2' -> weights; unnamed kinds get 0."""
    if text is None or text == "":
        return dict(DEFAULT_WEIGHTS)
    pairs = text.items() if isinstance(text, dict) else [p.split("=", 1) for p in text.split(",")]
    weights = dict.fromkeys(KINDS, 0.0)
    try:
        for kind, value in pairs:
            if kind.strip() not in weights:
                raise ValueError(kind)
            weights[kind.strip()] = float(value)
    except ValueError:
        raise SpecwiseError(
            f"Weights {text!r} are not valid; write e.g. "
            f"search_params=0.4,tool_call=0.4,answer=0.2 with kinds from {', '.join(KINDS)}."
        ) from None
    if min(weights.values()) < 0 or sum(weights.values()) <= 0:
        raise SpecwiseError(f"Weights {text!r} must be non-negative with a positive sum; fix them.")
    return weights


def scenario_for(kind: str, d: Draw, customer: Customer) -> Scenario:
    if kind == "search_params":
        return search_scenario(d, customer)
    table = TOOL_SCENARIOS if kind == "tool_call" else ANSWER_SCENARIOS
    make = d.rng.choices([f for f, _ in table], [w for _, w in table])[0]
    return make(d, customer)


def generate(
    n: int,
    seed: int,
    split: str = "all",
    weights: str | dict[str, float] | None = None,
    openai_tools: bool = False,
) -> list[WorkloadRequest]:
    """n commerce requests; the expected reply and check hints are in `extra`."""
    if split not in SPLITS:
        raise SpecwiseError(f"Split {split!r} is unknown; use one of {', '.join(SPLITS)}.")
    if n < 1:
        raise SpecwiseError("The number of requests must be at least 1; pass --n 1 or more.")
    kinds_weights = parse_weights(weights)
    d = Draw(random.Random(f"specwise-commerce:{seed}:{split}"), split)
    prompt = system_prompt()
    requests = []
    for i in range(n):
        kind = d.rng.choices(KINDS, [kinds_weights[k] for k in KINDS])[0]
        customer = new_customer(d)
        s = scenario_for(kind, d, customer)
        system = {"role": "system", "content": f"{prompt}\n{session_block(customer)}"}
        extra: dict[str, Any] = {"expected": s.expected, "scenario": s.name, **s.extra}
        extra |= {"split": split, "seed": seed, "customer_id": customer.id}
        requests.append(
            WorkloadRequest(
                id=f"commerce-{split}-s{seed}-{i:05d}",
                messages=[system, *s.turns],
                tools=TOOLS if openai_tools and kind != "search_params" else None,
                max_tokens=MAX_TOKENS[kind],
                kind=kind,
                extra=extra,
            )
        )
    return requests


def write_jsonl(requests: list[WorkloadRequest], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for r in requests:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    return out


def write_commerce(
    out: Path,
    n: int,
    seed: int,
    split: str = "all",
    weights: str | None = None,
    openai_tools: bool = False,
) -> Path:
    """`specwise workload commerce`: generate and write the JSONL; returns its path."""
    return write_jsonl(generate(n, seed, split, weights, openai_tools), out)


def check_search_params(text: str) -> dict[str, bool]:
    """strict_json: the whole reply is JSON; json: some JSON object found; valid: schema ok."""
    try:
        json.loads(text.strip())
        strict = True
    except ValueError:
        strict = False
    try:
        value = extract_json(text)
    except ValueError:
        return {"strict_json": False, "json": False, "valid": False}
    valid = jsonschema.Draft202012Validator(SEARCH_SCHEMA).is_valid(value)
    return {"strict_json": strict, "json": True, "valid": valid}
