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

Apart from the orchestration here: the directory lock (lock.py), reaping (servers/reap.py),
asking a running server (servers/control.py), the progress bars (progress.py), the dry run
(dry_run.py), the requests of each cell (study_requests.py), each arm's command (arm_server.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from rich.console import Console

from specwise import adaptive, preflight, store
from specwise.arm_server import missing_path, prefix_policy, server_arm
from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import Measurement, combine, measure
from specwise.errors import SpecwiseError
from specwise.lock import hold_lock
from specwise.progress import SweepProgress, wide_console
from specwise.servers.control import died, engine_dead, metrics_text, reset_prefix_cache
from specwise.servers.launch import Server, spawn, start, wait_healthy
from specwise.servers.reap import reap_leftovers, server_info
from specwise.study import (
    Configuration,
    Study,
    cell_label,
    expand,
    later_look,
    study_hash,
)
from specwise.study_requests import cell_requests, workload_requests
from specwise.workloads.loaders import WorkloadRequest


@dataclass
class SweepResult:
    store_path: Path
    configurations: int
    skipped: int
    done: int
    failed: int


def sweep(study: Study, out: Path, force: bool = False, source: str = "the study") -> SweepResult:
    """Measure every configuration of the study not yet done in OUT/results.sqlite (`source`:
    where the study came from, for messages)."""
    preflight.require(study)  # every problem at once, before anything is written
    matrix = expand(study)
    requests = workload_requests(study)
    lock = hold_lock(out)
    conn = store.connect(store.store_path(out), create=True)
    console = wide_console()
    try:
        bind(conn, study, matrix, source, force, console)
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


def bind(
    conn: sqlite3.Connection,
    study: Study,
    matrix: list[Configuration],
    source: str,
    force: bool,
    console: Console,
) -> None:
    """Tie the store to this study; a changed study is refused unless forced."""
    digest = study_hash(study)
    row = store.stored_study(conn)
    if row is not None and row["hash"] != digest and not force:
        raise SpecwiseError(
            f"{source} differs from the study already measured in this directory; pass --force to "
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
            yield from run_cell(Interleaving(study, requests, conn, running, progress), configs)
    finally:
        for r in running.values():
            if r.server is not None:
                r.server.stop()
                store.server_stopped(conn, r.server_id or 0)


@dataclass
class Interleaving:
    """What every cell of an interleaved sweep shares: the study, its requests, the store, each
    arm's running server and the progress bars."""

    study: Study
    requests: list[WorkloadRequest]
    conn: sqlite3.Connection
    running: dict[str, Running]
    progress: SweepProgress


def run_cell(s: Interleaving, configs: list[Configuration]) -> Iterator[str]:
    """The looks of one cell (just look 0 unless adaptive); yields each measured status."""
    study, conn, progress = s.study, s.conn, s.progress
    progress.start_arm(configs[0].label, configs, "cell")
    active, look, turns = list(configs), 0, 0
    while active:
        done = store.done_keys(conn)
        todo = [c for c in active if c.key not in done]
        turns += yield from run_look(s, todo, turns)
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


def run_look(s: Interleaving, configs: list[Configuration], flip: int) -> Generator[str, None, int]:
    """One look of a cell on the arms still sampling: each arm's requests in blocks of
    `study.block_for(c)`, the arms taking turns block by block in ABBA order (reversed every
    other block, `flip` blocks into the cell), so the machine's drift falls on every arm
    alike, each turn after `study.turn_pause_s` of quiet; each configuration is stored once
    its last block is in. Returns the blocks run."""
    study, requests, running, progress = s.study, s.requests, s.running, s.progress
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
        yield finish(study, t, running[t.config.arm.name], s.conn, progress)
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
