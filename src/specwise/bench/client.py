"""Streaming OpenAI-compatible client: one request in, one `RequestRecord` out, never an exception.

Per request it records the start, the arrival time of every content chunk and how many tokens
it carried (from vLLM's `continuous_usage_stats` deltas where the server gives them), output and
prompt tokens (server `usage` first, a local tokenizer second, and which one was used), the
finish reason, the text and tool calls, the server's per-request spec-decode stats when it
returns them, and for failures an error kind and message. Times are seconds; chunk times are
offsets from the request start; `started_at` is a Unix time on a monotonic clock.
"""

from __future__ import annotations

import codecs
import json
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import aiohttp

from specwise.errors import SpecwiseError
from specwise.workloads.loaders import WorkloadRequest

Api = Literal["chat", "completions"]
ENDPOINTS: dict[str, str] = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
# Error kinds a failed record can carry.
HTTP_STATUS, TIMEOUT, CONNECTION = "http_status", "timeout", "connection"
MALFORMED_SSE, EMPTY_OUTPUT, SERVER_ERROR = "malformed_sse", "empty_output", "server_error"
BAD_USAGE = "bad_usage"  # usage counts that are not whole numbers ≥ 0: the server is at fault
# The C JSON scanner without json.loads' per-call wrappers: (object, end index) from a str.
_scan = json.JSONDecoder().scan_once
# perf_counter is monotonic but has no epoch: anchor it once so started_at reads as Unix time.
_EPOCH = time.time() - time.perf_counter()


def now() -> float:
    """Unix time from the monotonic clock (comparable within and across records of a run)."""
    return time.perf_counter() + _EPOCH


