"""`specwise sweep`: measure every configuration of a study, resumably, into the results store.

For each arm: start its server once, run its concurrency × temperature × repeat configurations
(each: optional prefix-cache reset, warm-up, counter snapshots, the measured requests), stop it;
then the next arm. Every configuration sends the same workload requests in the same order with
the same sampling seed, so outputs pair across arms by request index.

Resume: configurations already done are skipped; one interrupted by a kill left no rows and is
measured again; failed ones are retried. A server that dies mid-arm fails its remaining
configurations with the reason, and the sweep moves on to the next arm. Servers are recorded
in the store (pid, process group, command) so a later sweep reaps any a killed one left behind.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shlex
import signal
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

import psutil
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from specwise import store
from specwise.bench.client import RequestRecord
from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.errors import SpecwiseError
from specwise.models import KNOWN_MODELS, model_dir
from specwise.servers.launch import Server, health_ok, log_tail, start
from specwise.servers.prometheus import Acceptance, scrape
from specwise.servers.sglang import sglang_command
from specwise.servers.vllm import vllm_command
from specwise.study import Configuration, Study, StudyArm, expand, load_study, study_hash
from specwise.workloads.commerce import generate
from specwise.workloads.loaders import WorkloadRequest, load_workload

DEV_MODE_ENV = {"VLLM_SERVER_DEV_MODE": "1"}  # vLLM serves POST /reset_prefix_cache only then


@dataclass
class SweepResult:
    store_path: Path
    configurations: int
    skipped: int
    done: int
    failed: int


def sweep(study_path: Path, out: Path, force: bool = False) -> SweepResult:
    """Measure every configuration of the study not yet done in OUT/results.sqlite."""
    study = load_study(study_path)
    matrix = expand(study)
    lock = hold_lock(out)
    conn = store.connect(store.store_path(out))
    console = wide_console()
    try:
        bind(conn, study, matrix, study_path, force, console)
        reaped = reap_leftovers(conn)
        if reaped:
            console.print(f"stopped {reaped} server process(es) left by an interrupted sweep")
        finished = store.done_keys(conn)
        pending = [c for c in matrix if c.key not in finished]
        console.print(
            f"{study.name}: {len(matrix)} configurations, {len(matrix) - len(pending)} already "
            f"done, {len(pending)} to measure → {store.store_path(out)}"
        )
        requests = workload_requests(study, max(c.requests for c in matrix)) if pending else []
        counts = {"done": 0, "failed": 0}
        with SweepProgress(console, pending) as progress:
            for _, group in groupby(pending, key=lambda c: c.arm.name):
                for status in run_arm(study, list(group), requests, conn, out, progress):
                    counts[status] += 1
    finally:
        conn.close()
        lock.close()
    skipped = len(matrix) - len(pending)
    return SweepResult(store.store_path(out), len(matrix), skipped, **counts)


def hold_lock(out: Path) -> TextIO:
    """An exclusive lock on OUT/sweep.lock for this sweep's life (the OS drops it if the process
    dies, even by SIGKILL): a second sweep on the same directory must not reap live servers."""
    out.mkdir(parents=True, exist_ok=True)
    lock = (out / "sweep.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise SpecwiseError(
            f"Another sweep (pid {holder}) is writing to {out}; wait for it to finish, stop it, "
            "or choose another --out."
        ) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def wide_console() -> Console:
    """The terminal's width, or 160 columns where output goes to a file or pipe (not 80)."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def bind(
    conn: sqlite3.Connection,
    study: Study,
    matrix: list[Configuration],
    path: Path,
    force: bool,
    console: Console,
) -> None:
    """Tie the store to this study; a changed study is refused unless forced."""
    digest = study_hash(study)
    row = store.stored_study(conn)
    if row is not None and row["hash"] != digest and not force:
        raise SpecwiseError(
            f"{path} differs from the study already measured in this directory; pass --force to "
            "keep the unchanged configurations and measure the rest, or choose another --out."
        )
    dropped = store.bind_study(
        conn, study.name, digest, study.model_dump(mode="json"), {c.key for c in matrix}
    )
    if dropped:
        console.print(f"--force: dropped {dropped} configuration(s) no longer in the study")


