"""Load user traffic into `WorkloadRequest`s.

JSONL of OpenAI chat requests, one object per line:
    {"messages": [{"role": ..., "content": ...}, ...], "tools": [...]?, "max_tokens": N?,
     "kind": "..."?, "id": "..."?, ...any other keys kept in `extra`}
A malformed line is an error naming the file and line; nothing is silently skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specwise.errors import SpecwiseError

KNOWN_KEYS = {"id", "messages", "tools", "max_tokens", "kind"}


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


def load_jsonl(path: Path) -> list[WorkloadRequest]:
    """Read a JSONL file of OpenAI chat requests (blank lines allowed)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise SpecwiseError(f"Workload file {path} does not exist; check the path.") from None
    requests = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            requests.append(request_from_json(json.loads(line), default_id=f"{path.stem}-{number}"))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise SpecwiseError(f"{path}:{number}: {exc}; fix or remove that line.") from None
    if not requests:
        raise SpecwiseError(f"Workload file {path} holds no requests; add one JSON object a line.")
    return requests
