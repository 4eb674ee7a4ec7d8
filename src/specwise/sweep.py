"""`specwise sweep`: measure every configuration of a study, resumably, into the results store.

For each arm: start its server once, run its concurrency × temperature × repeat configurations
(each: the study's prefix-cache policy, warm-ups from the pool, counter snapshots, the measured
requests), stop it; then the next arm (study.measuring_order: ABBA over repeats). Each cell
sends its own slice of the workload (study.offsets), the same for every arm in the same order
with the same sampling seed, so outputs pair across arms by request id.
Interleaved (`schedule: interleaved`): every arm's server up at once; cell by cell, the arms
take turns of `block` requests (ABBA: reversed every other turn), each configuration stored as
one run once its last turn is in; adaptive looks add turns to the arms still undecided.

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
from collections.abc import Generator, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
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

from specwise import adaptive, preflight, store
from specwise.bench.client import RequestRecord
from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import Measurement, combine, measure
from specwise.errors import SpecwiseError
from specwise.models import KNOWN_MODELS, model_dir
from specwise.servers.launch import Server, health_ok, log_tail, spawn, start, wait_healthy
from specwise.servers.prometheus import Acceptance, scrape
from specwise.servers.sglang import sglang_command
from specwise.servers.vllm import plugin_env, vllm_command
from specwise.study import (
    Configuration,
    PrefixCache,
    Study,
    StudyArm,
    cell_label,
    expand,
    later_look,
    load_study,
    study_hash,
)
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
    preflight.require(study)  # every problem at once, before anything is written
    matrix = expand(study)
    requests = workload_requests(study)
    lock = hold_lock(out)
    conn = store.connect(store.store_path(out), create=True)
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
        counts = {"done": 0, "failed": 0}
        with SweepProgress(console, pending) as progress:
            if study.schedule == "interleaved":
                statuses = run_interleaved(study, matrix, requests, conn, out, progress)
            else:
                statuses = (
                    status
                    for _, group in groupby(pending, key=lambda c: c.arm.name)
                    for status in run_arm(study, list(group), requests, conn, out, progress)
                )
            for status in statuses:
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
    kept = store.bind_study(
        conn, study.name, digest, study.model_dump(mode="json"), {c.key for c in matrix}
    )
    if kept:
        listed = ", ".join(
            f"{r['arm']} {cell_label(r['concurrency'], r['temperature'], r['repeat'], r['look'])}"
            f" ({r['status']}, {r['requests'] or 0} requests)"
            for r in kept
        )
        console.print(
            f"--force: {len(kept)} run(s) no longer in the study kept in the store as superseded "
            f"(report, judge and compare leave them out; export marks them): {listed}",
            soft_wrap=True,
        )


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


def prefix_policy(study: Study, arm: StudyArm) -> PrefixCache:
    """The study's prefix-cache policy, or as-is for an external arm (it cannot be reset)."""
    return study.prefix_cache if arm.engine == "vllm" else "as-is"


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
            warmup = study.warmup + (study.server_warmup_for(arm) if n == 0 else 0)
            status = run_configuration(
                study, config, requests, server, server_id, conn, progress, warmup
            )
            if status == "failed":
                dead = engine_dead(server)
            yield status
    finally:
        server.stop()
        store.server_stopped(conn, server_id)


@dataclass
class Running:
    """One arm's server during an interleaved sweep (None where it did not start)."""

    server: Server | None
    server_id: int | None
    reason: str | None  # why it cannot measure: did not start, or died
    warmed: bool = False  # its server_warmup sent (before its first configuration)


