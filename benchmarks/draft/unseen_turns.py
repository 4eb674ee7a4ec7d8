"""Offline acceptance of heads on held-out answers, split by whether a training set saw the turn.

    .venv/bin/python benchmarks/draft/unseen_turns.py \
        configs/draft/smollm2-commerce-eval-phrasings-240.yaml \
        --heads heads/smollm2-commerce-eagle3-ctxft \
        runs/draft/heads/smollm2-commerce-eagle3-evalhalf
    .venv/bin/python benchmarks/draft/unseen_turns.py \
        configs/draft/smollm2-commerce-eval-phrasings-480.yaml \
        configs/draft/smollm2-commerce-eval-phrasings-240.yaml \
        --heads … --out benchmarks/draft/unseen_turns_480.json

Reads a build's held-out rows (its workdir's `held_out`, with their features) and the train
traffic of it and of any further configs given (a head fine-tuned in two builds saw both), and
evaluates every head at temperature 0, k = 3 (chain drafting, as `specwise draft eval`) on all
held-out rows, on the rows whose last customer turn occurs verbatim nowhere in that traffic,
and per request kind. Answers whether a head's gain comes from customer turns it has seen.
Writes benchmarks/draft/unseen_turns.json (or --out) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from specwise.draft.config import load_build_config
from specwise.draft.data import load_traffic, read_answers
from specwise.draft.evaluate import (
    chain_accepts,
    draft_predictions,
    load_head,
    load_samples,
    summarize,
)
from specwise.models import prepare_model

HERE = Path(__file__).parent
K = 3


def last_user_turn(messages: list[dict]) -> str:
    return [m["content"] for m in messages if m["role"] == "user"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "configs", type=Path, nargs="+",
        help="a build's config (its workdir holds the held-out data), then any earlier builds' "
        "configs whose train traffic the heads also saw",
    )  # fmt: skip
    parser.add_argument("--heads", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, default=HERE / "unseen_turns.json")
    args = parser.parse_args()

    configs = [load_build_config(path) for path in args.configs]
    config = configs[0]
    data = config.workdir / "held_out"
    held_out = {r.id: r for r in load_traffic(config.data.held_out)}
    seen = {last_user_turn(r.messages) for c in configs for r in load_traffic(c.data.train)}
    rows = read_answers(data / "answers.jsonl")
    unseen = [last_user_turn(held_out[row["id"]].messages) not in seen for row in rows]
    samples = load_samples(data)
    target = prepare_model("smollm2")

    results = []
    for head in args.heads:
        model = load_head(head, target)
        every, fresh, by_kind = [], [], {}
        for row, new, sample in zip(rows, unseen, samples, strict=True):
            accepted = chain_accepts(
                draft_predictions(model, sample, K), sample["token_ids"], sample["loss_mask"], K
            )
            every += accepted
            fresh += accepted if new else []
            by_kind.setdefault(row["kind"], []).extend(accepted)
        result = {"head": str(head), "all": summarize(every, K)}
        result["unseen_turns"] = summarize(fresh, K)
        result["by_kind"] = {kind: summarize(a, K) for kind, a in sorted(by_kind.items())}
        results.append(result)
        everything = result["all"]
        print(
            f"{head}: all {everything['acceptance_rate']:.3f} / AL "
            f"{everything['acceptance_length']:.2f}; unseen turns "
            f"{result['unseen_turns']['acceptance_rate']:.3f}; by kind "
            + ", ".join(f"{k} {v['acceptance_rate']:.3f}" for k, v in result["by_kind"].items())
        )
    out = {
        "config": str(args.configs[0]),
        "train": [c.data.train.model_dump(mode="json") for c in configs],
        "held_out_rows": len(rows),
        "unseen_rows": sum(unseen),
        "k": K,
        "heads": results,
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"{sum(unseen)} of {len(rows)} held-out rows: a last customer turn the train traffic lacks"
    )


if __name__ == "__main__":
    main()
