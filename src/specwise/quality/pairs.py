"""The pairs the quality step checks: baseline and candidate answers to the same request.

Sources: a sweep's results store (every arm × temperature against the baseline arm, same
concurrency, repeat and look: the same requests with the same seed, paired by request id), or
`specwise bench --out` directories (the candidate, --baseline, optionally an A/A --control: the
baseline again with another seed). The sweep store has no A/A control: every configuration of a
sweep draws its own requests, so no two baseline runs answer the same request; the positive
control (planted.py) takes its place.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from specwise.bench.client import RequestRecord
from specwise.errors import ServerFault, SpecwiseError
from specwise.quality import exact
from specwise.workloads.loaders import load_jsonl

if TYPE_CHECKING:
    from specwise.study import Study


@dataclass
class Group:
    """The pairs of one speculative arm at one temperature (or of a bench A/A control)."""

    arm: str
    temperature: float
    pairs: list[exact.Pair]
    control: bool = False


def read_bench_dir(path: Path) -> tuple[list[RequestRecord], dict[str, Any]]:
    """requests.jsonl as records and summary.json's parameters ({} when absent)."""
    records_path = path / "requests.jsonl"
    if not records_path.exists():
        raise SpecwiseError(f"{path} holds no requests.jsonl; pass a `specwise bench --out` dir.")
    return read_records(records_path), bench_parameters(path / "summary.json")


def read_records(path: Path) -> list[RequestRecord]:
    """Every record of a requests.jsonl. A torn last line (a run killed while writing it) is
    left out with a note; a bad line before it means the file was damaged: a ServerFault."""
    lines = [(n, x) for n, x in enumerate(path.read_bytes().splitlines(), 1) if x.strip()]
    records = []
    for i, (number, line) in enumerate(lines):
        try:
            records.append(RequestRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError, AttributeError):
            if i == len(lines) - 1:
                Console(stderr=True).print(f"note: {path}:{number} is torn (an interrupted "
                                           "run); the records before it are used")  # fmt: skip
                break
            raise ServerFault(
                f"{path}:{number} is not a request record (a damaged or edited file); restore "
                "it, or measure that run again into a new --out."
            ) from None
    return records


def bench_parameters(path: Path) -> dict[str, Any]:
    """summary.json's parameters ({} when absent or unreadable)."""
    try:
        return dict(json.loads(path.read_text()).get("parameters") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def workload_index(path: str | None) -> dict[str, Any]:
    """Request id → WorkloadRequest, from the workload file if it is still there."""
    if not path or not Path(path).exists():
        return {}
    return {r.id: r for r in load_jsonl(Path(path))}


def pairs_from_bench(baseline: Path, candidate: Path, control: Path | None = None) -> list[Group]:
    """Groups from `specwise bench` output directories (temperature from summary.json)."""
    base, base_params = read_bench_dir(baseline)
    cand, params = read_bench_dir(candidate)
    workload = workload_index(params.get("workload") or base_params.get("workload"))
    temperature = float(params.get("temperature") or 0.0)
    arm = params.get("arm") or candidate.name
    groups = [Group(arm, temperature, exact.pair_records(base, cand, workload))]
    if control is not None:
        ctrl, ctrl_params = read_bench_dir(control)
        temperature = float(ctrl_params.get("temperature") or 0.0)
        groups.append(
            Group("A/A control", temperature, exact.pair_records(base, ctrl, workload), True)
        )
    return groups


def pairs_from_store(out: Path, baseline_arm: str | None = None) -> list[Group]:
    """Groups from a sweep's results store: each arm's runs pair with the baseline arm's run of
    the same temperature, concurrency, repeat and look (the same configuration: same requests,
    same seed), by request id. No A/A control: two baseline runs share no request (module doc)."""
    from specwise import store
    from specwise.study_requests import workload_by_id

    study = stored_study(out)
    if study is None:
        raise SpecwiseError(f"{out} holds no study yet; run the sweep first.")
    conn = store.open_existing(out)
    try:
        base_name = baseline_arm or study.baseline or study.arms[0].name
        done = [r for r in store.runs(conn) if r["status"] == "done"]
        n = max((r["requests"] or 0 for r in done), default=0)
        workload = workload_by_id(study) if n else {}
        records = {
            r["id"]: [RequestRecord.from_dict(d) for d in store.load_records(conn, r["id"])]
            for r in done
        }
    finally:
        conn.close()
    base = {
        (r["temperature"], r["concurrency"], r["repeat"], r["look"]): r["id"]
        for r in done
        if r["arm"] == base_name
    }
    if not base:
        raise SpecwiseError(
            f"The store has no finished run of the baseline arm {base_name!r}; run the sweep "
            "first or pass --baseline-arm NAME."
        )
    groups: dict[tuple[str, float], Group] = {}
    for r in done:
        key = (r["temperature"], r["concurrency"], r["repeat"], r["look"])
        if r["arm"] == base_name or key not in base:
            continue
        g = groups.setdefault((r["arm"], r["temperature"]), Group(r["arm"], r["temperature"], []))
        # each group gets its own copy of the baseline records: margin probes annotate them
        own = copy.deepcopy(records[base[key]])
        g.pairs += exact.pair_records(own, records[r["id"]], workload)
    return list(groups.values())


def stored_study(source: Path) -> Study | None:
    """The study stored in a sweep's directory, or None (a bench directory, an empty store)."""
    from specwise import store
    from specwise.study import Study

    if not (source / store.STORE_NAME).exists():
        return None
    conn = store.open_existing(source)
    try:
        row = store.stored_study(conn)
    finally:
        conn.close()
    return Study.model_validate(json.loads(row["spec"])) if row is not None else None
