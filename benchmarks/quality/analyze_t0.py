"""Pair the temperature-0 probes of `probe_t0.py` and classify every mismatch with exact.py.

For each dtype: ngram-k3 vs baseline (the speculation effect), and baseline bf16 vs float32
(what numerics alone do). At the first differing token it prints both arms' margins:
base view = log p_base(base token) − log p_base(cand token) from the baseline's top-5,
cand view = log p_cand(cand token) − log p_cand(base token) from the candidate's top-5.

    .venv/bin/python benchmarks/quality/analyze_t0.py runs/quality/probe
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from specwise.bench.client import RequestRecord
from specwise.quality import exact


def load(path: Path) -> dict[str, dict]:
    return {r["request_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def record(row: dict) -> RequestRecord:
    extra = {"tokens": row["tokens"], "top_logprobs": row["top"]}
    return RequestRecord(request_id=row["request_id"], ok=True, text=row["text"], extra=extra)


def compare(base: dict[str, dict], cand: dict[str, dict], title: str) -> None:
    from specwise.workloads.commerce import generate

    kinds = {w.id: w for w in generate(len(base), 1)}
    rows, lines = [], []
    for rid, b in base.items():
        c = cand[rid]
        pair = exact.Pair(rid, record(b), record(c), *exact._workload_fields(kinds.get(rid)))
        row = exact.check_pair(pair)
        rows.append(row)
        i = row["first_diff"]
        if row["class"] in ("identical", "truncated") or i is None:
            continue
        tb, tc = b["tokens"][i], c["tokens"][i]
        cand_view = c["top"][i].get(tc, float("nan")) - c["top"][i].get(tb, float("nan"))
        lines.append(
            f"| {rid[-5:]} | {row['kind']} | {i} | {tb!r} | {tc!r} | {_f(row['margin'])} | "
            f"{_f(cand_view)} | {row['class']} |"
        )
    s = exact.exact_summary(rows)
    margins = [r["margin"] for r in rows if r["margin"] is not None]
    print(f"\n### {title}\n")
    print(
        f"identical {s.identical}/{s.pairs}; classes {s.classes}; tool-call equal "
        f"{s.tool_equal}/{s.tool_pairs}; SearchParams valid {s.schema_a}→{s.schema_b} of "
        f"{s.search_pairs}; median margin {_f(statistics.median(margins) if margins else None)}"
    )
    print("\n| req | kind | first diff | base token | cand token | base view | cand view | class |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> None:
    """analyze_t0.py DIR [BASE CAND ...]: pairs of output stems (default: each dtype's pair)."""
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/quality/probe")
    stems = sys.argv[2:] or [
        "baseline-bfloat16",
        "ngram-k3-bfloat16",
        "baseline-float32",
        "ngram-k3-float32",
    ]
    for base, cand in zip(stems[::2], stems[1::2], strict=True):
        if (out / f"{base}.jsonl").exists() and (out / f"{cand}.jsonl").exists():
            compare(load(out / f"{base}.jsonl"), load(out / f"{cand}.jsonl"), f"{cand} vs {base}")


if __name__ == "__main__":
    main()