def workload_requests(study: Study, n: int) -> list[WorkloadRequest]:
    """The first n requests of the study's workload: the same list, in the same order, for
    every arm and configuration (a file shorter than n is cycled by the load generator)."""
    w = study.workload
    if w.file:
        return load_workload(Path(w.file), w.turns)[:n]
    return generate(n, w.seed, w.split, w.weights)


def run_arm(
    study: Study,
    configs: list[Configuration],
    requests: list[WorkloadRequest],
    conn: sqlite3.Connection,
    out: Path,
    progress: SweepProgress,
) -> Iterator[str]:
    """Start the arm's server, measure its configurations, stop it; yields each status."""
    arm = server_arm(study, configs[0].arm)
    progress.start_arm(arm.name, configs)
    reason = missing_path(arm)
    server: Server | None = None
    if reason is None:
        try:
            server = start(arm, out / "logs" / time.strftime("%Y%m%d-%H%M%S"))
        except SpecwiseError as exc:
            reason = f"server did not start: {exc}"
    if server is None:
        for config in configs:
            yield fail(conn, config, study, reason or "server did not start", None, progress)
        return
    server_id = store.add_server(conn, arm.name, server_info(server))
    try:
        dead: str | None = None
        for n, config in enumerate(configs):
            dead = dead or (None if server.alive() else died(server))
            if dead:
                yield fail(conn, config, study, dead, server_id, progress)
                continue
            warmup = study.warmup + (study.server_warmup if n == 0 else 0)
            status = run_configuration(
                study, config, requests, server, server_id, conn, progress, warmup
            )
            if status == "failed":
                dead = engine_dead(server)
            yield status
    finally:
        server.stop()
        store.server_stopped(conn, server_id)


def server_arm(study: Study, arm: StudyArm) -> StudyArm:
    """The arm as launched: vLLM arms get dev mode when the prefix cache is to be reset."""
    if study.reset_prefix_cache and arm.engine == "vllm":
        return arm.model_copy(update={"env": arm.env | DEV_MODE_ENV})
    return arm


def missing_path(arm: StudyArm) -> str | None:
    """Why the arm cannot start if a local model or head directory it names is absent."""
    spec = arm.speculative_config or {}
    for what, value in (("model", arm.model), ("speculative_config.model", spec.get("model"))):
        if isinstance(value, str) and value.startswith("/") and not Path(value).exists():
            return f"{what} {value} does not exist; create it (or fix the path) and run again"
    return None


def server_info(server: Server) -> dict[str, Any]:
    pid = server.process.pid if server.process else None
    created = None
    if pid is not None:
        with suppress(psutil.Error):
            created = psutil.Process(pid).create_time()
    return {
        "pid": pid,
        "pgid": pid,  # started with start_new_session: the server leads its own group
        "process_started_at": created,
        "command": server.command,
        "log_path": str(server.log_path) if server.log_path else None,
        "base_url": server.base_url,
    }


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


def run_configuration(
    study: Study,
    config: Configuration,
    requests: list[WorkloadRequest],
    server: Server,
    server_id: int,
    conn: sqlite3.Connection,
    progress: SweepProgress,
    warmup: int,
) -> str:
    """Measure one configuration and store it whole; a failure is stored with its reason.
    `warmup`: unmeasured requests first."""
    progress.start_configuration(config)
    started = time.time()
    try:
        before = metrics_text(server)
        if study.reset_prefix_cache:
            reset_prefix_cache(server)
        m = asyncio.run(
            measure(
                server.base_url,
                server.model,
                requests[: config.requests],
                load_spec(study, config, warmup),
                sampling_params(study, config),
                api=study.api,
                api_key=server.api_key,
                arm=config.arm.name,
                timeout_s=study.request_timeout_s,
                slo_ttft_s=None if study.slo.ttft_ms is None else study.slo.ttft_ms / 1e3,
                slo_tpot_s=None if study.slo.tpot_ms is None else study.slo.tpot_ms / 1e3,
                on_record=progress.record,
                progress=False,
            )
        )
        after = metrics_text(server)
    except SpecwiseError as exc:
        return fail(conn, config, study, str(exc), server_id, progress)
    if not server.alive():
        return fail(conn, config, study, died(server), server_id, progress)
    if m.summary.get("failed") and (reason := engine_dead(server)):
        return fail(conn, config, study, reason, server_id, progress)
    run = run_row(study, config, "done", None, server_id, started)
    run |= {
        "requests": len(m.records),
        "summary": m.summary,
        "acceptance": m.acceptance.to_dict() if m.acceptance else None,
        "acceptance_note": m.acceptance_note,
        "stop_reason": m.stop_reason,
    }
    records = sorted((r.to_dict() for r in m.records), key=lambda r: r["extra"]["index"])
    store.save_run(conn, run, records, {"before": before, "after": after})
    progress.finish_configuration(config, m.summary, m.acceptance)
    return "done"