def start_all(study: Study, conn: sqlite3.Connection, out: Path) -> dict[str, Running]:
    """Launch every arm's server at once, then wait for each one's /health (their start-ups
    overlap, so each may take its startup_timeout_s times the servers started together: they
    share the machine), and record each in the store; a failure becomes the reason of the arm's
    runs. Interrupted, it stops every server it launched."""
    log_dir = out / "logs" / time.strftime("%Y%m%d-%H%M%S")
    launched: dict[str, tuple[Server | None, str | None]] = {}
    try:
        for arm in study.arms:
            arm = server_arm(study, arm)
            reason = missing_path(arm)
            try:
                launched[arm.name] = (
                    (spawn(arm, log_dir), None) if reason is None else (None, reason)
                )
            except SpecwiseError as exc:
                launched[arm.name] = (None, f"server did not start: {exc}")
        together = sum(server is not None for server, _ in launched.values())
        for name, (server, _) in launched.items():
            if server is None:
                continue
            try:
                wait_healthy(server, server.arm.startup_timeout_s * together)
            except SpecwiseError as exc:
                server.stop(grace_s=5.0)
                launched[name] = (None, f"server did not start: {exc}")
    except BaseException:
        for server, _ in launched.values():
            if server is not None:
                server.stop(grace_s=5.0)
        raise
    running = {}
    for name, (server, reason) in launched.items():
        server_id = store.add_server(conn, name, server_info(server)) if server else None
        running[name] = Running(server, server_id, reason)
    return running


def run_interleaved(
    study: Study,
    matrix: list[Configuration],
    requests: list[WorkloadRequest],
    conn: sqlite3.Connection,
    out: Path,
    progress: SweepProgress,
) -> Iterator[str]:
    """Every arm's server up at once; cell by cell, each look of the cell measured on every arm
    still sampling (arm order reversed on odd looks), then the next look if adaptive sampling
    asks for one. Resumes: a look already stored is not measured again."""
    cells = [list(g) for _, g in groupby(matrix, key=lambda c: c.cell)]
    cells = [configs for configs in cells if not cell_finished(study, conn, configs)]
    if not cells:
        return
    progress.start_arm("servers: starting one per arm", [], "all")
    running: dict[str, Running] = {}
    try:
        running = start_all(study, conn, out)
        for configs in cells:
            yield from run_cell(study, configs, requests, conn, running, progress)
    finally:
        for r in running.values():
            if r.server is not None:
                r.server.stop()
                store.server_stopped(conn, r.server_id or 0)


def run_cell(
    study: Study,
    configs: list[Configuration],
    requests: list[WorkloadRequest],
    conn: sqlite3.Connection,
    running: dict[str, Running],
    progress: SweepProgress,
) -> Iterator[str]:
    """The looks of one cell (just look 0 unless adaptive); yields each measured status."""
    progress.start_arm(configs[0].label, configs, "cell")
    active, look, turns = list(configs), 0, 0
    while active:
        done = store.done_keys(conn)
        todo = [c for c in active if c.key not in done]
        turns += yield from run_look(study, todo, requests, conn, running, progress, turns)
        if not study.adaptive_sampling:
            return
        look += 1
        active = next_look(study, conn, configs, active, look)
        progress.add_configurations(active)


@dataclass
class Turns:
    """One configuration measured in turns: its requests in blocks, the blocks measured."""

    config: Configuration
    blocks: list[list[WorkloadRequest]]
    pool: list[WorkloadRequest]  # the warm-up pool: requests no cell measures
    parts: list[Measurement] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    before: str | None = None  # the server's /metrics text before the first block
    failed: str | None = None  # why its turns ended early: the stored run's reason

    @property
    def measured(self) -> int:
        return sum(len(p.records) for p in self.parts)


