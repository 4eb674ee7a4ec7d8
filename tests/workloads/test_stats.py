import random

import pytest
from typer.testing import CliRunner

from specwise.cli import app
from specwise.workloads import stats
from specwise.workloads.commerce import generate
from specwise.workloads.loaders import WorkloadRequest
from specwise.workloads.stats import (
    common_prefix_length,
    duplicates,
    overlap,
    percentiles,
    plot_lengths,
    shared_prefix_share,
    workload_stats,
)


class WordTokenizer:
    """Stand-in for a HF tokenizer: one token per whitespace-separated word."""

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=True):
        text = " ".join(f"<{m['role']}> {m['content']}" for m in messages)
        return text + (" <assistant>" if add_generation_prompt else "")

    def __call__(self, texts, add_special_tokens=True):
        ids = [[self.vocab.setdefault(w, len(self.vocab)) for w in t.split()] for t in texts]
        return {"input_ids": ids}


def request(text, kind=None, expected=None, system="shared system prompt"):
    extra = {} if expected is None else {"expected": expected}
    messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
    return WorkloadRequest(id=text, messages=messages, kind=kind, extra=extra)


def test_summarize():
    s = percentiles([1, 2, 3, 4, 100])
    assert (s["p50"], s["min"], s["max"], s["mean"]) == (3, 1, 100, 22)
    assert s["p90"] == pytest.approx(61.6)


def brute_share(seqs):
    best = [
        max(common_prefix_length(a, b) for j, b in enumerate(seqs) if j != i)
        for i, a in enumerate(seqs)
    ]
    return sum(best) / sum(len(s) for s in seqs)


def test_shared_prefix_share_matches_brute_force():
    rng = random.Random(0)
    seqs = [[rng.randrange(3) for _ in range(rng.randrange(1, 12))] for _ in range(40)]
    assert shared_prefix_share(seqs) == pytest.approx(brute_share(seqs))
    assert shared_prefix_share([[1, 2, 3], [1, 2, 3]]) == 1.0
    assert shared_prefix_share([[1, 2], [3, 4]]) == 0.0
    assert common_prefix_length([1, 2, 3], [1, 2]) == 2


def test_workload_stats_counts_kinds_lengths_and_prefix():
    requests = [
        request("find red shoes", "search_params", '{"category": "running_shoes"}'),
        request("where is A-1", "tool_call", '{"tool": "get_order_status"}'),
        request("return policy please", "answer", "You have thirty days to return it."),
        request("hello"),
    ]
    s = workload_stats(requests, WordTokenizer())
    assert s.requests == 4
    assert s.kinds == {"(none)": 1, "answer": 1, "search_params": 1, "tool_call": 1}
    assert s.outputs_known == 3
    assert s.output_tokens is not None and s.output_tokens["max"] == 7
    assert s.common_prefix_tokens == 5  # "<system> shared system prompt <user>"
    assert s.prompt_tokens["min"] == 7
    assert s.by_kind["(none)"]["output_tokens"] is None
    assert 0.5 < s.shared_prefix_share < 1.0


def test_overlap_and_duplicates():
    a = [request("one"), request("two"), request("two")]
    b = [request("two"), request("three", system="other")]
    assert duplicates(a) == 1
    assert overlap(a, b) == pytest.approx(
        {"request": 2 / 3, "conversation": 2 / 3, "last_user": 2 / 3}
    )
    assert overlap([request("three")], b) == {"request": 0, "conversation": 1, "last_user": 1}


def test_histogram_is_written(tmp_path):
    s = workload_stats(generate(40, seed=1), WordTokenizer())
    out = plot_lengths(s, tmp_path / "h.png", "test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_generates_and_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "load_tokenizer", lambda name: WordTokenizer())
    runner = CliRunner()
    for seed in (1, 2):
        out = tmp_path / f"s{seed}.jsonl"
        args = ["workload", "commerce", "--n", "60", "--seed", str(seed), "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    args = [
        "workload",
        "stats",
        str(tmp_path / "s1.jsonl"),
        "--compare",
        str(tmp_path / "s2.jsonl"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "requests         60" in result.output
    assert "identical request 0.00%" in result.output
    assert (tmp_path / "s1.lengths.png").exists()


def test_cli_reports_user_errors(tmp_path):
    result = CliRunner().invoke(app, ["workload", "commerce", "--out", "x.jsonl", "--split", "dev"])
    assert result.exit_code == 2
    assert "Split 'dev' is unknown" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    result = CliRunner().invoke(app, ["workload", "stats", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.output