def load_spec(study: Study, config: Configuration, warmup: int) -> LoadSpec:
    return LoadSpec(
        concurrency=config.concurrency,
        num_requests=config.requests,
        warmup=warmup,
        seed=(study.seed or 0) + config.repeat,  # arrival order only (closed loop: unused)
    )


def sampling_params(study: Study, config: Configuration) -> dict[str, Any]:
    """The same for every request of every arm: temperature, seed, max_tokens (, ignore_eos)."""
    params: dict[str, Any] = {"temperature": config.temperature}
    if study.seed is not None:
        params["seed"] = study.seed + config.repeat
    if study.max_tokens is not None:
        params["max_tokens"] = study.max_tokens
    if study.ignore_eos:
        params["ignore_eos"] = True
    return params


def run_row(
    study: Study,
    config: Configuration,
    status: str,
    reason: str | None,
    server_id: int | None,
    started: float,
) -> dict[str, Any]:
    return {
        "key": config.key,
        "position": config.position,
        "arm": config.arm.name,
        "concurrency": config.concurrency,
        "temperature": config.temperature,
        "repeat": config.repeat,
        "status": status,
        "reason": reason,
        "server_id": server_id,
        "started_at": started,
        "finished_at": time.time(),
    }


def fail(
    conn: sqlite3.Connection,
    config: Configuration,
    study: Study,
    reason: str,
    server_id: int | None,
    progress: SweepProgress,
) -> str:
    reason = reason.splitlines()[0] if reason else "unknown"
    run = run_row(study, config, "failed", reason, server_id, time.time())
    store.save_run(conn, run, [], {})
    progress.fail_configuration(config, reason)
    return "failed"


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
            "(POST /reset_prefix_cache); set reset_prefix_cache: false for servers without it."
        )


def reap_leftovers(conn: sqlite3.Connection) -> int:
    """Stop the processes of servers a killed sweep never stopped: the recorded pid if its start
    time and command line still match, and every process of its group started since."""
    reaped = 0
    for row in store.unstopped_servers(conn):
        procs = leftover_processes(row)
        for proc in procs:
            with suppress(psutil.Error):
                proc.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=20)
        for proc in alive:
            with suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        reaped += len(procs)
        store.server_stopped(conn, row["id"])
    return reaped


def leftover_processes(row: sqlite3.Row) -> list[psutil.Process]:
    if row["pid"] is None or row["process_started_at"] is None:
        return []
    since = row["process_started_at"] - 1.0
    found: dict[int, psutil.Process] = {}
    with suppress(psutil.Error):
        root = psutil.Process(row["pid"])
        if root.create_time() >= since and root.cmdline() == json.loads(row["command"]):
            found[root.pid] = root
            found |= {c.pid: c for c in root.children(recursive=True)}
    for proc in psutil.process_iter(["create_time"]):
        with suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == row["pgid"] and proc.info["create_time"] >= since:
                found[proc.pid] = proc
    found.pop(os.getpid(), None)
    return list(found.values())


