"""What a sweep measured, read back from the store as typed records: one `Row` per stored
configuration (its metrics, its acceptance counters and a `RequestPoint` per request), one
`StudyData` per study. `load_results` is the only code that knows the store's layout; every
comparison with the baseline goes through `specwise.gains.pair_with_baseline`.

Also here: the summary table printed at the end of a sweep and `specwise export` (CSV, Parquet
or JSON), both from the same records. Every metric keeps the name and formula of
`specwise.bench.metrics` / `specwise.servers.prometheus`.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from specwise import gains, store
from specwise.bench import metrics
from specwise.bench.client import RequestRecord
from specwise.errors import SpecwiseError
from specwise.gains import RequestPoint
from specwise.servers.prometheus import Acceptance, acceptance_from_dict, sum_acceptance
from specwise.study import Study, cell_label

SAMPLES_PER_ROW = 2  # model outputs kept per configuration (shown escaped in the report)
FORMATS = ("csv", "parquet", "json")


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
    tokens_per_step: float | None = None  # over all steps (prometheus.Acceptance.steps)
    per_position_rates: list[float] | None = None
    acceptance: Acceptance | None = None  # the counters the four rates above come from
    prefix_cache: str | None = None  # the policy applied: warm-shared | cold | as-is
    prefix_cache_hit_rate: float | None = None  # Δhits / Δqueries over the measured requests
    points: list[RequestPoint] = field(default_factory=list)  # every measured request
    look: int = 0  # adaptive sampling: which look of its cell this run was
    sampling: str | None = None  # adaptive sampling: why no more requests followed this run
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
        return (
            f"{self.arm} {cell_label(self.concurrency, self.temperature, self.repeat, self.look)}"
        )


@dataclass
class QualityVerdict:
    """A quality verdict for one speculative arm at one temperature."""

    arm: str
    temperature: float
    verdict: str  # specwise.quality.verdict: equivalent | not shown equivalent | differs | …
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
    verdicts: list[QualityVerdict] = field(default_factory=list)
    margin: float = gains.DEFAULT_MARGIN  # practical margin m of the gain verdicts
    confidence: float = gains.CONFIDENCE  # of every interval (adaptive sampling: 1 − α/K)
    cell_noise: float = gains.DEFAULT_CELL_NOISE  # τ of X's interval (gains.turn_interval)
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → the stored arm fields

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
        lengths = [s["acceptance_length"] for s in server if s]  # type: ignore[index]
        return [x for x in lengths if x == x], "server_per_request"
    proxy = [metrics.tokens_per_chunk(r) for r in ok]
    return [x for x in proxy if x is not None], "proxy_tokens_per_chunk" if proxy else None


def pooled_acceptance(rows: list[Row]) -> Acceptance | None:
    """The counters of several runs (a cell's repeats) summed; None if any run has none."""
    return sum_acceptance([r.acceptance for r in rows])


def cell_points(conn: sqlite3.Connection, keys: list[str]) -> dict[str, list[RequestPoint]]:
    """arm → the points of every stored look of these look-0 configuration keys (done runs)."""
    out: dict[str, list[RequestPoint]] = {}
    for run in store.runs(conn):
        key = run["key"]
        if run["status"] != "done" or not any(key == k or key.startswith(k + "+l") for k in keys):
            continue
        records = [RequestRecord.from_dict(d) for d in store.load_records(conn, run["id"])]
        points = [request_point(r, int(run["repeat"] or 0), int(run["look"] or 0)) for r in records]
        out.setdefault(run["arm"], []).extend(points)
    return out


def request_point(record: RequestRecord, repeat: int, look: int = 0) -> RequestPoint:
    """The paired statistics' view of one record (TPOT from metrics.tpot); its turn is the
    block of an interleaved run it was sent in (0 for a run in one block)."""
    return RequestPoint(
        repeat=repeat,
        request_id=record.request_id,
        ok=record.ok,
        output_tokens=record.output_tokens or 0,
        ttft_s=record.ttft_s,
        tpot_s=metrics.tpot(record),
        e2e_s=record.e2e_s,
        look=look,
        turn=int(record.extra.get("turn", 0)),
    )


def row_from_run(
    run: dict[str, Any],
    arm: dict[str, Any],
    records: list[RequestRecord],
    slo: tuple[float | None, float | None],
) -> Row:
    """A Row from one stored run, its arm's study fields and its request records."""
    s = run.get("summary") or {}
    spec = arm.get("speculative_config") or {}
    lengths, source = request_lengths(records) if records else ([], None)
    acc = acceptance_from_dict(run.get("acceptance"), int(run.get("requests") or 0))
    a: dict[str, Any] = acc.to_dict() if acc else {}
    repeat = int(run.get("repeat") or 0)
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
        acceptance_length=a.get(
            "acceptance_length", a.get("mean_acceptance_length")
        ),  # a store from before the rename
        tokens_per_step=a.get("tokens_per_step"),
        per_position_rates=list(a["per_position_rates"]) if a.get("per_position_rates") else None,
        acceptance=acc,
        prefix_cache=run.get("prefix_cache"),
        prefix_cache_hit_rate=run.get("prefix_cache_hit_rate"),
        points=[request_point(r, repeat, int(run.get("look") or 0)) for r in records],
        look=int(run.get("look") or 0),
        sampling=run.get("sampling"),
        request_lengths=lengths,
        request_lengths_source=source,
        token_sources=s.get("token_sources") or {},
        samples=[r.text for r in records if r.ok and r.text][:SAMPLES_PER_ROW],
        errors=[f"{r.error_kind}: {r.error_message}" for r in records if not r.ok][:5],
    )