def run_look(
    study: Study,
    configs: list[Configuration],
    requests: list[WorkloadRequest],
    conn: sqlite3.Connection,
    running: dict[str, Running],
    progress: SweepProgress,
    flip: int,
) -> Generator[str, None, int]:
    """One look of a cell on the arms still sampling: each arm's requests in blocks of
    `study.block_for(c)`, the arms taking turns block by block in ABBA order (reversed every
    other block, `flip` blocks into the cell), so the machine's drift falls on every arm
    alike, each turn after `study.turn_pause_s` of quiet; each configuration is stored once
    its last block is in. Returns the blocks run."""
    if not configs:
        return 0
    size = study.block_for(configs[0].concurrency)
    pool = requests[: study.warmup_pool]
    all_turns = [Turns(c, blocks(cell_requests(requests, c), size), pool) for c in configs]
    count = max(len(t.blocks) for t in all_turns)
    for b in range(count):
        order = all_turns if (b + flip) % 2 == 0 else all_turns[::-1]
        for t in order:
            if t.failed is None and b < len(t.blocks):
                r = running[t.config.arm.name]
                warmup = 0
                if b == 0 and not t.config.look:  # a configuration's first block warms up
                    once = 0 if r.warmed else study.server_warmup_for(t.config.arm)
                    warmup, r.warmed = study.warmup + once, True
                time.sleep(study.turn_pause_s)  # the last turn's server goes quiet first
                take_turn(study, t, b, r, progress, warmup)
    for t in all_turns:
        yield finish(study, t, running[t.config.arm.name], conn, progress)
    return count


def blocks(requests: list[WorkloadRequest], size: int) -> list[list[WorkloadRequest]]:
    """The requests cut into consecutive blocks of `size` (the last may be shorter)."""
    return [requests[i : i + size] for i in range(0, len(requests), size)]


def cell_finished(study: Study, conn: sqlite3.Connection, configs: list[Configuration]) -> bool:
    """Every arm's first look stored and, when adaptive, a reason why each stopped."""
    done = store.done_keys(conn)
    if not all(c.key in done for c in configs):
        return False
    if not study.adaptive_sampling:
        return True
    stopped = store.sampled_keys(conn)
    return all(any(k == c.key or k.startswith(c.key + "+l") for k in stopped) for c in configs)


def next_look(
    study: Study,
    conn: sqlite3.Connection,
    configs: list[Configuration],
    active: list[Configuration],
    look: int,
) -> list[Configuration]:
    """The configurations of look `look` for the arms still undecided (and the baseline while
    any is); records why each other arm stopped on its last stored run."""
    from specwise.gains import compare_points, paired, turn_spread
    from specwise.results import cell_points

    points = cell_points(conn, [c.key for c in configs])
    base = study.baseline_arm
    spread = turn_spread(
        [paired(p, points[base]) for n, p in points.items() if n != base and base in points]
    )  # this cell's turns, every arm's: the pooled spread of gains.py
    first = {c.arm.name: c for c in configs}  # look 0 of each arm: where its slice starts
    going: list[Configuration] = []
    for name in [c.arm.name for c in active]:
        if name == base or name not in points or base not in points:
            continue
        config, c = first[name], first[name].concurrency
        gain = compare_points(
            name, base, c, config.temperature, points[name], points[base],
            study.practical_margin, study.confidence, spread, study.cell_noise,
        )  # fmt: skip
        reason = adaptive.stop_reason(
            gain, len(points[name]), study.slice_for(c), study.adaptive.half_width
        )
        nxt = later_look(study, config, look)
        if reason is None and nxt is None:
            reason = f"cap of {study.slice_for(c)} requests reached, still {gain.verdict}"
        if reason is not None:
            store.set_sampling(conn, last_key(config, look - 1), reason)
        elif nxt is not None:
            going.append(nxt)
    baseline = first.get(base)
    nxt = later_look(study, baseline, look) if baseline is not None and going else None
    if baseline is not None and nxt is None and any(c.arm.name == base for c in active):
        store.set_sampling(conn, last_key(baseline, look - 1), "the arms compared with it stopped")
    return ([nxt] if nxt else []) + going


def last_key(config: Configuration, look: int) -> str:
    """The key of the look `look` of a look-0 configuration."""
    return config.key if look == 0 else f"{config.key}+l{look}"


