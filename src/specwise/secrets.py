"""API keys: read only from the environment variable the user *names*, and redacted from
everything specwise prints or stores (error bodies that echo the Authorization header included).
"""

from __future__ import annotations

import os
import re

from specwise.errors import SpecwiseError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASK = "***"


def api_key(env_name: str | None, flag: str = "--api-key-env") -> str | None:
    """The key in $env_name (None when no name is given). A value that is not a variable name
    (e.g. the key itself) is refused without echoing it."""
    if not env_name:
        return None
    if not ENV_NAME.fullmatch(env_name):
        raise SpecwiseError(
            f"{flag} takes the NAME of an environment variable that holds the key, not the key "
            f"itself (what was passed is not shown); export MY_KEY=<the key> and pass {flag} "
            "MY_KEY."
        )
    key = os.environ.get(env_name)
    if not key:
        raise SpecwiseError(
            f"{flag} names ${env_name}, which is not set; export {env_name}=<the API key> and "
            "run again."
        )
    return key


def redact(text: str | None, *keys: str | None) -> str | None:
    """`text` with every key in it replaced by ***."""
    if not text:
        return text
    for key in keys:
        if key and len(key) >= 4:
            text = text.replace(key, MASK)
    return text
