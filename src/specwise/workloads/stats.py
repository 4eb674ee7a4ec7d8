"""What a workload looks like to a server: sizes, kinds, token lengths, shared prefixes, overlap.

Token counts use the target's tokenizer: prompt = the chat template applied to the messages
(with tools, generation prompt added); expected output = `extra["expected"]` when present.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from specwise.errors import SpecwiseError
from specwise.workloads.loaders import Turns, WorkloadRequest, load_workload

PERCENTILES = (50, 90, 99)


@dataclass
class WorkloadStats:
    requests: int
    kinds: dict[str, int]
    prompt_tokens: dict[str, float]
    output_tokens: dict[str, float] | None
    outputs_known: int  # requests with extra["expected"]
    common_prefix_tokens: int
    shared_prefix_share: float
    by_kind: dict[str, dict[str, dict[str, float] | None]] = field(default_factory=dict)
    # per request, for the histogram
    prompt_lengths: list[int] = field(default_factory=list, repr=False)
    output_lengths: list[int | None] = field(default_factory=list, repr=False)
    request_kinds: list[str] = field(default_factory=list, repr=False)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 (linear interpolation), mean, min and max."""
    a = np.asarray(values, dtype=float)
    out = {f"p{q}": float(np.percentile(a, q)) for q in PERCENTILES}
    return out | {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())}


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


def shared_prefix_share(seqs: Sequence[Sequence[int]]) -> float:
    """Σ_i max_{j≠i} LCP(i, j) / Σ_i len(i): the prompt share a warm prefix cache could serve.

    In lexicographic order the longest common prefix of a sequence with any other is the one
    with a neighbour, so sorting makes this O(N log N · L)."""
    total = sum(len(s) for s in seqs)
    if len(seqs) < 2 or total == 0:
        return 0.0
    ordered = sorted(list(s) for s in seqs)
    gaps = [common_prefix_length(x, y) for x, y in pairwise(ordered)]
    best = [max(left, right) for left, right in zip([0, *gaps], [*gaps, 0], strict=True)]
    return sum(best) / total


def all_common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Tokens every sequence starts with (e.g. the shared system prompt)."""
    return min(common_prefix_length(seqs[0], s) for s in seqs) if seqs else 0


def prompt_token_ids(requests: Sequence[WorkloadRequest], tokenizer: Any) -> list[list[int]]:
    """Token ids of each rendered prompt (chat template with tools and generation prompt)."""
    texts = [
        tokenizer.apply_chat_template(
            r.messages, tools=r.tools, add_generation_prompt=True, tokenize=False
        )
        for r in requests
    ]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def expected_text(r: WorkloadRequest) -> str | None:
    value = r.extra.get("expected")
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def workload_stats(requests: Sequence[WorkloadRequest], tokenizer: Any) -> WorkloadStats:
    """Counts, kinds, token-length summaries (overall and per kind) and prefix sharing."""
    prompts = prompt_token_ids(requests, tokenizer)
    texts = [expected_text(r) for r in requests]
    known = [t for t in texts if t is not None]
    known_ids = iter(tokenizer(known, add_special_tokens=False)["input_ids"] if known else [])
    outputs = [None if t is None else len(next(known_ids)) for t in texts]
    kinds = [r.kind or "(none)" for r in requests]
    by_kind: dict[str, dict[str, dict[str, float] | None]] = {}
    for kind in sorted(set(kinds)):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        outs = [o for i in idx if (o := outputs[i]) is not None]
        by_kind[kind] = {
            "prompt_tokens": percentiles([len(prompts[i]) for i in idx]),
            "output_tokens": percentiles(outs) if outs else None,
        }
    all_outs = [o for o in outputs if o is not None]
    return WorkloadStats(
        requests=len(requests),
        kinds=dict(sorted(Counter(kinds).items())),
        prompt_tokens=percentiles([len(p) for p in prompts]),
        output_tokens=percentiles(all_outs) if all_outs else None,
        outputs_known=len(all_outs),
        common_prefix_tokens=all_common_prefix(prompts),
        shared_prefix_share=shared_prefix_share(prompts),
        by_kind=by_kind,
        prompt_lengths=[len(p) for p in prompts],
        output_lengths=outputs,
        request_kinds=kinds,
    )


def request_key(r: WorkloadRequest, part: str = "request") -> str:
    """Identity of a request for overlap: the whole request (messages + tools), the
    conversation after the system prompt, or the final user message."""
    if part == "request":
        return json.dumps([r.messages, r.tools], sort_keys=True, ensure_ascii=False)
    if part == "conversation":
        turns = [m for m in r.messages if m.get("role") != "system"]
        return json.dumps(turns, sort_keys=True, ensure_ascii=False)
    users = [m for m in r.messages if m.get("role") == "user"]
    return json.dumps(users[-1] if users else None, sort_keys=True, ensure_ascii=False)


OVERLAP_PARTS = ("request", "conversation", "last_user")


def overlap(a: Sequence[WorkloadRequest], b: Sequence[WorkloadRequest]) -> dict[str, float]:
    """Per part: share of a's requests whose key also occurs in b."""
    out = {}
    for part in OVERLAP_PARTS:
        keys = {request_key(r, part) for r in b}
        out[part] = sum(request_key(r, part) in keys for r in a) / len(a)
    return out