def server_arm(study: Study, arm: StudyArm) -> StudyArm:
    """The arm as launched: vLLM arms get dev mode when the prefix cache is to be reset."""
    if prefix_policy(study, arm) != "as-is":
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
    """Measure one configuration in one block and store it whole; a failure is stored with
    its reason. `warmup`: unmeasured requests first."""
    t = Turns(config, [cell_requests(requests, config)], requests[: study.warmup_pool])
    r = Running(server, server_id, None)
    take_turn(study, t, 0, r, progress, warmup)
    return finish(study, t, r, conn, progress)


def take_turn(
    study: Study, t: Turns, b: int, r: Running, progress: SweepProgress, warmup: int
) -> None:
    """Measure block `b` of the configuration on its arm's server; the first block of a
    first look resets the prefix cache (study policy) and warms up. A failure ends its turns."""
    if r.server is not None and r.reason is None and not r.server.alive():
        r.reason = died(r.server)
    if r.server is None or r.reason is not None:
        t.failed = r.reason or "server did not start"
        return
    server, config = r.server, t.config
    progress.start_configuration(config, t.measured)
    policy = prefix_policy(study, config.arm)
    first = b == 0 and not config.look  # later blocks and looks: the server is warm already
    if first and policy == "warm-shared":
        warmup = max(1, warmup)  # the one request that caches the shared prefix
    try:
        if b == 0:
            t.before = metrics_text(server)
        if first and policy == "warm-shared":
            reset_prefix_cache(server)
        m = asyncio.run(
            measure(
                server.base_url,
                server.model,
                t.blocks[b],
                load_spec(study, config, warmup if first else 0, len(t.blocks[b])),
                sampling_params(study, config),
                api=study.api,
                api_key=server.api_key,
                arm=config.arm.name,
                timeout_s=study.request_timeout_s,
                idle_timeout_s=study.request_idle_timeout_s,
                on_record=progress.record,
                progress=False,
                warmup_requests=t.pool,
                after_warmup=(
                    (lambda: reset_prefix_cache(server)) if first and policy == "cold" else None
                ),
            )
        )
    except SpecwiseError as exc:
        t.failed = str(exc)
        return
    t.parts.append(m)
    if not server.alive():
        t.failed = r.reason = died(server)
    elif m.summary.get("failed") and (reason := engine_dead(server)):
        t.failed = r.reason = reason


def finish(
    study: Study, t: Turns, r: Running, conn: sqlite3.Connection, progress: SweepProgress
) -> str:
    """Store the configuration's blocks as one run (or its failure with the reason)."""
    config = t.config
    if t.failed is not None or not t.parts or r.server is None:
        return fail(conn, config, study, t.failed or "server did not start", r.server_id, progress)
    slo = study.slo
    m = combine(
        t.parts,
        None if slo.ttft_ms is None else slo.ttft_ms / 1e3,
        None if slo.tpot_ms is None else slo.tpot_ms / 1e3,
    )
    after = metrics_text(r.server)
    run = run_row(study, config, "done", None, r.server_id, t.started)
    run |= {
        "requests": len(m.records),
        "summary": m.summary,
        "acceptance": m.acceptance.to_dict() if m.acceptance else None,
        "acceptance_note": m.acceptance_note,
        "stop_reason": m.stop_reason,
        "prefix_cache": prefix_policy(study, config.arm),
        "prefix_cache_hit_rate": m.prefix_cache_hit_rate,
    }
    records = sorted((r.to_dict() for r in m.records), key=lambda r: r["extra"]["index"])
    store.save_run(conn, run, records, {"before": t.before, "after": after})
    progress.finish_configuration(config, m.summary, m.acceptance)
    return "done"


