"""Load user traffic into `WorkloadRequest`s.

Formats (`load_workload` picks by suffix and content):
- JSONL, one object per line: an OpenAI chat request
    {"messages": [{"role": ..., "content": ...}, ...], "tools": [...]?, "max_tokens": N?,
     "kind": "..."?, "id": "..."?, ...any other keys kept in `extra`},
  or a ShareGPT record {"conversations": [{"from": "human"|"gpt"|..., "value": ...}, ...]},
  or {"prompt": "..."};
- JSON: an array of such objects, or of prompt strings (ShareGPT dumps are arrays);
- .txt: one prompt a line.
A conversation whose last message is from the assistant is a recorded dialogue: `turns="last"`
makes one request of the prefix before the last assistant message, `turns="every"` one per
assistant message; the assistant's text goes to `extra["expected"]`. A conversation that ends on
a user or tool message is one request as it stands (plus, with "every", its earlier assistant
turns). A malformed record is an error naming the file and line; nothing is silently skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from specwise.errors import SpecwiseError

KNOWN_KEYS = {"id", "messages", "tools", "max_tokens", "kind"}
TURNS = ("last", "every")
Turns = Literal["last", "every"]
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "model": "assistant",
    "function_call": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
}


@dataclass(frozen=True)
class WorkloadRequest:
    """One chat request of a workload, in OpenAI format."""

    id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    max_tokens: int | None = None
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "messages": self.messages}
        if self.tools is not None:
            out["tools"] = self.tools
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.kind is not None:
            out["kind"] = self.kind
        return out | self.extra


def check_content(message: dict[str, Any]) -> None:
    """OpenAI's shapes: text, or a list of {type, ...} parts; none only beside tool_calls."""
    content = message.get("content")
    if content is None and message.get("tool_calls"):
        return
    if isinstance(content, str):
        return
    parts_ok = isinstance(content, list) and all(
        isinstance(p, dict) and "type" in p for p in content
    )
    if not parts_ok:
        shown = "no `content`" if content is None else f"a {type(content).__name__} `content`"
        raise ValueError(
            f"a {message.get('role')!r} message has {shown}; give it text (a string) or a list "
            'of {"type": "text", "text": ...} parts'
        )


