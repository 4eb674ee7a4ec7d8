"""The requests a study sends: the warm-up pool, then each cell's disjoint slice (study.offsets)."""

from __future__ import annotations

from pathlib import Path

from specwise.errors import SpecwiseError
from specwise.study import Configuration, Study
from specwise.workloads.commerce import generate
from specwise.workloads.loaders import WorkloadRequest, load_workload


def workload_requests(study: Study) -> list[WorkloadRequest]:
    """The study's workload: the warm-up pool, then every cell's disjoint slice
    (study.offsets); a file too short for disjoint draws is refused with the count it needs."""
    w, n = study.workload, study.requests_needed
    if not w.file:
        return generate(w.skip + n, w.seed, w.split, w.weights)[w.skip :]  # prefix-stable
    requests = load_workload(Path(w.file), w.turns)[w.skip :]
    if len(requests) < n:
        skipped = f" after the {w.skip} skipped" if w.skip else ""
        raise SpecwiseError(
            f"{w.file} holds {len(requests)} requests{skipped}, but this study needs {n} (a "
            f"warm-up pool of {study.warmup_pool} and disjoint requests for every "
            "configuration); add requests to the file or lower `requests`, `concurrency`, "
            "`temperature`, `repeats` or `workload.skip`."
        )
    return requests[:n]


def workload_by_id(study: Study) -> dict[str, WorkloadRequest]:
    """Request id → request for everything the study may have sent (a store written before
    disjoint draws sent the first requests of every cell: they are in here too)."""
    w = study.workload
    if w.file:
        requests = load_workload(Path(w.file), w.turns)
    else:
        requests = generate(w.skip + study.requests_needed, w.seed, w.split, w.weights)
    return {r.id: r for r in requests}


def cell_requests(requests: list[WorkloadRequest], config: Configuration) -> list[WorkloadRequest]:
    """The requests one configuration measures: its cell's slice of the workload."""
    return requests[config.offset : config.offset + config.requests]