def duplicates(requests: Sequence[WorkloadRequest]) -> int:
    """Requests identical (messages + tools) to an earlier one in the same workload."""
    keys = [request_key(r) for r in requests]
    return len(keys) - len(set(keys))


def plot_lengths(stats: WorkloadStats, out: Path, title: str) -> Path:
    """Two stacked histograms by kind: prompt tokens and expected-output tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted(set(stats.request_kinds))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    series = (("prompt tokens", stats.prompt_lengths), ("expected output tokens", None))
    for ax, (label, lengths) in zip(axes, series, strict=True):
        values = lengths if lengths is not None else stats.output_lengths
        data = [
            [
                v
                for v, k in zip(values, stats.request_kinds, strict=True)
                if k == kind and v is not None
            ]
            for kind in kinds
        ]
        if any(data):
            ax.hist(data, bins=40, stacked=True, label=kinds)
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no expected outputs", ha="center", transform=ax.transAxes)
        ax.set_xlabel(label)
        ax.set_ylabel("requests")
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def load_tokenizer(name: str) -> Any:
    """A HF tokenizer from a directory, hub name (offline cache) or a prepared local model."""
    from specwise.models import KNOWN_MODELS, prepare_model

    source = str(prepare_model(name)) if name in KNOWN_MODELS else name
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise SpecwiseError(
            f"Could not load a tokenizer from {source!r} ({exc.__class__.__name__}); pass "
            "--tokenizer with a model directory that holds tokenizer files."
        ) from None


def _fmt(summary: dict[str, float] | None) -> str:
    if summary is None:
        return "n/a"
    return (
        f"p50 {summary['p50']:.0f}  p90 {summary['p90']:.0f}  p99 {summary['p99']:.0f}  "
        f"mean {summary['mean']:.1f}  min {summary['min']:.0f}  max {summary['max']:.0f}"
    )


def format_stats(stats: WorkloadStats, path: Path, tokenizer: str) -> str:
    lines = [
        f"workload         {path}",
        f"requests         {stats.requests}",
        "kinds            " + ", ".join(f"{k} {v}" for k, v in stats.kinds.items()),
        f"tokenizer        {tokenizer}",
        f"prompt tokens    {_fmt(stats.prompt_tokens)}",
        f"output tokens    {_fmt(stats.output_tokens)}  "
        f"(expected answers known for {stats.outputs_known}/{stats.requests})",
        f"common prefix    {stats.common_prefix_tokens} tokens shared by every prompt "
        f"({stats.common_prefix_tokens / stats.prompt_tokens['mean']:.1%} of the mean prompt)",
        f"prefix-cacheable {stats.shared_prefix_share:.1%} of prompt tokens "
        "(longest prefix shared with another request)",
    ]
    for kind, parts in stats.by_kind.items():
        lines.append(f"  {kind:<14} prompt  {_fmt(parts['prompt_tokens'])}")
        lines.append(f"  {'':<14} output  {_fmt(parts['output_tokens'])}")
    return "\n".join(lines)


def run_stats(
    path: Path,
    turns: Turns = "last",
    tokenizer: str = "smollm2",
    plot: Path | None = None,
    compare: Path | None = None,
) -> str:
    """`specwise workload stats`: the report text (the histogram is written to `plot`)."""
    requests = load_workload(path, turns)
    stats = workload_stats(requests, load_tokenizer(tokenizer))
    image = plot_lengths(stats, plot or path.with_suffix(".lengths.png"), path.name)
    report = format_stats(stats, path, tokenizer)
    report += f"\nduplicates       {duplicates(requests)} requests repeat an earlier one"
    if compare is not None:
        shares = overlap(requests, load_workload(compare, turns))
        report += f"\noverlap with {compare}: " + ", ".join(
            f"identical {part} {share:.2%}" for part, share in shares.items()
        )
    return report + f"\nhistogram        {image}"
