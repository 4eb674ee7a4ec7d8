"""`specwise bench`: drive one server with a workload, then write and print what was measured.

`measure` is the programmatic entry (the sweep calls it per arm × concurrency × temperature);
`run_bench` is the command: it loads the workload and the API key, calls `measure`, streams
OUT/requests.jsonl (one record per measured request, written as it finishes, so nothing
measured is lost on Ctrl-C or a crash) beside OUT/summary.json (status "running", then
"complete", or "interrupted" with the metrics of the records it has), and prints a table. A
folder that holds a run is never written over: --overwrite moves the old run to
OUT/superseded-<time>/ first.
The API key is read from the environment variable *named* by the user and sent as a Bearer
token; it is never stored: summary.json holds only the variable's name.
"""

from __future__ import annotations

import asyncio
import json
import math
import platform
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import specwise
from specwise import secrets
from specwise.bench import client, metrics
from specwise.bench.client import Api, RequestRecord, TokenCounter
from specwise.bench.loadgen import Arrival, LoadSpec, generate_load
from specwise.errors import ServerFault, SpecwiseError
from specwise.servers.prometheus import (
    Acceptance,
    CacheCounters,
    SpecCounters,
    acceptance_between,
    cache_counters,
    cache_hit_rate,
    scrape,
    spec_counters,
    sum_acceptance,
)
from specwise.workloads.loaders import WorkloadRequest, load_workload


@dataclass
class Measurement:
    """Everything one measured run produced."""

    records: list[RequestRecord]
    warmup: list[RequestRecord]
    acceptance: Acceptance | None  # from /metrics counters, after warm-up → after the last request
    acceptance_note: str | None
    summary: dict[str, Any]
    stop_reason: str
    prefix_cache_hit_rate: float | None = None  # over the measured requests (/metrics)


@dataclass
class BenchOptions:
    """The options of `specwise bench` (all recorded in summary.json, never the key itself)."""

    url: str
    model: str
    workload: Path
    out: Path
    api: Api = "chat"
    concurrency: int | None = 1
    rate: float | None = None
    arrival: Arrival = "poisson"
    temperature: float | None = None
    max_tokens: int | None = None
    num_requests: int | None = None
    duration_s: float | None = None
    warmup: int = 0
    max_errors: int | None = None
    seed: int = 0
    api_key_env: str | None = None
    tokenizer: str | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    timeout_s: float = 600.0
    idle_timeout_s: float = 120.0
    continuous_usage: bool = True
    arm: str | None = None
    overwrite: bool = False  # move a run already in `out` to out/superseded-<time>/


@dataclass(frozen=True)
class Snapshot:
    """The counters measure() reads before and after the measured requests."""

    spec: SpecCounters | None
    cache: CacheCounters | None
    note: str | None  # why there are no spec-decode counters


async def _snapshot(base_url: str, api_key: str | None) -> Snapshot:
    """Spec-decode and prefix-cache counters now, from one scrape of /metrics."""
    try:
        text = await asyncio.to_thread(scrape, base_url, api_key)
        spec, cache = spec_counters(text), cache_counters(text)
    except SpecwiseError as exc:
        return Snapshot(None, None, str(exc))
    note = None if spec is not None else "the server exports no spec-decode counters"
    return Snapshot(spec, cache, note)


