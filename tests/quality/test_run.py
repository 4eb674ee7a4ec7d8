"""`specwise judge` on two bench directories, against the fake judge (no vLLM)."""

from __future__ import annotations

import json

import pytest
from fake_judge import CALLS, fake_judge

from specwise.bench.client import RequestRecord
from specwise.errors import SpecwiseError
from specwise.quality.run import JudgeOptions, options_from_cli, run_judge
from specwise.workloads.commerce import generate, write_jsonl


def write_dir(path, workload, texts, temperature=0.0):
    path.mkdir()
    records = [RequestRecord(request_id=rid, ok=True, text=t) for rid, t in texts.items()]
    (path / "requests.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    params = {"workload": str(workload), "temperature": temperature, "arm": path.name}
    (path / "summary.json").write_text(json.dumps({"parameters": params}))
    return path


def test_judge_bench_dirs(tmp_path):
    requests = generate(4, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    ids = [r.id for r in requests]
    base = write_dir(tmp_path / "base", workload, {i: f"answer {i}" for i in ids})
    cand_texts = {ids[0]: "GOOD answer", ids[1]: f"answer {ids[1]}", ids[2]: "answer", ids[3]: "x"}
    cand = write_dir(tmp_path / "ngram", workload, cand_texts)
    with fake_judge() as url:
        CALLS.clear()
        options = JudgeOptions(
            source=cand, baseline=base, judge_url=url, judge_model="prefers-good"
        )
        options.judge2_url, options.judge2_model = url, "always-a"  # a position-biased judge
        (row,) = run_judge(options)
        assert "[Conversation]\nuser: " in CALLS[0]["messages"][1]["content"]  # the question
    assert row["arm"] == "ngram" and row["exact"]["identical"] == 1
    assert row["exact"]["classes"] == {"unknown": 2, "identical": 1, "truncated": 1}
    assert row["judge"]["win"] == 1 and row["judge"]["ties_total"] == 3
    assert row["verdict"] == "not shown equivalent"
    # judge 1: win, tie, tie; judge 2: tie ×3 → p_o = 2/3 = p_e → κ = 0
    assert row["stats"]["kappa"] == pytest.approx(0.0)
    assert row["stats"]["position_consistency"] == pytest.approx(1.0)
    saved = json.loads((cand / "quality.json").read_text())
    assert saved[0]["verdict"] == row["verdict"]
    assert (cand / "judgments.jsonl").exists()


def test_judge_needs_a_baseline(tmp_path):
    with pytest.raises(SpecwiseError, match="--baseline"):
        run_judge(JudgeOptions(source=tmp_path))


def test_margin_option():
    assert options_from_cli(source=".", margin="0.4,0.6", llm=False).margin == (0.4, 0.6)
    with pytest.raises(SpecwiseError, match="bracket"):
        options_from_cli(source=".", margin="0.6,0.7", llm=True)


def test_cli_checks_only(tmp_path):
    from typer.testing import CliRunner

    from specwise.cli import app

    requests = generate(2, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    texts = {r.id: f"answer {r.id}" for r in requests}
    base = write_dir(tmp_path / "base", workload, texts)
    cand = write_dir(tmp_path / "cand", workload, texts)
    result = CliRunner().invoke(app, ["judge", str(cand), "--baseline", str(base), "--no-llm"])
    assert result.exit_code == 0, result.output
    assert json.loads((cand / "quality.json").read_text())[0]["verdict"] == "equivalent"
    result = CliRunner().invoke(app, ["judge", str(cand), "--margin", "0.7,0.8"])
    assert result.exit_code == 2 and "bracket" in result.output