def request_from_json(obj: Any, default_id: str) -> WorkloadRequest:
    """Validate one decoded line; raises ValueError with what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object with a `messages` list")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list of {role, content} objects")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            raise ValueError("every message must be an object with a `role`")
        check_content(m)
    tools = obj.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise ValueError("`tools` must be a list of OpenAI tool definitions")
    max_tokens = obj.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError("`max_tokens` must be a positive integer")
    return WorkloadRequest(
        id=str(obj.get("id", default_id)),
        messages=messages,
        tools=tools,
        max_tokens=max_tokens,
        kind=obj.get("kind"),
        extra={k: v for k, v in obj.items() if k not in KNOWN_KEYS},
    )


def sharegpt_messages(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """ShareGPT `conversations` (from/value) -> OpenAI messages; raises ValueError if malformed."""
    turns = obj.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise ValueError("`conversations` must be a non-empty list of {from, value} objects")
    messages = [{"role": "system", "content": obj["system"]}] if obj.get("system") else []
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise ValueError("every ShareGPT turn must be an object with a string `value`")
        role = SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            allowed = ", ".join(SHAREGPT_ROLES)
            raise ValueError(f"ShareGPT turn from {turn.get('from')!r} is unknown (use {allowed})")
        messages.append({"role": role, "content": turn["value"]})
    return messages


def record_from_json(obj: Any, default_id: str) -> WorkloadRequest:
    """An OpenAI request, a ShareGPT record, a {"prompt"} object or a bare prompt string."""
    if isinstance(obj, str) and obj.strip():
        return WorkloadRequest(id=default_id, messages=[{"role": "user", "content": obj}])
    if isinstance(obj, dict) and "conversations" in obj and "messages" not in obj:
        rest = {k: v for k, v in obj.items() if k not in ("conversations", "system")}
        obj = rest | {"messages": sharegpt_messages(obj)}
    elif isinstance(obj, dict) and isinstance(obj.get("prompt"), str) and "messages" not in obj:
        rest = {k: v for k, v in obj.items() if k != "prompt"}
        obj = rest | {"messages": [{"role": "user", "content": obj["prompt"]}]}
    return request_from_json(obj, default_id)


def split_turns(request: WorkloadRequest, turns: Turns) -> list[WorkloadRequest]:
    """One request per assistant turn to predict (see the module docstring)."""
    messages = request.messages
    first_turn = next((i for i, m in enumerate(messages) if m["role"] != "system"), len(messages))
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant" and i > first_turn]
    ends_open = messages[-1]["role"] != "assistant"
    targets = answers if turns == "every" else ([] if ends_open else answers[-1:])
    out = [_before(request, i, last=i == answers[-1] and not ends_open) for i in targets]
    if ends_open:
        out.append(request)
    if not out:
        raise ValueError("the conversation has no user turn before its assistant reply")
    return out


def _before(request: WorkloadRequest, index: int, last: bool) -> WorkloadRequest:
    """The prefix before assistant message `index`; its content becomes extra['expected']."""
    expected = request.messages[index].get("content") or ""
    extra = request.extra | {"expected": expected} if last else {"expected": expected}
    return WorkloadRequest(
        id=request.id if last else f"{request.id}-t{index}",
        messages=request.messages[:index],
        tools=request.tools,
        max_tokens=request.max_tokens if last else None,
        kind=request.kind if last else None,
        extra=extra,
    )


def load_jsonl(path: Path, turns: Turns = "last") -> list[WorkloadRequest]:
    """Read a JSONL file of chat requests or ShareGPT records (blank lines allowed)."""
    requests = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = record_from_json(json.loads(line), default_id=f"{path.stem}-{number}")
            requests += split_turns(record, turns)
        except json.JSONDecodeError as exc:
            raise SpecwiseError(
                f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno}); each line must be "
                "one JSON object; fix or remove that line."
            ) from None
        except ValueError as exc:
            raise SpecwiseError(f"{path}:{number}: {exc}; fix or remove that line.") from None
    return nonempty(requests, path)


def load_json_array(path: Path, turns: Turns = "last") -> list[WorkloadRequest]:
    """Read a JSON array of chat requests, ShareGPT records or prompt strings."""
    requests = []
    for number, index, obj in json_array_items(read_text(path), path):
        try:
            record = record_from_json(obj, default_id=f"{path.stem}-{index}")
            requests += split_turns(record, turns)
        except ValueError as exc:
            raise SpecwiseError(
                f"{path}:{number}: item {index}: {exc}; fix or remove that item."
            ) from None
    return nonempty(requests, path)


def load_prompts(path: Path) -> list[WorkloadRequest]:
    """A text file with one user prompt a line (blank lines skipped)."""
    requests = [
        WorkloadRequest(id=f"{path.stem}-{n}", messages=[{"role": "user", "content": line}])
        for n, line in enumerate(read_text(path).splitlines(), start=1)
        if line.strip()
    ]
    return nonempty(requests, path)


def load_workload(path: Path, turns: Turns = "last") -> list[WorkloadRequest]:
    """Any supported file: .jsonl, .json (array) or .txt (prompts); see the module docstring."""
    if turns not in TURNS:
        raise SpecwiseError(f"Turn option {turns!r} is unknown; use one of {', '.join(TURNS)}.")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return load_prompts(path)
    if suffix == ".json":
        return load_json_array(path, turns)
    if suffix == ".jsonl":
        return load_jsonl(path, turns)
    raise SpecwiseError(
        f"Workload file {path} has an unknown suffix; name it .jsonl, .json or .txt."
    )


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecwiseError(f"Workload file {path} does not exist; check the path.") from None
    except IsADirectoryError:
        raise SpecwiseError(f"Workload file {path} is a directory; pass the file in it.") from None
    except OSError as exc:
        raise SpecwiseError(f"Workload file {path} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise SpecwiseError(
            f"Workload file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None


def nonempty(requests: list[WorkloadRequest], path: Path) -> list[WorkloadRequest]:
    if not requests:
        raise SpecwiseError(f"Workload file {path} holds no requests; add one a line.")
    return requests


def json_array_items(text: str, path: Path) -> list[tuple[int, int, Any]]:
    """(line, index, value) of each item of a top-level JSON array, for line-numbered errors."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if text[pos : pos + 1] != "[":
        raise SpecwiseError(f"{path}:1: expected a JSON array `[...]`; wrap the records in one.")
    items: list[tuple[int, int, Any]] = []
    pos = _skip_space(text, pos + 1)
    line = 1 + text.count("\n", 0, pos)
    while text[pos : pos + 1] != "]":
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise SpecwiseError(f"{path}:{exc.lineno}: {exc.msg}; fix the JSON there.") from None
        items.append((line, len(items), value))
        line += text.count("\n", pos, end)
        pos = _skip_space(text, end)
        if text[pos : pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
        elif text[pos : pos + 1] != "]":
            where = line + text.count("\n", end, pos)
            raise SpecwiseError(f"{path}:{where}: expected `,` or `]`; fix the JSON there.")
        line += text.count("\n", end, pos)
    return items


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
