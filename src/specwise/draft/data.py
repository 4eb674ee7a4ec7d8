"""Training data for a draft head, step 1: the target's own answers to the team's traffic.

The target regenerates every answer through a running vLLM server (temperature 0 by default), so
the head learns what the target says, not what someone else once wrote. vLLM returns the token
ids it used (`return_token_ids`): the prompt exactly as its chat template rendered it, and the
answer tokens, so the loss mask is `[0] * len(prompt) + [1] * len(answer)` with no re-tokenizing.
Rows go to `answers.jsonl` as they finish; a rerun skips ids already there (resumable).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from specwise.draft.config import BuildConfig, Traffic
from specwise.errors import SpecwiseError
from specwise.workloads.loaders import WorkloadRequest, load_jsonl


def load_traffic(traffic: Traffic) -> list[WorkloadRequest]:
    """The requests of a workload file, or of the commerce generator."""
    if traffic.file is not None:
        return load_jsonl(traffic.file)
    from specwise.workloads.commerce import generate

    return generate(traffic.commerce_n, traffic.seed, traffic.split)


def read_answers(path: Path) -> list[dict[str, Any]]:
    """Rows of answers.jsonl; a torn last line (interrupted run) is ignored."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def request_body(request: WorkloadRequest, model: str, temperature: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": request.messages,
        "temperature": temperature,
        "return_token_ids": True,  # vLLM: prompt_token_ids + choices[0].token_ids
    }
    if request.tools:
        body["tools"] = request.tools
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body


def answer_row(request: WorkloadRequest, response: dict[str, Any]) -> dict[str, Any]:
    choice = response["choices"][0]
    prompt_ids, output_ids = response.get("prompt_token_ids"), choice.get("token_ids")
    if not prompt_ids or output_ids is None:
        raise SpecwiseError(
            "The server returned no token ids; regenerate with vLLM >= 0.10 (it supports "
            "`return_token_ids`)."
        )
    return {
        "id": request.id,
        "kind": request.kind,
        "prompt_token_ids": prompt_ids,
        "output_token_ids": output_ids,
        "text": choice["message"].get("content") or "",
        "finish_reason": choice.get("finish_reason"),
    }


async def _regenerate(
    requests: list[WorkloadRequest], base_url: str, model: str, out: Path, temperature: float,
    concurrency: int,
) -> None:  # fmt: skip
    gate = asyncio.Semaphore(concurrency)
    url = base_url.rstrip("/") + "/v1/chat/completions"
    timeout = aiohttp.ClientTimeout(total=1800)
    with out.open("a") as sink, _progress("regenerating answers", len(requests)) as advance:
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def one(request: WorkloadRequest) -> None:
                async with gate:
                    body = request_body(request, model, temperature)
                    async with session.post(url, json=body) as response:
                        if response.status != 200:
                            text = (await response.text())[:300]
                            raise SpecwiseError(
                                f"The server answered HTTP {response.status} to request "
                                f"{request.id}: {text}; fix the request or the server."
                            )
                        row = answer_row(request, await response.json())
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                advance()

            await asyncio.gather(*(one(r) for r in requests))


def regenerate(
    requests: list[WorkloadRequest], base_url: str, model: str, out: Path,
    temperature: float = 0.0, concurrency: int = 16,
) -> list[dict[str, Any]]:  # fmt: skip
    """Ask the server for every request not yet in `out`; return all rows in request order."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = read_answers(out)
    if out.exists() and not out.read_text().endswith("\n"):  # torn last line: drop it
        out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = {row["id"] for row in rows}
    todo = [r for r in requests if r.id not in done]
    if todo:
        asyncio.run(_regenerate(todo, base_url, model, out, temperature, concurrency))
    return collect(requests, out)


def collect(requests: list[WorkloadRequest], path: Path) -> list[dict[str, Any]]:
    """The rows of `path` for `requests`, in request order."""
    by_id = {row["id"]: row for row in read_answers(path)}
    return [by_id[r.id] for r in requests if r.id in by_id]


def regenerate_all(config: BuildConfig, log_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Answers for the train and held-out traffic, starting one vLLM server only if needed."""
    wanted = {
        "train": load_traffic(config.data.train),
        "held_out": load_traffic(config.data.held_out),
    }
    paths = {split: config.workdir / split / "answers.jsonl" for split in wanted}
    missing = {
        split: [r for r in reqs if r.id not in {a["id"] for a in read_answers(paths[split])}]
        for split, reqs in wanted.items()
    }
    if any(missing.values()):
        with target_server(config, log_dir) as (base_url, model):
            for split, reqs in wanted.items():
                regenerate(
                    reqs, base_url, model, paths[split], config.data.temperature,
                    config.data.concurrency,
                )  # fmt: skip
    return {split: collect(reqs, paths[split]) for split, reqs in wanted.items()}


@contextmanager
def target_server(config: BuildConfig, log_dir: Path) -> Iterator[tuple[str, str]]:
    """The target alone on vLLM (no speculation, prefix caching on: the system prompt repeats)."""
    from specwise.config import Arm
    from specwise.servers.launch import serve

    arm = Arm(
        name="draft-data-target",
        model=config.target,
        extra_args=[*config.server_args, "--enable-prefix-caching"],
        env=config.server_env,
    )
    with serve(arm, log_dir) as server:
        yield server.base_url, server.model


@contextmanager
def _progress(label: str, total: int):
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n=1: progress.advance(task, n)
