"""A model's reply read as JSON, however it wraps it."""

from __future__ import annotations

import json
from typing import Any


def extract_json(text: str) -> Any:
    """The reply as JSON: the whole text, else a ```json fence, else the outermost {...}."""
    candidates = [text.strip()]
    if "```" in text:
        inner = text.split("```")[1]
        candidates.append(inner.removeprefix("json").strip())
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise ValueError("no JSON object in the reply")