def load_results(
    out: Path, slo_ttft_ms: float | None = None, slo_tpot_ms: float | None = None
) -> StudyData:
    """StudyData from a sweep's output directory (its results.sqlite). The SLO defaults to the
    study's own; passing one here re-evaluates every request against it."""
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
        margin=float(spec.get("practical_margin", gains.DEFAULT_MARGIN)),
        confidence=study_confidence(spec),
        cell_noise=study_cell_noise(spec),
        arms=arms,
    )


def study_confidence(spec: dict[str, Any]) -> float:
    """The stored study's interval confidence (Study.confidence); 95 % for older stores."""
    try:
        return Study.model_validate(spec).confidence
    except ValueError:
        return gains.CONFIDENCE


def study_cell_noise(spec: dict[str, Any]) -> float:
    """The stored study's τ (Study.cell_noise); the default for stores that predate it."""
    try:
        return Study.model_validate(spec).cell_noise
    except ValueError:
        return gains.DEFAULT_CELL_NOISE


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
        "prefix_cache",
        "practical_margin",
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


def verdicts_from(out: Path) -> list[QualityVerdict]:
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
            verdicts.append(QualityVerdict(arm, float(v["temperature"]), str(v["verdict"]), reason))
        return verdicts
    except (ValueError, KeyError, TypeError):
        raise SpecwiseError(
            f"{path} is not a list of quality verdicts; run `specwise judge {out}` again."
        ) from None


def _ms(stats: dict[str, float] | None, key: str) -> float | None:
    return None if not stats else stats[key] * 1e3


def _bounds(x: gains.Interval | None) -> tuple[float | None, float | None, float | None]:
    return (None, None, None) if x is None else (x.estimate, x.low, x.high)


