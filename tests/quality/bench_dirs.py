"""`specwise bench --out`-style directories for the judge's tests (no server)."""

from __future__ import annotations

import json
from pathlib import Path

from specwise.bench.client import RequestRecord


def write_dir(
    path: Path, workload: Path | None, texts: dict[str, str], temperature: float = 0.0
) -> Path:
    """requests.jsonl with one successful record per (request id, text), and summary.json."""
    path.mkdir()
    records = [RequestRecord(request_id=rid, ok=True, text=t) for rid, t in texts.items()]
    (path / "requests.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    params = {"workload": str(workload) if workload else None, "temperature": temperature}
    params["arm"] = path.name
    (path / "summary.json").write_text(json.dumps({"parameters": params}))
    return path
