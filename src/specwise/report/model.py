"""The report's data model: one `Row` per measured configuration, one `StudyData` per study.

Rows are plain numbers copied out of the store (the bench summaries and the acceptance measured
over each run's window); nothing here renders, and every metric keeps the name and formula
of `specwise.bench.metrics` / `specwise.servers.prometheus`. `rows_from_store` is the only
code that knows the store's layout.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specwise.bench import metrics
from specwise.bench.client import RequestRecord
from specwise.errors import SpecwiseError

SAMPLES_PER_ROW = 2  # model outputs kept per configuration (shown escaped in the report)


@dataclass
class Row:
    """One configuration: an arm at one concurrency, temperature and repeat."""

    arm: str
    concurrency: int
    temperature: float
    repeat: int = 0
    gpus: int = 1
    gpu_hour_usd: float | None = None
    method: str | None = None  # speculation method; None = no speculation
    k: int | None = None  # num_speculative_tokens
    status: str = "done"  # done | failed
    reason: str | None = None  # why a failed configuration failed
    requests: int = 0
    successful: int = 0
    output_tokens: int = 0  # Σ over successful requests
    prompt_tokens: int = 0
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    output_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    goodput_requests_per_s: float | None = None
    slo_fraction: float | None = None  # share of requests meeting every SLO threshold
    ttft_s: dict[str, float] | None = None  # metrics.stats dicts (mean, median, p90, p99, …)
    tpot_s: dict[str, float] | None = None
    e2e_s: dict[str, float] | None = None
    per_user_tokens_per_s: dict[str, float] | None = None
    acceptance_rate: float | None = None  # α over the run's window (/metrics counters)
    acceptance_length: float | None = None  # AL = 1 + accepted / drafts
    tokens_per_step: float | None = None  # over all steps
    per_position_rates: list[float] | None = None
    request_lengths: list[float] = field(default_factory=list)  # per-request AL (or proxy)
    request_lengths_source: str | None = None  # server_per_request | proxy_tokens_per_chunk
    token_sources: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)  # model outputs (untrusted text)
    errors: list[str] = field(default_factory=list)  # server / client error messages (untrusted)

    @property
    def speculative(self) -> bool:
        return self.method is not None

    @property
    def label(self) -> str:
        return f"{self.arm} c={self.concurrency} T={self.temperature:g}" + (
            f" r={self.repeat}" if self.repeat else ""
        )


@dataclass
class Verdict:
    """A quality verdict for one speculative arm at one temperature."""

    arm: str
    temperature: float
    verdict: str  # specwise.quality.verdict: equivalent | not shown equivalent | differs
    detail: str = ""


@dataclass
class StudyData:
    """Everything a report shows: rows, the baseline, the SLO, conditions, quality."""

    name: str
    baseline: str
    rows: list[Row]
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    conditions: dict[str, str] = field(default_factory=dict)  # label → value (untrusted text)
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def done(self) -> list[Row]:
        return [r for r in self.rows if r.status == "done"]

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status != "done"]


def slo_fraction(
    records: list[RequestRecord], ttft_s: float | None, tpot_s: float | None
) -> float | None:
    """Share of measured requests meeting every SLO threshold (metrics.meets_slo)."""
    if not records or (ttft_s is None and tpot_s is None):
        return None
    return sum(metrics.meets_slo(r, ttft_s, tpot_s) for r in records) / len(records)


def request_lengths(records: list[RequestRecord]) -> tuple[list[float], str | None]:
    """Per-request acceptance length from the server where it reports it, else the proxy
    tokens per streamed chunk (metrics.request_acceptance / metrics.tokens_per_chunk)."""
    ok = [r for r in records if r.ok]
    server = [metrics.request_acceptance(r) for r in ok]
    if ok and all(s is not None for s in server):
        lengths = [s["mean_acceptance_length"] for s in server if s]  # type: ignore[index]
        return [x for x in lengths if x == x], "server_per_request"
    proxy = [metrics.tokens_per_chunk(r) for r in ok]
    return [x for x in proxy if x is not None], "proxy_tokens_per_chunk" if proxy else None


def row_from_run(
    run: dict[str, Any],
    arm: dict[str, Any],
    records: list[RequestRecord],
    slo: tuple[float | None, float | None],
) -> Row:
    """A Row from one stored run, its arm's study fields and its request records."""
    s = run.get("summary") or {}
    a = run.get("acceptance") or {}
    spec = arm.get("speculative_config") or {}
    lengths, source = request_lengths(records) if records else ([], None)
    return Row(
        arm=run["arm"],
        concurrency=int(run["concurrency"]),
        temperature=float(run["temperature"]),
        repeat=int(run.get("repeat") or 0),
        gpus=int(arm.get("gpus", 1)),
        gpu_hour_usd=arm.get("gpu_hour_usd"),
        method=spec.get("method"),
        k=spec.get("num_speculative_tokens"),
        status=run.get("status", "done"),
        reason=run.get("reason"),
        requests=s.get("requests", run.get("requests") or 0),
        successful=s.get("successful", 0),
        output_tokens=s.get("output_tokens") or 0,
        prompt_tokens=s.get("prompt_tokens") or 0,
        failures_by_kind=s.get("failures_by_kind") or {},
        output_tokens_per_s=s.get("output_tokens_per_s"),
        requests_per_s=s.get("requests_per_s"),
        goodput_requests_per_s=metrics.goodput(records, *slo) if any(slo) else None,
        slo_fraction=slo_fraction(records, *slo),
        ttft_s=s.get("ttft_s"),
        tpot_s=s.get("tpot_s"),
        e2e_s=s.get("e2e_s"),
        per_user_tokens_per_s=s.get("per_user_tokens_per_s"),
        acceptance_rate=a.get("acceptance_rate"),
        acceptance_length=a.get("mean_acceptance_length"),
        tokens_per_step=a.get("tokens_per_step"),
        per_position_rates=list(a["per_position_rates"]) if a.get("per_position_rates") else None,
        request_lengths=lengths,
        request_lengths_source=source,
        token_sources=s.get("token_sources") or {},
        samples=[r.text for r in records if r.ok and r.text][:SAMPLES_PER_ROW],
        errors=[f"{r.error_kind}: {r.error_message}" for r in records if not r.ok][:5],
    )


