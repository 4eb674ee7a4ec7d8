"""An in-process OpenAI-compatible judge that streams canned verdicts (for parser/swap tests).

The request's "model" picks the behaviour:
  prefers-good  the reply containing GOOD wins, whatever its position (a consistent judge)
  sensible      like prefers-good, but a reply that is a strict prefix of the other (a
                truncated answer) always loses: consistent, and passes the positive control
  prefers-shorter  the shorter reply wins, a tie at equal length (consistent, and fooled by
                truncation: it fails the positive control)
  prefers-longer   the longer reply wins, a tie at equal length (fooled by a wrong tool call)
  always-a      always "A" (pure position bias)
  garbage       never a verdict
  late          no verdict at first, a `Verdict:` line when asked again
  nostructured  HTTP 400 to any `response_format`, else like prefers-good in plain text
  grader        scores a reply 9 if it contains GOOD, else 3
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

CALLS: list[dict] = []


def decide(model: str, user: str) -> str:
    m = re.search(r"\[Reply A\]\n(.*)\n\n\[Reply B\]\n(.*)\n\n", user, re.S)
    a, b = (m.group(1), m.group(2)) if m else ("", "")
    if model == "always-a":
        return "A"
    if model in ("prefers-shorter", "prefers-longer"):
        if len(a) == len(b):
            return "tie"
        return "A" if (len(a) < len(b)) == (model == "prefers-shorter") else "B"
    if model == "sensible" and a != b and (a.startswith(b) or b.startswith(a)):
        return "A" if len(a) > len(b) else "B"
    return (
        "A"
        if "GOOD" in a and "GOOD" not in b
        else "B"
        if "GOOD" in b and "GOOD" not in a
        else "tie"
    )


def reply(body: dict) -> str | None:
    model, messages = body["model"], body["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    structured = "response_format" in body
    if model == "nostructured" and structured:
        return None
    if model == "garbage" or (
        model == "late" and messages[-1]["role"] != "assistant" and len(messages) == 2
    ):
        return "Both replies have merits and I cannot decide."
    if model == "grader":
        score = 9 if "GOOD" in user.split("[Reply]")[-1] else 3
        return json.dumps({"reason": "ok", "score": score})
    v = decide(model, user)
    return json.dumps({"reason": "short", "verdict": v}) if structured else f"Fine.\nVerdict: {v}"


async def handle(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    CALLS.append(body)
    if body["model"] == "echo-auth":  # an error body that repeats the credentials it got
        auth = request.headers.get("Authorization")
        return web.Response(status=401, text=f"invalid credentials: {auth}")
    text = reply(body)
    if text is None:
        return web.Response(status=400, text="response_format is not supported")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if body["model"] == "stall":  # headers, then nothing for longer than any test waits
        await asyncio.sleep(5)
    for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
        chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    return response


@contextmanager
def fake_judge() -> Iterator[str]:
    """Serve on a free port in a background thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()
