"""The logit margin where two temperature-0 outputs first differ, asked of a target server.

Tokenize both outputs; i = the first differing token. Send the request again with the shared
prefix tokens[:i] as an assistant message to continue (`continue_final_message`, vLLM), one
new token, `top_logprobs`; the reply is the target's next-token distribution at the fork.
margin = log p(token_a) − log p(token_b): small (≤ exact.TIE_NATS) means a near-tie that
numerics can flip (bf16, batched verification); large, or token_b outside the top-k, means
the output really changed. The result goes into the records' `extra` ("tokens",
"top_logprobs") where `exact.check_pair` reads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from specwise.quality.exact import Pair, first_difference

TOP = 20  # vLLM's default cap on top_logprobs


def fork_body(model: str, messages: list[dict[str, Any]], prefix: str, top: int) -> dict[str, Any]:
    """One greedy token after `prefix`, continuing the assistant's message, with top-k logprobs."""
    return {
        "model": model,
        "messages": [*messages, {"role": "assistant", "content": prefix}],
        "add_generation_prompt": False,
        "continue_final_message": True,
        "max_tokens": 1,
        "temperature": 0.0,
        "logprobs": True,
        "top_logprobs": top,
    }


async def fork_logprobs(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> dict[str, float] | None:
    """token → logprob at the fork, or None if the server cannot say (error, no logprobs)."""
    async with session.post(url.rstrip("/") + "/v1/chat/completions", json=body) as response:
        if response.status != 200:
            return None
        data = await response.json()
    content = ((data.get("choices") or [{}])[0].get("logprobs") or {}).get("content") or []
    if not content:
        return None
    return {t["token"]: t["logprob"] for t in content[0].get("top_logprobs") or []}


async def attach_margins(
    pairs: Sequence[Pair],
    url: str,
    model: str,
    encode: Callable[[str], list[int]],
    decode: Callable[[list[int]], str],
    concurrency: int = 4,
    top: int = TOP,
) -> int:
    """Fill tokens / top_logprobs for every differing pair whose request messages are known;
    returns how many forks were probed."""
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def one(pair: Pair) -> int:
            a, b = pair.baseline, pair.candidate
            ids_a, ids_b = encode(a.text), encode(b.text)
            i = first_difference(ids_a, ids_b)
            if i is None or not pair.messages:
                return 0
            a.extra["tokens"] = [decode([t]) for t in ids_a]
            b.extra["tokens"] = [decode([t]) for t in ids_b]
            if i >= min(len(ids_a), len(ids_b)):
                return 0  # a prefix: truncation, no fork to probe
            body = fork_body(model, pair.messages, decode(ids_a[:i]), top)
            async with limit:
                top_i = await fork_logprobs(session, url, body)
            a.extra["top_logprobs"] = [{}] * i + [top_i or {}]
            return 1

        return sum(await asyncio.gather(*(one(p) for p in pairs)))
