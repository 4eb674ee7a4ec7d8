"""`specwise judge` on two bench directories, against the fake judge (no vLLM)."""

from __future__ import annotations

import json

import pytest
from bench_dirs import write_dir
from fake_judge import CALLS, fake_judge

from specwise.errors import SpecwiseError
from specwise.quality.run import JudgeOptions, options_from_cli, run_judge
from specwise.quality.settings import JudgeSettings
from specwise.workloads.commerce import generate, write_jsonl


def test_judge_bench_dirs(tmp_path):
    requests = generate(4, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    ids = [r.id for r in requests]
    base = write_dir(tmp_path / "base", workload, {i: f"answer {i}" for i in ids})
    cand_texts = {ids[0]: "GOOD answer", ids[1]: f"answer {ids[1]}", ids[2]: "answer", ids[3]: "x"}
    cand = write_dir(tmp_path / "ngram", workload, cand_texts)
    with fake_judge() as url:
        CALLS.clear()
        settings = JudgeSettings(
            judge_url=url,
            judge_model="prefers-good",
            judge2_url=url,
            judge2_model="prefers-shorter",
        )
        options = JudgeOptions(source=cand, baseline=base, settings=settings)
        (row,) = run_judge(options)
        assert "[Conversation]\nuser: " in CALLS[0]["messages"][1]["content"]  # the question
    assert row["arm"] == "ngram" and row["exact"]["identical"] == 1
    assert row["exact"]["classes"] == {"unknown": 2, "identical": 1, "truncated": 1}
    assert row["judge"]["win"] == 1 and row["judge"]["ties_total"] == 3
    # 3 decided pairs are too few to trust the judge; 2-word answers cannot be planted
    assert row["verdict"] == "judge unreliable"
    assert "only 3 decided pairs" in row["reason"] and "only 0 planted pairs" in row["reason"]
    assert row["judge_gate"]["control_outcomes"] == []  # too few to judge: no calls spent
    # judge 1: win, tie, tie; judge 2 (the shorter answer): win ×3 → p_o = 1/3 = p_e → κ = 0
    assert row["stats"]["kappa"] == pytest.approx(0.0)
    assert row["stats"]["position_consistency"] == pytest.approx(1.0)
    saved = json.loads((cand / "quality.json").read_text())
    assert saved[0]["verdict"] == row["verdict"]
    assert (cand / "judgments.jsonl").exists()


def same_answers(tmp_path, n: int):
    """A workload of n requests and two bench dirs (base, cand) with the same answers."""
    requests = generate(n, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    texts = {r.id: f"answer {r.id}" for r in requests}
    base = write_dir(tmp_path / "base", workload, texts)
    return workload, texts, base, write_dir(tmp_path / "cand", workload, texts)


def test_bench_aa_control_dir_still_pairs_by_request_id(tmp_path):
    workload, texts, base, cand = same_answers(tmp_path, 3)
    control = write_dir(tmp_path / "again", workload, texts)
    settings = JudgeSettings(llm_judge=False)
    options = JudgeOptions(source=cand, baseline=base, control=control, settings=settings)
    rows = {r["arm"]: r for r in run_judge(options)}
    assert rows["A/A control"]["control"] is True and rows["cand"]["control"] is False
    assert rows["A/A control"]["exact"]["pairs"] == 3
    assert rows["A/A control"]["verdict"] == rows["cand"]["verdict"] == "equivalent"


def test_judge_needs_a_baseline(tmp_path):
    with pytest.raises(SpecwiseError, match="--baseline"):
        run_judge(JudgeOptions(source=tmp_path))


def test_margin_option():
    options = options_from_cli(source=".", margin="0.4,0.6", llm=False)
    assert options.changes == {"margin": (0.4, 0.6), "llm_judge": False}
    with pytest.raises(SpecwiseError, match="bracket"):
        options_from_cli(source=".", margin="0.6,0.7", llm=True)


def test_cli_checks_only(tmp_path):
    from typer.testing import CliRunner

    from specwise.cli import app

    _, _, base, cand = same_answers(tmp_path, 2)
    result = CliRunner().invoke(app, ["judge", str(cand), "--baseline", str(base), "--no-llm"])
    assert result.exit_code == 0, result.output
    assert json.loads((cand / "quality.json").read_text())[0]["verdict"] == "equivalent"
    result = CliRunner().invoke(app, ["judge", str(cand), "--margin", "0.7,0.8"])
    assert result.exit_code == 2 and "bracket" in result.output


def test_a_stalled_judge_fails_its_pairs_and_the_run_goes_on(tmp_path):
    """An endpoint that sends its headers and then nothing: each call stops at the idle limit,
    its pair is "failed" with the reason, after 3 the judge is not asked again, quality.json
    is written, and the command says so with exit status 1 (an endpoint fault)."""
    import time

    from typer.testing import CliRunner

    from specwise.cli import app

    requests = generate(6, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    ids = [r.id for r in requests]
    base = write_dir(tmp_path / "base", workload, {i: f"answer {i}" for i in ids})
    cand = write_dir(tmp_path / "ngram", workload, {i: f"other {i}" for i in ids})
    with fake_judge() as url:
        args = ["judge", str(cand), "--baseline", str(base), "--judge-url", url]
        args += ["--judge-model", "stall", "--judge-idle-timeout", "0.5", "--concurrency", "1"]
        t0 = time.monotonic()
        result = CliRunner().invoke(app, args)
        assert time.monotonic() - t0 < 20  # 3 pairs × 0.5 s idle limit, not 6 × 5 s
    assert result.exit_code == 1, result.output
    assert "the judge failed on 6 pair(s)" in " ".join(result.output.split())
    (row,) = json.loads((cand / "quality.json").read_text())
    assert row["judge"]["failed"] == 6 and row["judge"]["n"] == 0
    reasons = row["judge_failures"]
    asked = [r for r in reasons if not r.startswith("not asked: the judge failed 3 pairs")]
    assert len(asked) == 3 and all("timeout" in r.lower() for r in asked)


@pytest.mark.parametrize("flag", ["--judge-timeout", "--judge-idle-timeout"])
def test_judge_timeouts_must_be_positive(tmp_path, flag):
    from typer.testing import CliRunner

    from specwise.cli import app

    result = CliRunner().invoke(app, ["judge", str(tmp_path), flag, "0"])
    assert result.exit_code == 2 and "must be a positive number of seconds" in result.output


def test_a_judge_that_echoes_the_key_never_gets_it_printed_or_stored(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from specwise.cli import app

    key = "sk-judge-secret-0123456789"
    monkeypatch.setenv("SPECWISE_TEST_JUDGE_KEY", key)
    requests = generate(4, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    base = write_dir(tmp_path / "base", workload, {r.id: f"answer {r.id}" for r in requests})
    cand = write_dir(tmp_path / "cand", workload, {r.id: f"other {r.id}" for r in requests})
    with fake_judge() as url:
        args = ["judge", str(cand), "--baseline", str(base), "--judge-url", url]
        args += ["--judge-model", "echo-auth", "--judge-api-key-env", "SPECWISE_TEST_JUDGE_KEY"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "invalid credentials: Bearer ***" in result.output
    assert key not in result.output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path