def load_spec(study: Study, config: Configuration, warmup: int, count: int) -> LoadSpec:
    return LoadSpec(
        concurrency=config.concurrency,
        num_requests=count,
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
        "look": config.look,
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
            "(POST /reset_prefix_cache); set `prefix_cache: as-is` for servers without it."
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
        self.group = "arm"
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

    def start_arm(self, name: str, configs: list[Configuration], what: str = "arm") -> None:
        """A new group of configurations: one arm's (sequential) or one cell's (interleaved)."""
        for task in (self.arm, self.config):
            if task is not None:
                self.bars.remove_task(task)
        self.config, self.group = None, what
        starting = ": starting its server" if what == "arm" else ""
        self.arm = self.bars.add_task(f"{what} {name}{starting}", total=len(configs))
        self.draw(force=True)

    def add_configurations(self, configs: list[Configuration]) -> None:
        """Adaptive sampling added a look: more requests to wait for."""
        added = sum(c.requests for c in configs)
        for task, more in ((self.overall, added), (self.arm, len(configs))):
            found = [t for t in self.bars.tasks if t.id == task]
            if found and more:
                self.bars.update(found[0].id, total=(found[0].total or 0) + more)

    def start_configuration(self, config: Configuration, done: int = 0) -> None:
        """The configuration's bar (again, for its next turn: `done` requests so far)."""
        assert self.arm is not None
        if self.group == "arm":
            self.bars.update(self.arm, description=f"arm {config.arm.name}")
        if self.config is not None:
            self.bars.remove_task(self.config)
        self.config = self.bars.add_task(
            f"  {config.arm.name} {config.label}", total=config.requests, completed=done
        )
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
    added = plugin_env() if arm.engine == "vllm" else {}  # as servers.launch.spawn adds it
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((added | arm.env).items()))
    return (env + " " if env else "") + shlex.join(server_command(study, arm))


def server_command(study: Study, arm: StudyArm, port: int = 8000) -> list[str]:
    """argv of the arm's server (vLLM or SGLang) as a sweep starts it."""
    arm = server_arm(study, arm)
    model = arm.model or ""
    if model in KNOWN_MODELS:
        model = str(model_dir(model))  # prepared on the first real start
    build = vllm_command if arm.engine == "vllm" else sglang_command
    return build(arm, model, port)


def server_argv(study: Study, arm: StudyArm) -> list[str]:
    """The arguments vLLM's server parser sees: the command after `python -m MODULE`."""
    return server_command(study, arm)[3:]


def dry_run(study_path: Path, out: Path | None = None) -> Table:
    """The matrix (with each configuration's state if OUT has a store), each arm's command and
    the preflight's findings; any problem ends it with exit status 2."""
    study = load_study(study_path)
    checked = preflight.check(study)
    matrix = expand(study)
    done: set[str] = set()
    path = store.store_path(out) if out is not None else None
    if path is not None and path.exists() and not (path.is_file() and path.stat().st_size == 0):
        conn = store.connect(path)  # an empty file (a sweep killed as it made it) holds nothing
        done = store.done_keys(conn)
        conn.close()
    table = Table(title=f"{study.name}: {len(matrix)} configurations", title_justify="left")
    for col in ("#", "arm", "concurrency", "temperature", "repeat", "requests", "state"):
        left = col in ("arm", "state")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for i, c in enumerate(matrix, 1):
        state = "done" if c.key in done else "to measure"
        count = str(c.requests)
        if study.adaptive_sampling:  # the first look, then more up to the cap
            count += f" (auto, ≤ {study.slice_for(c.concurrency)})"
        table.add_row(
            str(i), c.arm.name, str(c.concurrency), f"{c.temperature:g}", str(c.repeat),
            count, state,
        )  # fmt: skip
    console = wide_console()
    console.print(table)
    console.print("Server commands (each arm's port is chosen free at start; 8000 shown):")
    for arm in study.arms:
        console.print(f"[bold]{arm.name}[/]: {display_command(study, arm)}", soft_wrap=True)
    for line in preflight.report(checked):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if checked.problems:
        raise SpecwiseError(
            f"{len(checked.problems)} problem(s) found before anything ran (listed above); fix "
            "them and run again."
        )
    return table
