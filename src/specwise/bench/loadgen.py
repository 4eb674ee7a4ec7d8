"""Load generator: decides *when* each request is sent; knows nothing about HTTP or metrics.

Modes:
  closed loop   `concurrency` = N workers, each sends its next request as soon as one finishes;
  request rate  arrivals at `rate` req/s, Poisson (gaps ~ Exp(rate)) or constant (gaps = 1/rate),
                optionally capped at `concurrency` in flight (arrivals then wait for a slot).
Warm-up requests go first, at the same concurrency, and are not measured: they are drawn from
`warmup_items` when given (a pool the measured phase never sends), else from `items`;
`after_warmup` runs
between the phases (the caller snapshots server counters there). The measured phase stops
issuing after `num_requests` or `duration_s`, or early after `max_errors` failures; requests
already in flight finish (their own timeouts bound them). The workload is cycled as needed.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

Arrival = Literal["poisson", "constant"]


class Outcome(Protocol):
    ok: bool


T = TypeVar("T")
R = TypeVar("R", bound=Outcome)
# send(item, index) → outcome; index counts issued requests of the phase from 0.
Send = Callable[[T, int], Awaitable[R]]


@dataclass(frozen=True)
class LoadSpec:
    """How much load, for how long. Closed loop unless `rate` is set."""

    concurrency: int | None = 1
    rate: float | None = None  # requests per second
    arrival: Arrival = "poisson"
    num_requests: int | None = None
    duration_s: float | None = None
    warmup: int = 0
    max_errors: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rate is None and not self.concurrency:
            raise ValueError("closed-loop mode needs concurrency >= 1 (or give a rate)")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a finite number > 0 of requests per second")
        if self.duration_s is not None and not (
            self.duration_s > 0 and math.isfinite(self.duration_s)
        ):
            raise ValueError("duration must be a finite number > 0 of seconds")
        if self.num_requests is None and self.duration_s is None:
            raise ValueError("give num_requests or duration_s, or both")


@dataclass
class LoadResult(Generic[R]):
    measured: list[R] = field(default_factory=list)  # in order of completion
    warmup: list[R] = field(default_factory=list)
    stop_reason: str = "num_requests"  # num_requests | duration | max_errors
    started_at: float = 0.0  # time.time() when the measured phase began
    seconds: float = 0.0  # wall time of the measured phase, first send → last completion


class _Phase:
    """Shared state of one phase: what to send next, when to stop, what came back."""

    def __init__(
        self, items: Iterator[Any], spec: LoadSpec, limit: int | None, keep: bool = True
    ) -> None:
        self.items, self.limit, self.keep = items, limit, keep
        self.deadline = None if spec.duration_s is None else time.monotonic() + spec.duration_s
        self.max_errors = spec.max_errors
        self.issued = self.errors = 0
        self.results: list[Any] = []
        self.stop_reason: str | None = None

    def next_item(self) -> tuple[int, Any] | None:
        """The next (index, item) to send, or None once a stop condition holds."""
        if self.stop_reason is None:
            if self.limit is not None and self.issued >= self.limit:
                self.stop_reason = "num_requests"
            elif self.deadline is not None and time.monotonic() >= self.deadline:
                self.stop_reason = "duration"
        if self.stop_reason is not None:
            return None
        index, self.issued = self.issued, self.issued + 1
        return index, next(self.items)

    def done(self, outcome: Outcome) -> None:
        if self.keep:
            self.results.append(outcome)
        if not outcome.ok:
            self.errors += 1
            if self.max_errors is not None and self.errors >= self.max_errors:
                self.stop_reason = self.stop_reason or "max_errors"


async def _closed_loop(phase: _Phase, send: Send, concurrency: int) -> None:
    async def worker() -> None:
        while (nxt := phase.next_item()) is not None:
            phase.done(await send(nxt[1], nxt[0]))

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def arrival_gaps(rate: float, arrival: Arrival, seed: int) -> Iterator[float]:
    """Seconds between arrivals: Exp(rate) for Poisson (mean 1/rate), 1/rate for constant."""
    rng = random.Random(seed)
    while True:
        yield rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate


async def _open_loop(phase: _Phase, send: Send, spec: LoadSpec) -> None:
    assert spec.rate is not None
    slots = asyncio.Semaphore(spec.concurrency) if spec.concurrency else None
    tasks: set[asyncio.Task[None]] = set()

    async def one(index: int, item: Any) -> None:
        try:
            phase.done(await send(item, index))
        finally:
            if slots is not None:
                slots.release()

    next_at = time.monotonic()
    for gap in arrival_gaps(spec.rate, spec.arrival, spec.seed):
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if slots is not None:
            await slots.acquire()
        nxt = phase.next_item()
        if nxt is None:
            if slots is not None:
                slots.release()
            break
        task = asyncio.create_task(one(*nxt))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += gap
    await asyncio.gather(*tasks)


async def _drive(phase: _Phase, send: Send, spec: LoadSpec) -> None:
    if spec.rate is None:
        await _closed_loop(phase, send, spec.concurrency or 1)
    else:
        await _open_loop(phase, send, spec)


async def generate_load(
    items: Sequence[T],
    send: Send[T, R],
    spec: LoadSpec,
    after_warmup: Callable[[], Awaitable[None]] | None = None,
    warmup_items: Sequence[T] | None = None,
    keep: bool = True,
) -> LoadResult[R]:
    """Warm up, call `after_warmup`, then drive the measured phase; returns every outcome
    (with keep=False none: the caller took each as `send` returned it, memory stays flat)."""
    if not items:
        raise ValueError("no requests to send")
    result: LoadResult[R] = LoadResult()
    if spec.warmup:
        warm = LoadSpec(concurrency=spec.concurrency or 1, num_requests=spec.warmup, seed=spec.seed)
        phase = _Phase(itertools.cycle(warmup_items or items), warm, spec.warmup)
        await _drive(phase, send, warm)
        result.warmup = phase.results
    if after_warmup is not None:
        await after_warmup()
    phase = _Phase(itertools.cycle(items), spec, spec.num_requests, keep)
    result.started_at, t0 = time.time(), time.perf_counter()
    try:
        await _drive(phase, send, spec)
    finally:
        result.seconds = time.perf_counter() - t0
    result.measured = phase.results
    result.stop_reason = phase.stop_reason or "num_requests"
    return result
