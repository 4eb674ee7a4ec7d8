"""What a sweep asks of a running server: why it died, whether its engine still serves, its
/metrics text, and a reset of its prefix cache."""

from __future__ import annotations

import json
import time
import urllib.request

from specwise.errors import SpecwiseError
from specwise.servers.launch import Server, health_ok, log_tail
from specwise.servers.prometheus import scrape


def died(server: Server) -> str:
    code = server.process.returncode if server.process else None
    last = log_tail(server.log_path, 3).replace("\n", " | ")
    return f"server exited with status {code} (log {server.log_path}: {last})"


def engine_dead(server: Server, tries: int = 3, wait_s: float = 2.0) -> str | None:
    """Why a started server can no longer serve, or None: its process exited, or it stays
    unhealthy (vLLM's API server outlives a dead engine, answering 500 to everything)."""
    if server.process is None:
        return None  # external: only its requests' errors tell
    for attempt in range(tries):
        if not server.alive():
            return died(server)
        if health_ok(server.base_url):
            return None
        if attempt + 1 < tries:
            time.sleep(wait_s)
    last = log_tail(server.log_path, 3).replace("\n", " | ")
    return f"server stopped answering /health: its engine died (log {server.log_path}: {last})"


def metrics_text(server: Server) -> str | None:
    """The server's whole Prometheus text, or None where it has no /metrics."""
    try:
        return scrape(server.base_url, server.api_key)
    except SpecwiseError:
        if not server.alive():
            raise SpecwiseError(died(server)) from None
        return None


def reset_prefix_cache(server: Server) -> None:
    """POST /reset_prefix_cache (vLLM, dev mode); the cache is reset when no request runs."""
    request = urllib.request.Request(server.base_url + "/reset_prefix_cache", b"", method="POST")
    if server.api_key:
        request.add_header("Authorization", f"Bearer {server.api_key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            ok = json.loads(response.read() or b"{}").get("success", True)
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise SpecwiseError(
            f"The server of arm {server.arm.name!r} did not reset its prefix cache "
            "(POST /reset_prefix_cache); set `prefix_cache: as-is` for servers without it."
        )