def rows_from_store(
    out: Path, slo_ttft_ms: float | None = None, slo_tpot_ms: float | None = None
) -> StudyData:
    """StudyData from a sweep's output directory (its results.sqlite). The SLO defaults to the
    study's own; passing one here re-evaluates every request against it."""
    from specwise import store

    if not (out / store.STORE_NAME).exists():
        raise SpecwiseError(
            f"{out} holds no {store.STORE_NAME}; pass the --out directory of a sweep."
        )
    conn = store.open_existing(out)
    try:
        study_row = store.stored_study(conn)
        spec: dict[str, Any] = json.loads(study_row["spec"]) if study_row else {}
        slo_spec = spec.get("slo") or {}
        ttft_ms = slo_ttft_ms if slo_ttft_ms is not None else slo_spec.get("ttft_ms")
        tpot_ms = slo_tpot_ms if slo_tpot_ms is not None else slo_spec.get("tpot_ms")
        slo = (_s(ttft_ms), _s(tpot_ms))
        arms = {a["name"]: a for a in spec.get("arms", [])}
        rows = []
        for run in store.runs(conn):
            records = [RequestRecord.from_dict(d) for d in store.load_records(conn, run["id"])]
            rows.append(row_from_run(run, arms.get(run["arm"], {}), records, slo))
        conditions = conditions_from_store(conn, spec, study_row)
    finally:
        conn.close()
    baseline = spec.get("baseline") or (next(iter(arms)) if arms else rows[0].arm if rows else "")
    return StudyData(
        name=study_row["name"] if study_row else out.name,
        baseline=baseline,
        rows=rows,
        slo_ttft_ms=ttft_ms,
        slo_tpot_ms=tpot_ms,
        conditions=conditions,
        verdicts=verdicts_from(out),
    )


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1e3


def conditions_from_store(
    conn: sqlite3.Connection, spec: dict[str, Any], study_row: sqlite3.Row | None
) -> dict[str, str]:
    """Exact conditions: versions, the study, the server commands and the host, as text."""
    import platform

    out: dict[str, str] = {}
    if study_row is not None:
        out["study hash"] = study_row["hash"]
        out["specwise version"] = str(study_row["specwise_version"])
    wl = spec.get("workload") or {}
    out["workload"] = json.dumps(wl, sort_keys=True)
    for key in (
        "concurrency",
        "temperature",
        "requests",
        "warmup",
        "max_tokens",
        "repeats",
        "seed",
    ):
        if key in spec:
            out[key] = json.dumps(spec[key])
    out["report host"] = f"{platform.node()} · {platform.machine()} · {platform.platform()}"
    for row in conn.execute("SELECT arm, command FROM servers ORDER BY id"):
        cmd = json.loads(row["command"] or "[]")
        out.setdefault(f"command · {row['arm']}", " ".join(map(str, cmd)))
    return out


def verdicts_from(out: Path) -> list[Verdict]:
    """Quality verdicts of `specwise judge` (DIR/quality.json: rows with arm, temperature,
    verdict, its one-line `detail` (else `reason`), `control` for the A/A control), if run."""
    path = out / "quality.json"
    if not path.exists():
        return []
    try:
        verdicts = []
        for v in json.loads(path.read_text()):
            arm = str(v["arm"]) + (" (A/A control)" if v.get("control") else "")
            reason = str(v.get("detail") or v.get("reason") or "")
            verdicts.append(Verdict(arm, float(v["temperature"]), str(v["verdict"]), reason))
        return verdicts
    except (ValueError, KeyError, TypeError):
        raise SpecwiseError(
            f"{path} is not a list of quality verdicts; run `specwise judge {out}` again."
        ) from None