class MeasureBar:
    """The measured phase on the terminal (rich): done / total, errors, output tok/s, redrawn
    from the event loop every `every_s` seconds (no refresh thread competing with the client)."""

    def __init__(self, total: int | None, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.done = self.errors = self.tokens = 0
        self.bar = Progress(
            TextColumn("[bold]measuring"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed}/{task.fields[total_text]} done"),
            TextColumn("[red]{task.fields[errors]} errors"),
            TextColumn("{task.fields[tok_s]:.1f} tok/s"),
            TimeElapsedColumn(),
            auto_refresh=False,
        )
        self.task = self.bar.add_task(
            "measure", total=total, total_text=total or "?", errors=0, tok_s=0.0
        )
        self.ticker: asyncio.Task[None] | None = None
        self.t0 = time.perf_counter()

    def add(self, record: RequestRecord) -> None:
        self.done += 1
        self.errors += not record.ok
        self.tokens += (record.output_tokens or 0) if record.ok else 0

    def draw(self) -> None:
        tok_s = self.tokens / max(time.perf_counter() - self.t0, 1e-9)  # output tokens / wall s
        self.bar.update(
            self.task, completed=self.done, errors=self.errors, tok_s=tok_s, refresh=True
        )

    def start(self) -> None:
        async def tick() -> None:
            while True:
                self.draw()
                await asyncio.sleep(self.every_s)

        self.t0 = time.perf_counter()
        self.bar.start()
        self.ticker = asyncio.create_task(tick())

    async def stop(self) -> None:
        if self.ticker is None:
            return
        self.ticker.cancel()
        await asyncio.gather(self.ticker, return_exceptions=True)
        self.draw()
        self.bar.stop()


async def measure(
    base_url: str,
    model: str,
    requests: list[WorkloadRequest],
    load: LoadSpec,
    params: dict[str, Any],
    *,
    api: Api = "chat",
    api_key: str | None = None,
    arm: str | None = None,
    counter: TokenCounter | None = None,
    continuous_usage: bool = True,
    timeout_s: float | None = 600.0,
    idle_timeout_s: float | None = 120.0,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    progress: bool = True,
    warmup_requests: list[WorkloadRequest] | None = None,
    after_warmup: Callable[[], Any] | None = None,
    tally: metrics.Tally | None = None,
) -> Measurement:
    """Warm up, snapshot counters, send the measured requests, snapshot again, summarize.

    `params` are sampling parameters passed through verbatim (temperature, max_tokens, seed,
    ignore_eos, …). `on_record` sees each measured record as it finishes (keep it cheap: it
    runs on the client's event loop). Warm-ups are drawn from `warmup_requests` (default: the
    measured list); `after_warmup` runs in a thread between the warm-ups and the first counter
    snapshot (the sweep resets the prefix cache there for a cold start). With a `tally`, the
    measured records are not kept: each goes to `on_record`, then into the tally, and the
    summary comes from it (a long run's memory stays flat; Measurement.records is empty).
    """
    base_url = base_url.rstrip("/")
    headers = client.auth_headers(api_key)
    timeout = client.request_timeout(timeout_s, idle_timeout_s)
    state: dict[str, Any] = {"measuring": False, "before": Snapshot(None, None, None)}
    limit = load.concurrency or 0  # connections in the pool; 0 = unlimited (uncapped rate mode)

    async with client.make_session(limit) as session:

        async def send(request: WorkloadRequest, index: int) -> RequestRecord:
            body = client.build_body(request, model, params, api, continuous_usage)
            record = await client.send(
                session, base_url, body, request.id, api, headers, counter, timeout
            )
            record.arm = arm
            record.error_message = secrets.redact(record.error_message, api_key)
            record.extra["index"] = index
            if state["measuring"]:
                if bar is not None:
                    bar.add(record)
                if on_record is not None:
                    on_record(record)
                if tally is not None:
                    tally.add(record)
            return record

        async def between_phases() -> None:
            if after_warmup is not None:
                await asyncio.to_thread(after_warmup)
            state["before"] = await _snapshot(base_url, api_key)
            state["measuring"] = True
            if bar is not None:
                bar.start()

        bar = MeasureBar(load.num_requests) if progress else None
        try:
            result = await generate_load(
                requests, send, load, between_phases, warmup_items=warmup_requests,
                keep=tally is None,
            )  # fmt: skip
        finally:
            if bar is not None:
                await bar.stop()
    before, after = state["before"], await _snapshot(base_url, api_key)
    n = len(result.measured) if tally is None else tally.n
    acceptance = acceptance_between(before.spec, after.spec, n)
    summary = (
        metrics.summarize(result.measured, slo_ttft_s, slo_tpot_s)
        if tally is None
        else tally.summary()
    )
    return Measurement(
        records=result.measured,
        warmup=result.warmup,
        acceptance=acceptance,
        acceptance_note=None if acceptance else (before.note or after.note),
        summary=summary,
        stop_reason=result.stop_reason,
        prefix_cache_hit_rate=cache_hit_rate(before.cache, after.cache),
    )


def combine(
    parts: list[Measurement], slo_ttft_s: float | None = None, slo_tpot_s: float | None = None
) -> Measurement:
    """One run measured in blocks, other arms' turns between them, as one Measurement: records
    in block order (indices renumbered, each record's block in extra["turn"]), span = Σ block
    spans (the gaps are other servers' time), spec-decode counters summed, prefix-cache hit
    rate = Σ rate × prompt tokens / Σ prompt tokens over the blocks that report one."""
    records: list[RequestRecord] = []
    for turn, part in enumerate(parts):
        for r in part.records:
            r.extra["index"], r.extra["turn"] = len(records), turn
            records.append(r)
    span = sum(metrics.span_s(p.records) for p in parts)
    rated = [(p.prefix_cache_hit_rate, prompt_tokens(p.records)) for p in parts]
    rated = [(h, n) for h, n in rated if h is not None and n > 0]
    hit_rate = sum(h * n for h, n in rated) / sum(n for _, n in rated) if rated else None
    stops = [p.stop_reason for p in parts if p.stop_reason != "num_requests"]
    return Measurement(
        records=records,
        warmup=[r for p in parts for r in p.warmup],
        acceptance=sum_acceptance([p.acceptance for p in parts]),
        acceptance_note=next((p.acceptance_note for p in parts if p.acceptance_note), None),
        summary=metrics.summarize(records, slo_ttft_s, slo_tpot_s, span),
        stop_reason=stops[-1] if stops else "num_requests",
        prefix_cache_hit_rate=hit_rate,
    )


def prompt_tokens(records: list[RequestRecord]) -> int:
    return sum(r.prompt_tokens or 0 for r in records if r.ok)


def sampling_params(options: BenchOptions) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if options.temperature is not None:
        params["temperature"] = options.temperature
    if options.max_tokens is not None:
        params["max_tokens"] = options.max_tokens
    return params | options.extra_params


def api_key_from_env(name: str | None) -> str | None:
    return secrets.api_key(name)


def server_version(base_url: str, api_key: str | None) -> str | None:
    """vLLM's GET /version, or None where the server has no such route."""
    request = urllib.request.Request(base_url.rstrip("/") + "/version")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(json.loads(response.read()).get("version"))
    except (OSError, ValueError, AttributeError):
        return None


def load_spec(options: BenchOptions, workload_size: int) -> LoadSpec:
    num = options.num_requests
    if num is None and options.duration_s is None:
        num = workload_size
    try:
        return LoadSpec(
            concurrency=options.concurrency,
            rate=options.rate,
            arrival=options.arrival,
            num_requests=num,
            duration_s=options.duration_s,
            warmup=options.warmup,
            max_errors=options.max_errors,
            seed=options.seed,
        )
    except ValueError as exc:
        raise SpecwiseError(f"Invalid load options: {exc}.") from None


def run_bench(options: BenchOptions) -> Measurement:
    """The `specwise bench` command: measure, stream requests.jsonl, write summary.json, print."""
    requests = load_workload(options.workload)
    api_key = api_key_from_env(options.api_key_env)
    spec = load_spec(options, len(requests))
    counter = client.load_token_counter(options.tokenizer) if options.tokenizer else None
    claim_out(options.out, options.overwrite)
    version = server_version(options.url, api_key)
    started = time.time()
    slo = [None if v is None else v / 1e3 for v in (options.slo_ttft_ms, options.slo_tpot_ms)]
    tally = metrics.Tally(*slo)  # the run's metrics; the records themselves go to disk only
    measured, spare = split_warmup(requests, spec)
    m: Measurement | None = None
    write_summary(options, None, tally, started, version)
    with (options.out / RECORDS).open("wb") as records_file:

        def keep(record: RequestRecord) -> None:  # as each request finishes
            records_file.write(orjson.dumps(record.to_dict()) + b"\n")
            records_file.flush()

        try:
            m = asyncio.run(
                measure(
                    options.url,
                    options.model,
                    measured,
                    spec,
                    sampling_params(options),
                    api=options.api,
                    api_key=api_key,
                    arm=options.arm,
                    counter=counter,
                    continuous_usage=options.continuous_usage,
                    timeout_s=options.timeout_s,
                    idle_timeout_s=options.idle_timeout_s,
                    slo_ttft_s=None if options.slo_ttft_ms is None else options.slo_ttft_ms / 1e3,
                    slo_tpot_s=None if options.slo_tpot_ms is None else options.slo_tpot_ms / 1e3,
                    on_record=keep,
                    warmup_requests=spare,
                    tally=tally,
                )
            )
        finally:  # also on Ctrl-C or a crash: a summary of what was measured, labelled
            write_summary(options, m, tally, started, version, "complete" if m else "interrupted")
    Console().print(results_table(m, options))
    if m.summary["successful"] == 0:
        raise ServerFault(
            f"All {m.summary['requests']} measured requests failed "
            f"({m.summary['failures_by_kind']}); see {options.out / RECORDS} and check "
            "the URL, model name and server log."
        )
    return m


RECORDS, SUMMARY = "requests.jsonl", "summary.json"


def claim_out(out: Path, overwrite: bool) -> Path | None:
    """Make `out` ready for a new run; never write over one. A file → refused; a folder with
    a run in it → refused, or with `overwrite` its run moved to out/superseded-<time>/
    (returned)."""
    if out.exists() and not out.is_dir():
        raise SpecwiseError(f"--out {out} is a file; pass a directory for the run.")
    held = [out / n for n in (RECORDS, SUMMARY) if (out / n).exists()]
    if not held:
        out.mkdir(parents=True, exist_ok=True)
        return None
    if not overwrite:
        raise SpecwiseError(
            f"{out} already holds a run ({held[0].name}); pass another --out, or --overwrite "
            f"to move it to {out}/superseded-<time>/ first."
        )
    old = out / time.strftime("superseded-%Y%m%d-%H%M%S")
    n = 1
    while old.exists():
        old, n = out / f"{old.name.split('.')[0]}.{n}", n + 1
    old.mkdir()
    for path in held:
        path.rename(old / path.name)
    return old


def write_summary(
    options: BenchOptions,
    m: Measurement | None,
    done: metrics.Tally,
    started: float,
    version: str | None,
    status: str = "running",
) -> None:
    """summary.json, replaced atomically: a reader never sees half of one."""
    doc = summary_document(options, m, done, started, version, status)
    tmp = options.out / (SUMMARY + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(options.out / SUMMARY)


def split_warmup(
    requests: list[WorkloadRequest], spec: LoadSpec
) -> tuple[list[WorkloadRequest], list[WorkloadRequest] | None]:
    """(measured, warm-up pool): with --num-requests N below the workload's size, warm-ups come
    from the requests after the first N, so no measured prompt is warmed into the cache; else
    from the whole workload (a short workload is cycled anyway)."""
    n = spec.num_requests
    if spec.warmup and n is not None and spec.duration_s is None and len(requests) > n:
        return requests[:n], requests[n:]
    return requests, None


def write_records(path: Path, records: list[RequestRecord]) -> None:
    with path.open("w") as f:
        f.writelines(json.dumps(r.to_dict()) + "\n" for r in records)


def summary_document(
    options: BenchOptions,
    m: Measurement | None,
    done: metrics.Tally,
    started: float,
    version: str | None,
    status: str,
) -> dict[str, Any]:
    """The run's facts; without a Measurement (running, interrupted) the metrics are those of
    the records finished so far and there are no counters."""
    params = asdict(options) | {"workload": str(options.workload), "out": str(options.out)}
    return {
        "status": status,  # running | complete | interrupted
        "specwise_version": specwise.__version__,
        "server_version": version,
        "started_at": started,
        "finished_at": None if status == "running" else time.time(),
        "host": platform.node(),
        "parameters": params,
        "stop_reason": m.stop_reason if m else status,
        "warmup_requests": len(m.warmup) if m else None,
        "metrics": m.summary if m else done.summary(),
        "acceptance": m.acceptance.to_dict() if m and m.acceptance else None,
        "acceptance_note": m.acceptance_note if m else f"{status}: counters not read",
    }


def _ms(s: dict[str, float] | None, key: str) -> str:
    return "n/a" if not s else f"{s[key] * 1e3:.1f}"


def _num(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def results_table(m: Measurement, options: BenchOptions) -> Table:
    s = m.summary
    table = Table(title=f"specwise bench · {options.model} · {options.url}")
    table.add_column("metric")
    for col in ("mean", "median", "p90", "p99"):
        table.add_column(col, justify="right")
    for name, key in (("TTFT ms", "ttft_s"), ("TPOT ms", "tpot_s"), ("ITL ms", "itl_s")):
        table.add_row(name, *(_ms(s[key], c) for c in ("mean", "median", "p90", "p99")))
    table.add_row("E2E ms", *(_ms(s["e2e_s"], c) for c in ("mean", "median", "p90", "p99")))
    table.add_section()
    table.add_row("requests ok", f"{s['successful']}/{s['requests']}")
    if s["failures_by_kind"]:
        table.add_row("failures", ", ".join(f"{k}: {n}" for k, n in s["failures_by_kind"].items()))
    table.add_row("output tok/s", _num(s["output_tokens_per_s"], ".1f"))
    table.add_row("requests/s", _num(s["requests_per_s"], ".3f"))
    if s["goodput_requests_per_s"] is not None:
        table.add_row("goodput req/s", _num(s["goodput_requests_per_s"], ".3f"))
    table.add_row("tokens counted by", ", ".join(s["token_sources"]))
    a = m.acceptance
    if a is not None:
        table.add_row("acceptance rate", _num(a.acceptance_rate, ".3f"))
        table.add_row("acceptance length", _num(a.acceptance_length, ".3f"))
        table.add_row("tokens/step (all)", _num(a.tokens_per_step, ".3f"))
    else:
        table.add_row("acceptance", "n/a")
        table.caption = f"acceptance n/a: {m.acceptance_note}"
    pra = s["per_request_acceptance"]
    if pra["source"] == "proxy_tokens_per_chunk" and pra["tokens_per_chunk"]:
        tpc = pra["tokens_per_chunk"]
        table.add_row("tokens/chunk (PROXY)", f"{tpc['mean']:.3f}", f"{tpc['median']:.3f}")
    return table


def options_from_cli(**cli: Any) -> BenchOptions:
    """BenchOptions from the command's raw values: validates the choices and the extra JSON."""
    if cli["api"] not in ("chat", "completions"):
        raise SpecwiseError(f"--api {cli['api']!r} is unknown; use chat or completions.")
    if cli["arrival"] not in ("poisson", "constant"):
        raise SpecwiseError(f"--arrival {cli['arrival']!r} is unknown; use poisson or constant.")
    extra = cli.pop("extra")
    try:
        extra_params = json.loads(extra) if extra else {}
    except ValueError:
        raise SpecwiseError(
            "--extra is not valid JSON; pass an object like '{\"seed\": 1}'."
        ) from None
    if not isinstance(extra_params, dict):
        raise SpecwiseError("--extra must be a JSON object like '{\"ignore_eos\": true}'.")
    cli["duration_s"] = cli.pop("duration")
    cli["url"] = client.checked_url(cli["url"])
    cli["timeout_s"], cli["idle_timeout_s"] = cli.pop("timeout"), cli.pop("idle_timeout")
    for name in ("timeout_s", "idle_timeout_s"):
        if not (cli[name] > 0 and math.isfinite(cli[name])):
            flag = "--" + name.removesuffix("_s").replace("_", "-")
            raise SpecwiseError(f"{flag} must be a positive number of seconds, e.g. 600.")
    for name, example in (("slo_ttft_ms", "500"), ("slo_tpot_ms", "50")):
        if cli[name] is not None and not (cli[name] > 0 and math.isfinite(cli[name])):
            raise SpecwiseError(
                f"--{name.replace('_', '-')} must be a positive number, e.g. {example}."
            )
    t = cli["temperature"]
    if t is not None and not (t >= 0 and math.isfinite(t)):
        raise SpecwiseError("--temperature must be a finite number >= 0, e.g. 0 or 0.7.")
    return BenchOptions(**cli, extra_params=extra_params)
