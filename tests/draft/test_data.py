"""Answer regeneration against a stand-in OpenAI server that returns vLLM's token ids."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from specwise.draft.data import read_answers, regenerate, request_body
from specwise.errors import SpecwiseError
from specwise.servers.launch import free_port
from specwise.workloads.loaders import WorkloadRequest


def fake_app(seen: list[dict]) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        if body["messages"][-1]["content"] == "boom":
            return web.Response(status=400, text="bad request")
        n = len(body["messages"][-1]["content"])
        return web.json_response(
            {
                "prompt_token_ids": [1, 2, 3, n],
                "choices": [
                    {
                        "message": {"role": "assistant", "content": "ok"},
                        "token_ids": [7, 8, 2] if body.get("return_token_ids") else None,
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict]]]:
    seen: list[dict] = []
    port, loop = free_port(), asyncio.new_event_loop()
    runner = web.AppRunner(fake_app(seen))

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    import time

    time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", seen
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def requests(texts: list[str]) -> list[WorkloadRequest]:
    msgs = [[{"role": "system", "content": "s"}, {"role": "user", "content": t}] for t in texts]
    return [WorkloadRequest(id=f"r{i}", messages=m, max_tokens=16) for i, m in enumerate(msgs)]


def test_body_asks_for_token_ids() -> None:
    body = request_body(requests(["a"])[0], "m", 0.0)
    assert body["return_token_ids"] is True and body["temperature"] == 0.0
    assert body["max_tokens"] == 16 and "tools" not in body


def test_regenerate_writes_rows_and_resumes(server: tuple[str, list[dict]], tmp_path: Path) -> None:
    url, seen = server
    out = tmp_path / "answers.jsonl"
    rows = regenerate(requests(["a", "bb", "ccc"]), url, "m", out, concurrency=2)
    assert [r["id"] for r in rows] == ["r0", "r1", "r2"]
    assert rows[1]["prompt_token_ids"] == [1, 2, 3, 2] and rows[1]["output_token_ids"] == [7, 8, 2]
    out.write_text(out.read_text() + '{"id": "torn')  # an interrupted run's last line
    more = regenerate(requests(["a", "bb", "ccc", "dddd"]), url, "m", out)
    assert len(seen) == 4 and len(more) == 4  # only the new request was sent
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()[:3]] == [
        "r0", "r1", "r2"
    ]  # fmt: skip
    assert len(read_answers(out)) == 4


def test_http_error_is_one_sentence(server: tuple[str, list[dict]], tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(SpecwiseError, match="HTTP 400 to request r0"):
        regenerate(requests(["boom"]), url, "m", tmp_path / "a.jsonl")
