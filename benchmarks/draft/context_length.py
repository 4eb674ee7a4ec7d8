"""Does the offline acceptance depend on how much context the head attends over?

    .venv/bin/python benchmarks/draft/context_length.py [--heads DIR ...] [--windows 128 4096]

vLLM runs the EAGLE-3 head over the whole prompt (the agent's ~2,600 tokens), while the build
stores — and the offline evaluation replays — only the last `max_context` prompt tokens before
each answer (128 in the shipped configs). This script answers the held-out requests once with
the full context stored (the commerce eval split, seed 2, 32 requests, greedy, answers capped at
64 tokens: the build's held-out set), crops copies to shorter windows, and evaluates every head
offline on every window. Writes benchmarks/draft/context_length.json and prints a table; compare
with vLLM's measured acceptance length (docs/findings/2026-11-27-domain-eagle3-heads.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from safetensors.torch import load_file

from specwise.draft.config import Traffic
from specwise.draft.data import load_traffic, read_answers
from specwise.draft.evaluate import evaluate
from specwise.draft.generate import generate_dataset
from specwise.draft.hidden import _record, load_target, save_row, write_dataset
from specwise.models import prepare_model

HERE = Path(__file__).parent
HELD_OUT = Traffic(commerce_n=32, seed=2, split="eval")
FULL = 1 << 20  # "all prompt tokens"


def answer_full(target_dir: Path, out: Path) -> list[dict]:
    """The held-out answers with every prompt token's features stored (resumable)."""
    from transformers import AutoTokenizer

    model, tokenizer = load_target(target_dir), AutoTokenizer.from_pretrained(target_dir)
    rows = generate_dataset(model, tokenizer, load_traffic(HELD_OUT), out, FULL, 8, 0.0, 256, 64)
    write_dataset([_record(r, FULL) for r in rows], out)
    return rows


def crop(full: Path, out: Path, max_context: int) -> None:
    """A copy of the full-context data keeping ≤ max_context prompt tokens per answer."""
    rows = sorted(read_answers(full / "answers.jsonl"), key=lambda r: r["index"])
    records = [_record(r, max_context) for r in rows]
    for r, rec in zip(rows, records, strict=True):
        src = load_file(str(full / "hidden_states" / f"hs_{r['index']}.safetensors"))
        start = rec["start"]  # the full copy starts at token 0
        save_row(out, r["index"], src["token_ids"][start:].tolist(), src["hidden_states"][start:])
    write_dataset(records, out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--heads", type=Path, nargs="+",
        default=[Path("heads/smollm2-commerce-eagle3"), Path("heads/smollm2-commerce-eagle3-gpu")],
    )  # fmt: skip
    parser.add_argument("--windows", type=int, nargs="+", default=[128, 512, FULL])
    parser.add_argument("--work", type=Path, default=Path("runs/draft/context_length"))
    parser.add_argument("--out", type=Path, default=HERE / "context_length.json")
    args = parser.parse_args()
    target_dir = prepare_model("smollm2")
    start = time.monotonic()
    rows = answer_full(target_dir, args.work / "full")
    prompt_tokens = sorted(len(r["prompt_token_ids"]) for r in rows)
    results = []
    for window in args.windows:
        data = args.work / "full" if window == FULL else args.work / f"w{window}"
        if window != FULL and not (data / "dataset_info.json").exists():
            crop(args.work / "full", data, window)
        for head in args.heads:
            r = evaluate(head, target_dir, data, k_max=5)
            k3 = r["by_k"][2]
            results.append(
                {
                    "head": str(head), "max_context": "full" if window == FULL else window,
                    "k3_acceptance": k3["acceptance_rate"], "k3_al": k3["acceptance_length"],
                    "k3_per_position": k3["per_position_rates"], "by_k": r["by_k"],
                }
            )  # fmt: skip
            acc, al = k3["acceptance_rate"], k3["acceptance_length"]
            name, w = head.name, results[-1]["max_context"]
            print(f"{name:32} window {w!s:>5}: k=3 acceptance {acc:.3f} AL {al:.2f}", flush=True)
    doc = {
        "held_out": HELD_OUT.model_dump(),
        "prompt_tokens_min_median_max": [prompt_tokens[0], prompt_tokens[len(rows) // 2],
                                         prompt_tokens[-1]],
        "minutes": (time.monotonic() - start) / 60,
        "results": results,
    }  # fmt: skip
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
