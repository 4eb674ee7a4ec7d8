"""An OpenAI-compatible chat server that streams tokens as fast as it can: `fast_server.py PORT`.

Plain asyncio (no web framework): each POST gets `max_tokens` (or `max_completion_tokens`)
content chunks of one token each, shaped like vLLM's (id, object, created, model, choices with
delta/logprobs/finish_reason), then a finish chunk, a usage chunk and `data: [DONE]`. With
`stream_options.continuous_usage_stats` every chunk also carries cumulative usage, as vLLM does.
Pre-rendered chunks go out EVENTS_PER_WRITE to a socket write, respecting flow control, and the
streams of concurrent requests interleave. It exists to find the client's limit, not its own:
run it pinned to a different core from the client.
"""

from __future__ import annotations

import asyncio
import json
import sys
from functools import lru_cache

EVENTS_PER_WRITE = 4
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
BASE = {"id": "chatcmpl-fast0123456789abcdef", "object": "chat.completion.chunk"}
BASE |= {"created": 1700000000, "model": "fast"}


def _event(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@lru_cache(maxsize=64)
def render(tokens: int, continuous: bool) -> tuple[bytes, ...]:
    """The whole response body as HTTP chunks of EVENTS_PER_WRITE SSE events each."""

    def choice(delta: dict, finish: str | None, done: int) -> bytes:
        c = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        obj = BASE | {"choices": [c]}
        if continuous:
            obj["usage"] = {"prompt_tokens": 16, "total_tokens": 16 + done}
            obj["usage"]["completion_tokens"] = done
        return _event(obj)

    events = [choice({"role": "assistant", "content": ""}, None, 0)]
    events += [choice({"content": f" tok{i % 100}"}, None, i + 1) for i in range(tokens)]
    events.append(choice({"content": ""}, "length", tokens))
    usage = {"prompt_tokens": 16, "total_tokens": 16 + tokens, "completion_tokens": tokens}
    events.append(_event(BASE | {"choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    n = EVENTS_PER_WRITE
    return tuple(_http_chunk(b"".join(events[i : i + n])) for i in range(0, len(events), n))


class Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests, stream each answer."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.next_request()

    def next_request(self) -> None:
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return
        body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
        if not head.startswith("POST"):
            assert self.transport is not None
            self.transport.write(NOT_FOUND)
            return self.next_request()
        self.busy = True
        asyncio.get_running_loop().create_task(self.stream(json.loads(body)))

    async def stream(self, request: dict) -> None:
        tokens = int(request.get("max_completion_tokens") or request.get("max_tokens") or 256)
        options = request.get("stream_options") or {}
        transport = self.transport
        assert transport is not None
        transport.write(HEAD)
        for piece in render(tokens, bool(options.get("continuous_usage_stats"))):
            if transport.is_closing():
                return
            if not self.can_write.is_set():
                await self.can_write.wait()
            transport.write(piece)
            await asyncio.sleep(0)  # let the other streams write too
        transport.write(b"0\r\n\r\n")
        self.busy = False
        self.next_request()


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, "127.0.0.1", port, backlog=1024)
    print(f"fast server on http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
