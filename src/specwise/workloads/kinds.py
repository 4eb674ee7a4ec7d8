"""Request kinds a workload may declare (a request's `kind`) and the deterministic check of each
one's reply that the quality step runs beside the generic ones. A user's own traffic declares
none: it gets the generic checks only."""

from __future__ import annotations

from collections.abc import Callable

from specwise.workloads.commerce import check_search_params

# kind → check(reply text) → {"json": some JSON object found, "valid": it fits the schema, …}
OUTPUT_CHECKS: dict[str, Callable[[str], dict[str, bool]]] = {
    "search_params": check_search_params,  # the commerce workload's SearchParams schema
}