@dataclass
class RequestRecord:
    """What happened to one request; plain data, JSON-ready via to_dict / from_dict."""

    request_id: str
    arm: str | None = None
    api: str = "chat"
    ok: bool = False
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    started_at: float = 0.0  # Unix seconds
    ttft_s: float | None = None  # start → first content chunk
    e2e_s: float | None = None  # start → last byte
    chunk_times_s: list[float] = field(default_factory=list)  # offsets of content chunks
    chunk_tokens: list[int] | None = None  # tokens per chunk (server usage deltas) or None
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    token_source: str | None = None  # "server_usage" | "tokenizer" | "chunk_count"
    finish_reason: str | None = None
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    spec_decode: dict[str, Any] | None = None  # the server's per-request acceptance stats
    extra: dict[str, Any] = field(default_factory=dict)  # free slot for the caller (round, …)

    @property
    def ended_at(self) -> float:
        return self.started_at + (self.e2e_s or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """A shallow, JSON-ready dict (shares the lists: serialize it, don't mutate it).
        Not dataclasses.asdict: its deep copy of every chunk time dominated the client's cost."""
        return {f.name: getattr(self, f.name) for f in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        names = {f.name for f in _FIELDS}
        return cls(**{k: v for k, v in data.items() if k in names})


_FIELDS = fields(RequestRecord)


@dataclass
class TokenCounter:
    """Fallback token counts from the model's tokenizer (used only when the server gives none)."""

    tokenizer: Any

    def output(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt(self, body: dict[str, Any]) -> int | None:
        if "prompt" in body:
            return len(self.tokenizer.encode(body["prompt"]))
        try:
            ids = self.tokenizer.apply_chat_template(
                body["messages"], tools=body.get("tools"), add_generation_prompt=True
            )
        except Exception:  # templates vary; a prompt count is a nicety, not a must
            return None
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        return len(ids)


def load_token_counter(name_or_dir: str) -> TokenCounter:
    from transformers import AutoTokenizer

    try:
        return TokenCounter(AutoTokenizer.from_pretrained(name_or_dir))
    except (OSError, ValueError) as exc:
        raise SpecwiseError(
            f"--tokenizer {name_or_dir!r} is not a tokenizer directory ({type(exc).__name__}); "
            "pass a Hugging Face model directory (tokenizer.json) or leave it out."
        ) from None


def checked_url(url: str, flag: str = "--url") -> str:
    """A server base URL: http(s)://host[:port][/path], else one sentence naming the flag."""
    from urllib.parse import urlsplit

    example = "http://127.0.0.1:8000"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise SpecwiseError(f"{flag} {url!r} is not a URL ({exc}); pass e.g. {example}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecwiseError(
            f"{flag} {url!r} needs http:// or https:// and a host; pass e.g. {example}."
        )
    return url


def build_body(
    request: WorkloadRequest,
    model: str,
    params: dict[str, Any],
    api: Api = "chat",
    continuous_usage: bool = True,
) -> dict[str, Any]:
    """The JSON body: model, the request's content, streaming options, then sampling params.

    `params` (temperature, top_p, max_tokens, seed, ignore_eos, any vLLM extra) pass through
    unchanged and win over the workload's own max_tokens. For /v1/completions the prompt is the
    line's `prompt` key if it has one, else the message contents joined by newlines.
    """
    body: dict[str, Any] = {"model": model, "stream": True}
    body["stream_options"] = {"include_usage": True}
    if continuous_usage:
        body["stream_options"]["continuous_usage_stats"] = True
    if api == "chat":
        body["messages"] = request.messages
        if request.tools:
            body["tools"] = request.tools
    else:
        prompt = request.extra.get("prompt")
        if prompt is None:
            prompt = "\n".join(str(m.get("content") or "") for m in request.messages)
        body["prompt"] = prompt
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body | params


class _Stream:
    """Accumulates one SSE stream; `feed` is the hot path (called once per network read)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buffer = ""
        self.times: list[float] = []
        self.tokens: list[int] = []
        self.last_completion_tokens = 0
        self.have_token_deltas = True
        self.text: list[str] = []
        self.tool_deltas: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.spec_decode: dict[str, Any] | None = None
        self.done = False
        self.error: str | None = None

    def feed(self, data: bytes, at: float) -> None:
        """Split complete SSE events out of the buffer and handle them, all stamped `at`."""
        self.buffer += self.decoder.decode(data)
        if "\r" in self.buffer:
            self.buffer = self.buffer.replace("\r\n", "\n")
        if "\n\n" not in self.buffer:
            return
        *events, self.buffer = self.buffer.split("\n\n")
        offset = at - self.started
        for event in events:
            if event.startswith("data: ") and "\n" not in event:  # the usual one-line event
                self.handle(event[6:], offset)
                continue
            for line in event.split("\n"):
                if line.startswith("data:"):
                    self.handle(line[5:].strip(), offset)
                # other lines (": ping" comments, event:, id:) carry no payload for us

    def handle(self, payload: str, offset: float) -> None:
        if payload == "[DONE]":
            self.done = True
            return
        try:
            chunk, end = _scan(payload, 0)  # JSONDecodeError is a ValueError → malformed SSE
        except StopIteration:  # what the scanner raises when no JSON value starts here
            raise ValueError(f"not JSON: {payload[:40]!r}") from None
        if end != len(payload) and payload[end:].strip():
            raise ValueError(f"extra data after the JSON object: {payload[end : end + 40]!r}")
        if "error" in chunk:
            err = chunk["error"]
            self.error = str(err.get("message", err) if isinstance(err, dict) else err)
            return
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
            metrics = chunk.get("metrics")
            if metrics and metrics.get("speculative_decoding"):
                self.spec_decode = metrics["speculative_decoding"]
        for choice in chunk.get("choices") or ():
            self.choice(choice, usage, offset)

    def choice(self, choice: dict[str, Any], usage: dict[str, Any] | None, offset: float) -> None:
        delta = choice.get("delta")
        if delta is None:  # /v1/completions
            content, tools = choice.get("text"), None
        else:
            content, tools = delta.get("content"), delta.get("tool_calls")
            content = content or delta.get("reasoning_content") or delta.get("reasoning")
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        new_tokens = 0
        if usage and "completion_tokens" in usage:
            new_tokens = usage["completion_tokens"] - self.last_completion_tokens
            self.last_completion_tokens = usage["completion_tokens"]
        elif content or tools:
            self.have_token_deltas = False
        if not content and not tools:
            if new_tokens and self.tokens:  # e.g. an EOS token on the bare finish chunk
                self.tokens[-1] += new_tokens
            return
        self.times.append(offset)
        self.tokens.append(new_tokens)
        if content and (delta is None or delta.get("content")):
            self.text.append(content)
        if tools:
            self.tool_deltas.extend(tools)


def merge_tool_calls(deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assemble streamed tool-call deltas (keyed by `index`) into whole OpenAI tool calls."""
    calls: dict[int, dict[str, Any]] = {}
    for d in deltas:
        call = calls.setdefault(
            d.get("index", 0), {"id": None, "type": "function", "function": {"name": ""}}
        )
        call["id"] = d.get("id") or call["id"]
        fn = d.get("function") or {}
        call["function"]["name"] += fn.get("name") or ""
        call["function"]["arguments"] = call["function"].get("arguments", "") + (
            fn.get("arguments") or ""
        )
    return [calls[i] for i in sorted(calls)]


def _finish(record: RequestRecord, stream: _Stream, counter: TokenCounter | None, body: dict):
    """Fill the record from a complete stream and decide whether it succeeded."""
    record.chunk_times_s = stream.times
    record.ttft_s = stream.times[0] if stream.times else None
    record.text = "".join(stream.text)
    record.tool_calls = merge_tool_calls(stream.tool_deltas)
    record.finish_reason = stream.finish_reason
    record.spec_decode = stream.spec_decode
    usage = stream.usage or {}
    bad = [
        f"{k}={usage[k]!r}"
        for k in ("completion_tokens", "prompt_tokens")
        if usage.get(k) is not None and not (type(usage[k]) is int and usage[k] >= 0)
    ]
    if bad:
        usage = {}  # count tokens as if the server gave none; the record fails below
    if usage.get("completion_tokens") is not None:
        record.output_tokens, record.token_source = usage["completion_tokens"], "server_usage"
        record.prompt_tokens = usage.get("prompt_tokens")
        if stream.have_token_deltas and sum(stream.tokens) == record.output_tokens:
            record.chunk_tokens = stream.tokens
    elif counter is not None:
        args = "".join(c["function"].get("arguments", "") for c in record.tool_calls)
        record.output_tokens, record.token_source = counter.output(record.text + args), "tokenizer"
        record.prompt_tokens = counter.prompt(body)
    else:
        record.output_tokens, record.token_source = len(stream.times), "chunk_count"
    if stream.error is not None:
        record.error_kind, record.error_message = SERVER_ERROR, stream.error
    elif bad:
        record.error_kind = BAD_USAGE
        record.error_message = f"the server reported usage {', '.join(bad)}, not a token count"
    elif not stream.done:
        record.error_kind = MALFORMED_SSE
        record.error_message = "the stream ended without `data: [DONE]`"
    elif not stream.times:
        record.error_kind, record.error_message = EMPTY_OUTPUT, "no content or tool-call chunk"
    record.ok = record.error_kind is None


async def send(
    session: aiohttp.ClientSession,
    base_url: str,
    body: dict[str, Any],
    request_id: str,
    api: Api = "chat",
    headers: dict[str, str] | None = None,
    counter: TokenCounter | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> RequestRecord:
    """POST one streaming request and return its record; every failure becomes a record."""
    record = RequestRecord(request_id=request_id, api=api)
    record.started_at = started = now()
    stream = _Stream(started)
    try:
        async with session.post(
            base_url + ENDPOINTS[api], json=body, headers=headers, timeout=timeout
        ) as response:
            record.http_status = response.status
            if response.status != 200:
                text = (await response.text())[:500]
                record.error_kind = HTTP_STATUS
                record.error_message = f"HTTP {response.status}: {text}"
            else:
                async for data in response.content.iter_any():
                    stream.feed(data, now())
        record.e2e_s = now() - started
        if record.error_kind is None:
            _finish(record, stream, counter, body)
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        _fail(record, TIMEOUT, exc, started)
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
        _fail(record, CONNECTION, exc, started)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        _fail(record, MALFORMED_SSE, exc, started)
    return record


def _fail(record: RequestRecord, kind: str, exc: BaseException, started: float) -> None:
    record.e2e_s = now() - started
    record.ok, record.error_kind = False, kind
    record.error_message = f"{type(exc).__name__}: {exc}"[:500]


def auth_headers(api_key: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {api_key}"} if api_key else None


def make_session(limit: int, connect_timeout_s: float = 30.0) -> aiohttp.ClientSession:
    """One pooled session for a run; the connection pool is sized to the concurrency."""
    connector = aiohttp.TCPConnector(limit=limit, force_close=False, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


def request_timeout(total_s: float | None, idle_s: float | None) -> aiohttp.ClientTimeout:
    """`total_s` bounds the whole request, `idle_s` the silence between two reads."""
    return aiohttp.ClientTimeout(total=total_s, sock_read=idle_s)
