"""A tiny OpenAI-compatible streaming server that misbehaves on purpose.

The request's "model" picks the behaviour: ok, tools, nousage, negusage, http500, slow, slowish,
reset, malformed, nodone, empty, error_event, auth (401 unless the Bearer key matches FAKE_KEY).
Run as a script (`python fake_openai.py PORT`) it serves until killed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

FAKE_KEY = "sk-test-secret-0123456789"
SEEN = web.AppKey("seen", list)
SCRAPES = web.AppKey("scrapes", list)
WORDS = ["Hello", " there", ",", " how", " can", " I", " help", "?"]
TOKENS_PER_CHUNK = [1, 2, 1, 3, 1, 1, 2, 1]  # as if speculation accepted some drafts
SPEC = {
    "acceptance_length": 1.5,
    "draft_acceptance_rate": 0.25,
    "acceptance_histogram": [4, 4, 0, 0],
    "num_spec_steps": 8,
    "num_accepted_draft_tokens": 4,
    "num_draft_tokens": 16,
    "num_spec_tokens": 2,
}


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chunk(body: dict, content: str | None, done: int, finish: str | None = None, **kw) -> dict:
    usage = body.get("stream_options", {}).get("continuous_usage_stats")
    if body.get("prompt") is not None:
        choice: dict[str, Any] = {"index": 0, "text": content or "", "finish_reason": finish}
    else:
        delta = {"content": content} if content is not None else {}
        choice = {"index": 0, "delta": delta | kw, "finish_reason": finish}
    out: dict[str, Any] = {"id": "x", "choices": [choice]}
    if usage:
        out["usage"] = {"prompt_tokens": 7, "completion_tokens": done, "total_tokens": 7 + done}
    return out


async def handle(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    request.app[SEEN].append({"body": body, "auth": request.headers.get("Authorization")})
    mode = body["model"]
    if mode == "http500":
        return web.Response(status=500, text="boom")
    if mode == "auth" and request.headers.get("Authorization") != f"Bearer {FAKE_KEY}":
        return web.Response(status=401, text="bad key")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if mode == "slow":
        await asyncio.sleep(1.5)
    if mode == "slowish":  # ok, 50 ms later: runs long enough to be interrupted
        await asyncio.sleep(0.05)
    if mode != "tools":
        await response.write(sse(chunk(body, "", 0, role="assistant")))
    if mode == "empty":
        await response.write(sse(chunk(body, None, 0, "stop")) + b"data: [DONE]\n\n")
        return response
    if mode == "error_event":
        await response.write(sse({"error": {"message": "engine died", "code": 500}}))
        await response.write(b"data: [DONE]\n\n")
        return response
    if mode == "tools":
        await _tools(body, response)
        return response
    done = 0
    for i, (word, n) in enumerate(zip(WORDS, TOKENS_PER_CHUNK, strict=True)):
        done += n
        await response.write(sse(chunk(body, word, done)))
        await asyncio.sleep(0.002)
        if mode == "reset" and i == 2:
            assert request.transport is not None
            request.transport.abort()
            return response
        if mode == "malformed" and i == 2:
            await response.write(b'data: {"choices": [\n\n')
    await response.write(sse(chunk(body, "", done, "length")))
    if mode != "nousage":
        usage = {"prompt_tokens": 7, "completion_tokens": done, "total_tokens": 7 + done}
        if mode == "negusage":  # a broken server: counts that cannot be
            usage["completion_tokens"] = -1693
        final: dict[str, Any] = {"id": "x", "choices": [], "usage": usage}
        final["metrics"] = {"speculative_decoding": SPEC}
        await response.write(sse(final))
    if mode != "nodone":
        await response.write(b"data: [DONE]\n\n")
    return response


async def _tools(body: dict, response: web.StreamResponse) -> None:
    call0 = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_order"}}
    parts = [
        {"tool_calls": [call0]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"order_id": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"A-1"}'}}]},
    ]
    for delta in parts:
        await response.write(sse({"choices": [{"index": 0, "delta": delta}]}))
    usage = {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}
    finish = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    await response.write(sse({"choices": [finish]}))
    await response.write(sse({"choices": [], "usage": usage}) + b"data: [DONE]\n\n")


async def metrics(request: web.Request) -> web.Response:
    request.app[SCRAPES].append(1)
    n = len(request.app[SCRAPES]) * 10
    text = (
        f"vllm:spec_decode_num_drafts_total {n}\n"
        f"vllm:spec_decode_num_draft_tokens_total {3 * n}\n"
        f"vllm:spec_decode_num_accepted_tokens_total {n}\n"
        f"vllm:generation_tokens_total {4 * n}\n"
        f"vllm:prefix_cache_queries_total {100 * n}\n"
        f"vllm:prefix_cache_hits_total {25 * n}\n"
    )
    return web.Response(text=text)


def make_app() -> web.Application:
    app = web.Application()
    app[SEEN], app[SCRAPES] = [], []
    app.router.add_post("/v1/chat/completions", handle)
    app.router.add_post("/v1/completions", handle)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", lambda _request: _health())
    return app


async def _health() -> web.Response:
    return web.Response(text="")


@contextmanager
def serving_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """This file run as a server process on a free port; yields (base_url, process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(Path(__file__)), str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.kill()
        proc.wait()


@asynccontextmanager
async def running(port: int = 0):
    """Serve make_app() on 127.0.0.1 inside the current event loop; yields (base_url, app)."""
    app = make_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