def flat_rows(data: StudyData) -> list[dict[str, Any]]:
    """One flat row per stored configuration (runs.csv): its metrics, then its cell's paired
    gain over the baseline (repeats pooled) with its interval and the verdict."""
    by_cell = {(g.arm, g.concurrency, g.temperature): g for g in gains.pair_with_baseline(data)}
    out = []
    for r in data.rows:
        g = by_cell.get((r.arm, r.concurrency, r.temperature))
        x, lo, hi = _bounds(g.throughput if g else None)
        row = {"arm": r.arm, "concurrency": r.concurrency, "temperature": r.temperature}
        row |= {"repeat": r.repeat, "status": r.status, "reason": r.reason}
        row |= {
            "requests": r.requests,
            "errors": r.requests - r.successful if r.status == "done" else None,
            "output_tokens": r.output_tokens,
            "output_tokens_per_s": r.output_tokens_per_s,
            "ttft_p50_ms": _ms(r.ttft_s, "median"),
            "ttft_p99_ms": _ms(r.ttft_s, "p99"),
            "tpot_p50_ms": _ms(r.tpot_s, "median"),
            "tpot_p99_ms": _ms(r.tpot_s, "p99"),
            "goodput_requests_per_s": r.goodput_requests_per_s,
            "acceptance_rate": r.acceptance_rate,
            "acceptance_length": r.acceptance_length,
            "tokens_per_step": r.tokens_per_step,
            "prefix_cache": r.prefix_cache,
            "prefix_cache_hit_rate": r.prefix_cache_hit_rate,
            "baseline_arm": data.baseline,
            "pairs": g.pairs if g else None,
            "throughput_ratio": x,
            "throughput_ratio_low": lo,
            "throughput_ratio_high": hi,
            "verdict": g.verdict if g else None,
        }
        out.append(row)
    return out


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def summary_table(data: StudyData, title: str) -> Table:
    """The table printed at the end of a sweep: one line per configuration."""
    table = Table(title=title, title_justify="left")
    columns = ["arm", "c", "T", "out tok/s", "vs base [CI]", "verdict", "TTFT p50"]
    columns += ["TPOT p50", "accept", "AL", "tok/step", "cache hit", "errors"]
    for col in columns:
        table.add_column(col, justify="left" if col in ("arm", "verdict") else "right")
    for r in flat_rows(data):
        arm = r["arm"] + (f" r{r['repeat']}" if r["repeat"] else "")
        head = [arm, str(r["concurrency"]), f"{r['temperature']:g}"]
        if r["status"] != "done":
            table.add_row(*head, f"[red]failed: {r['reason']}"[:90])
            continue
        x = r["throughput_ratio"]
        vs = (
            "—"
            if x is None
            else f"{x:.2f}× [{r['throughput_ratio_low']:.2f}, {r['throughput_ratio_high']:.2f}]"
        )
        table.add_row(
            *head,
            _f(r["output_tokens_per_s"], ".1f"),
            vs,
            r["verdict"] or "—",
            _f(r["ttft_p50_ms"], ".0f"),
            _f(r["tpot_p50_ms"], ".1f"),
            _f(r["acceptance_rate"], ".3f"),
            _f(r["acceptance_length"], ".2f"),
            _f(r["tokens_per_step"], ".2f"),
            _f(r["prefix_cache_hit_rate"], ".0%"),
            f"{r['errors']}/{r['requests']}",
        )
    table.caption = (
        f"vs base = paired throughput ratio (Σ tokens / Σ E2E of the requests both arms "
        f"answered, repeats and looks pooled) with its {percent(data.confidence)} interval (t "
        f"over the arms' turns; bootstrap over requests for a cell in one turn; both with "
        f"the between-cell term τ = {data.cell_noise:g}); verdict "
        f"with margin {percent(data.margin)}: pays / loses / break-even / "
        "inconclusive. TTFT, TPOT in ms; "
        "accept = draft acceptance rate, AL = mean acceptance length (steps that drafted), "
        "tok/step over all steps, cache hit = prefix-cache hit rate, all from the server's "
        "counters over each run; n/a = not available"
    )
    return table


def percent(x: float) -> str:
    """0.9875 → "98.75 %", 0.95 → "95 %", 0.03 → "3 %"."""
    return f"{x * 100:.2f}".rstrip("0").rstrip(".") + " %"


def export(out: Path, fmt: str) -> list[Path]:
    """Write OUT/export/{runs,requests,servers}.{fmt}; returns the files written. Runs that
    `sweep --force` set aside come last, with their `superseded_at` time (else empty)."""
    if fmt not in FORMATS:
        raise SpecwiseError(f"--format {fmt!r} is unknown; use one of {', '.join(FORMATS)}.")
    runs = [r | {"superseded_at": None} for r in flat_rows(load_results(out))]
    conn = store.open_existing(out)
    try:
        columns = list(runs[0]) if runs else ["arm", "concurrency", "temperature", "repeat"]
        for old in store.runs(conn, superseded=True):  # set aside by `sweep --force`
            mine = {k: old[k] for k in ("status", "reason", "superseded_at")}
            runs.append({c: old.get(c) for c in columns} | mine)
        tables = {
            "runs": runs,
            "requests": _rows(conn, "SELECT r.arm, r.concurrency, r.temperature, r.repeat, "
                          "r.superseded_at, q.* FROM requests q JOIN runs r ON r.id = q.run_id "
                          "ORDER BY r.superseded_at IS NOT NULL, r.position, q.idx"),
            "servers": _rows(conn, "SELECT * FROM servers ORDER BY id"),
        }  # fmt: skip
    finally:
        conn.close()
    folder = out / "export"
    folder.mkdir(parents=True, exist_ok=True)
    write = {"csv": write_csv, "parquet": write_parquet, "json": write_json}[fmt]
    return [write(rows, folder / f"{name}.{fmt}") for name, rows in tables.items()]


def _rows(conn: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql)]


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def write_json(rows: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return path


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SpecwiseError(
            "Parquet export needs pyarrow; run `pip install pyarrow` or use --format csv."
        ) from None
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