class SweepProgress:
    """Three bars: overall requests (with the ETA), the arm's configurations, and the current
    configuration's requests. Redrawn at most twice a second from the measuring event loop."""

    def __init__(self, console: Console, pending: list[Configuration]) -> None:
        self.console = console
        self.bars = Progress(
            TextColumn("{task.description:<44}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            speed_estimate_period=24 * 3600,  # ETA from the whole sweep so far, starts included
        )
        total = sum(c.requests for c in pending)
        self.overall = self.bars.add_task(f"all: {len(pending)} configurations", total=total)
        self.arm: TaskID | None = None
        self.config: TaskID | None = None
        self.last_draw = 0.0

    def __enter__(self) -> SweepProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_draw >= 0.5:
            self.last_draw = now
            self.bars.refresh()

    def start_arm(self, name: str, configs: list[Configuration]) -> None:
        for task in (self.arm, self.config):
            if task is not None:
                self.bars.remove_task(task)
        self.config = None
        self.arm = self.bars.add_task(f"arm {name}: starting its server", total=len(configs))
        self.draw(force=True)

    def start_configuration(self, config: Configuration) -> None:
        assert self.arm is not None
        self.bars.update(self.arm, description=f"arm {config.arm.name}")
        if self.config is not None:
            self.bars.remove_task(self.config)
        self.config = self.bars.add_task(f"  {config.label}", total=config.requests)
        self.draw(force=True)

    def record(self, record: RequestRecord) -> None:
        for task in (self.config, self.overall):
            if task is not None:
                self.bars.advance(task)
        self.draw()

    def _end(self, config: Configuration, line: str) -> None:
        if self.arm is not None:
            self.bars.advance(self.arm)
        done = self.bars.tasks[self.overall].completed  # type: ignore[index]
        if self.config is None:  # never started (server missing): count its requests as done
            self.bars.update(self.overall, completed=done + config.requests)
        self.console.print(line, highlight=False)
        self.draw(force=True)

    def finish_configuration(
        self, config: Configuration, summary: dict[str, Any], acc: Acceptance | None
    ) -> None:
        tps = summary.get("output_tokens_per_s") or 0.0
        rate = acc.acceptance_rate if acc is not None else None
        accept = f", acceptance {rate:.3f}" if rate is not None else ""
        self._end(
            config,
            f"done   {config.arm.name} {config.label}: {tps:.1f} output tok/s, "
            f"{summary.get('failed', 0)} errors{accept}",
        )

    def fail_configuration(self, config: Configuration, reason: str) -> None:
        self._end(config, f"FAILED {config.arm.name} {config.label}: {reason}")


def display_command(study: Study, arm: StudyArm) -> str:
    """The exact command line (with its environment) a sweep starts for the arm; the port is
    chosen free at start time, shown here as 8000."""
    arm = server_arm(study, arm)
    if arm.engine == "external":
        return f"(external, not started) {arm.url}"
    model = arm.model or ""
    if model in KNOWN_MODELS:
        model = str(model_dir(model))  # prepared on the first real start
    build = vllm_command if arm.engine == "vllm" else sglang_command
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(arm.env.items()))
    return (env + " " if env else "") + shlex.join(build(arm, model, 8000))


def dry_run(study_path: Path, out: Path | None = None) -> Table:
    """The matrix (with each configuration's state if OUT has a store) and each arm's command."""
    study = load_study(study_path)
    matrix = expand(study)
    done: set[str] = set()
    if out is not None and store.store_path(out).exists():
        conn = store.connect(store.store_path(out))
        done = store.done_keys(conn)
        conn.close()
    table = Table(title=f"{study.name}: {len(matrix)} configurations", title_justify="left")
    for col in ("#", "arm", "concurrency", "temperature", "repeat", "requests", "state"):
        left = col in ("arm", "state")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for i, c in enumerate(matrix, 1):
        state = "done" if c.key in done else "to measure"
        table.add_row(
            str(i), c.arm.name, str(c.concurrency), f"{c.temperature:g}", str(c.repeat),
            str(c.requests), state,
        )  # fmt: skip
    console = wide_console()
    console.print(table)
    console.print("Server commands (each arm's port is chosen free at start; 8000 shown):")
    for arm in study.arms:
        console.print(f"[bold]{arm.name}[/]: {display_command(study, arm)}", soft_wrap=True)
    return table
