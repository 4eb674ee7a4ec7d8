"""The streaming client against a server that misbehaves on purpose: one record per outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from fake_openai import FAKE_KEY, SEEN, SPEC, TOKENS_PER_CHUNK, WORDS, running

from specwise.bench import client
from specwise.bench.client import RequestRecord
from specwise.workloads.loaders import WorkloadRequest

REQ = WorkloadRequest(id="r1", messages=[{"role": "user", "content": "hi"}], max_tokens=8)


def send(
    mode: str,
    api: client.Api = "chat",
    counter: Any = None,
    idle_s: float | None = 5.0,
    key: str | None = None,
    continuous: bool = True,
) -> tuple[RequestRecord, list[dict]]:
    async def go() -> tuple[RequestRecord, list[dict]]:
        async with running() as (url, app), aiohttp.ClientSession() as session:
            body = client.build_body(REQ, mode, {"temperature": 0}, api, continuous)
            record = await client.send(
                session,
                url,
                body,
                REQ.id,
                api,
                client.auth_headers(key),
                counter,
                client.request_timeout(10, idle_s),
            )
            return record, app[SEEN]

    return asyncio.run(go())


def test_ok_stream_records_chunks_tokens_usage_and_spec_stats():
    r, seen = send("ok")
    assert r.ok and r.error_kind is None
    assert r.text == "".join(WORDS)
    assert r.output_tokens == sum(TOKENS_PER_CHUNK) and r.prompt_tokens == 7
    assert r.token_source == "server_usage"
    assert r.chunk_tokens == TOKENS_PER_CHUNK
    assert len(r.chunk_times_s) == len(WORDS)
    assert r.finish_reason == "length"
    assert r.spec_decode == SPEC
    assert 0 < r.ttft_s == r.chunk_times_s[0] <= r.chunk_times_s[-1] <= r.e2e_s
    assert seen[0]["body"]["stream_options"] == {
        "include_usage": True,
        "continuous_usage_stats": True,
    }
    assert seen[0]["auth"] is None


def test_completions_endpoint():
    r, seen = send("ok", api="completions")
    assert r.ok and r.api == "completions" and r.text == "".join(WORDS)
    assert seen[0]["body"]["prompt"] == "hi" and "messages" not in seen[0]["body"]


def test_tool_calls_are_assembled_from_deltas():
    r, _ = send("tools")
    assert r.ok and r.finish_reason == "tool_calls" and r.text == ""
    assert r.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_order", "arguments": '{"order_id": "A-1"}'},
        }
    ]
    assert r.output_tokens == 9


def test_http_status():
    r, _ = send("http500")
    assert not r.ok and r.error_kind == "http_status" and r.http_status == 500
    assert "boom" in r.error_message


def test_timeout():
    r, _ = send("slow", idle_s=0.3)
    assert not r.ok and r.error_kind == "timeout"


def test_connection_reset():
    r, _ = send("reset")
    assert not r.ok and r.error_kind == "connection"


@pytest.mark.parametrize(
    ("mode", "kind", "message"),
    [
        ("malformed", "malformed_sse", ""),
        ("nodone", "malformed_sse", "[DONE]"),  # a stream without [DONE] is malformed
        ("empty", "empty_output", ""),
        ("error_event", "server_error", "engine died"),
    ],
)
def test_broken_streams_fail_with_their_kind(mode, kind, message):
    r, _ = send(mode)
    assert not r.ok and r.error_kind == kind and message in (r.error_message or "")


def test_connection_refused():
    async def go() -> RequestRecord:
        async with aiohttp.ClientSession() as session:
            body = client.build_body(REQ, "ok", {})
            return await client.send(session, "http://127.0.0.1:9", body, "r")

    r = asyncio.run(go())
    assert not r.ok and r.error_kind == "connection"


class Words:
    """A stand-in tokenizer counter: one token per whitespace-separated word."""

    def output(self, text: str) -> int:
        return len(text.split())

    def prompt(self, body: dict) -> int:
        return 3


def test_tokenizer_fallback_when_server_sends_no_usage():
    r, _ = send("nousage", counter=Words(), continuous=False)
    assert r.ok and r.token_source == "tokenizer"
    assert r.output_tokens == len("".join(WORDS).split()) and r.prompt_tokens == 3
    assert r.chunk_tokens is None


def test_chunk_count_is_the_last_resort_and_says_so():
    r, _ = send("nousage", continuous=False)
    assert r.ok and r.token_source == "chunk_count" and r.output_tokens == len(WORDS)


def test_api_key_sent_as_bearer():
    r, seen = send("auth", key=FAKE_KEY)
    assert r.ok and seen[0]["auth"] == f"Bearer {FAKE_KEY}"
    r, _ = send("auth", key="wrong")
    assert r.error_kind == "http_status" and r.http_status == 401


def test_sampling_params_pass_through_and_win():
    params = {"temperature": 0.5, "max_tokens": 3, "seed": 1, "ignore_eos": True, "top_k": 5}
    body = client.build_body(REQ, "m", params)
    assert body["max_tokens"] == 3 and body["ignore_eos"] is True and body["top_k"] == 5
    assert body["stream"] is True and body["messages"] == REQ.messages


def test_record_round_trips_through_dict():
    r, _ = send("ok")
    again = RequestRecord.from_dict(r.to_dict() | {"unknown_future_field": 1})
    assert again == r


@pytest.mark.parametrize("split", [1, 7, 64])
def test_sse_parser_handles_arbitrary_read_boundaries(split: int):
    raw = b"".join(
        b'data: {"choices":[{"index":0,"delta":{"content":"%d"}}]}\r\n\r\n' % i for i in range(5)
    )
    raw += b": ping\n\ndata: [DONE]\n\n"
    stream = client._Stream(0.0)
    for i in range(0, len(raw), split):
        stream.feed(raw[i : i + split], 1.0)
    assert stream.done and "".join(stream.text) == "01234" and len(stream.times) == 5
