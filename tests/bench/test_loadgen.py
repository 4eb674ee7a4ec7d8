"""Load generator: how many requests, when, how many at once, when it stops."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass

import pytest

from specwise.bench.loadgen import LoadSpec, arrival_gaps, generate_load


@dataclass
class Out:
    ok: bool
    output_tokens: int | None
    item: int
    index: int
    sent_at: float


class FakeSend:
    """A send() that sleeps, tracks how many run at once, and fails where told."""

    def __init__(self, seconds: float = 0.01, fail: set[int] | None = None) -> None:
        self.seconds, self.fail = seconds, fail or set()
        self.in_flight = self.max_in_flight = 0
        self.calls: list[Out] = []

    async def __call__(self, item: int, index: int) -> Out:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        out = Out(item not in self.fail, 5, item, index, time.monotonic())
        self.calls.append(out)
        await asyncio.sleep(self.seconds)
        self.in_flight -= 1
        return out


def run(items, send, spec, after=None):
    return asyncio.run(generate_load(items, send, spec, after))


def test_closed_loop_sends_n_requests_with_n_in_flight_cycling_the_workload():
    send = FakeSend()
    result = run([0, 1, 2], send, LoadSpec(concurrency=4, num_requests=10))
    assert len(result.measured) == 10 and result.stop_reason == "num_requests"
    assert send.max_in_flight == 4
    assert sorted(o.index for o in result.measured) == list(range(10))
    assert [c.item for c in sorted(send.calls, key=lambda c: c.index)] == [0, 1, 2] * 3 + [0]


def test_warmup_is_not_measured_and_after_warmup_runs_between_phases():
    send = FakeSend()
    marks: list[int] = []

    async def after() -> None:
        marks.append(len(send.calls))

    result = run([0, 1], send, LoadSpec(concurrency=2, num_requests=4, warmup=3), after)
    assert len(result.warmup) == 3 and len(result.measured) == 4
    assert marks == [3]  # every warm-up request had finished before the snapshot


def test_warmups_from_a_pool_never_touch_the_measured_items():
    send = FakeSend()
    spec = LoadSpec(concurrency=2, num_requests=4, warmup=3)
    result = asyncio.run(generate_load([0, 1, 2, 3], send, spec, warmup_items=[10, 11]))
    assert sorted(o.item for o in result.warmup) == [10, 10, 11]  # the pool, cycled
    assert sorted(o.item for o in result.measured) == [0, 1, 2, 3]
    without = run([0, 1, 2, 3], FakeSend(), spec)  # no pool: warm-ups re-send measured items
    assert {o.item for o in without.warmup} <= {0, 1, 2, 3}


def test_bench_warms_up_with_the_requests_past_num_requests():
    from specwise.bench.run import split_warmup
    from specwise.workloads.loaders import WorkloadRequest

    requests = [WorkloadRequest(id=f"r{i}", messages=[]) for i in range(6)]
    measured, pool = split_warmup(requests, LoadSpec(num_requests=4, warmup=2))
    assert [r.id for r in measured] == ["r0", "r1", "r2", "r3"]
    assert [r.id for r in pool or []] == ["r4", "r5"]
    assert split_warmup(requests, LoadSpec(num_requests=6, warmup=2)) == (requests, None)


def test_max_errors_stops_early():
    send = FakeSend(fail={1})
    result = run([0, 1], send, LoadSpec(concurrency=1, num_requests=100, max_errors=3))
    assert result.stop_reason == "max_errors"
    assert sum(not o.ok for o in result.measured) == 3 and len(result.measured) == 6


def test_duration_stops_issuing():
    result = run([0], FakeSend(0.02), LoadSpec(concurrency=2, duration_s=0.2))
    assert result.stop_reason == "duration"
    assert 12 <= len(result.measured) <= 24  # ~2 in flight × 0.2 s / 0.02 s, CI-tolerant


def test_constant_rate_spaces_arrivals_evenly():
    send = FakeSend(0.001)
    run([0], send, LoadSpec(concurrency=None, rate=50, arrival="constant", num_requests=11))
    starts = [c.sent_at for c in send.calls]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert statistics.mean(gaps) == pytest.approx(0.02, rel=0.15)


def test_rate_mode_respects_the_concurrency_cap():
    send = FakeSend(0.05)
    run([0], send, LoadSpec(concurrency=2, rate=1000, num_requests=8))
    assert send.max_in_flight == 2 and len(send.calls) == 8


def test_poisson_gaps_have_mean_one_over_rate_and_are_seeded():
    gaps = arrival_gaps(4.0, "poisson", seed=1)
    sample = [next(gaps) for _ in range(20000)]
    assert statistics.mean(sample) == pytest.approx(0.25, rel=0.03)
    assert statistics.stdev(sample) == pytest.approx(0.25, rel=0.05)  # exponential: sd = mean
    again = arrival_gaps(4.0, "poisson", seed=1)
    assert [next(again) for _ in range(5)] == sample[:5]


def test_invalid_specs_are_rejected():
    with pytest.raises(ValueError):
        LoadSpec(concurrency=1)
    with pytest.raises(ValueError):
        LoadSpec(concurrency=None, num_requests=1)
    with pytest.raises(ValueError):
        LoadSpec(rate=0, num_requests=1)
