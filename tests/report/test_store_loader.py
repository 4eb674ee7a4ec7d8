"""load_results and write_report against a real results.sqlite written with store's API."""

from __future__ import annotations

import json

import pytest

from specwise import store
from specwise.bench import metrics
from specwise.bench.client import RequestRecord
from specwise.errors import SpecwiseError
from specwise.report import write_report
from specwise.results import load_results
from specwise.servers.prometheus import Acceptance

SPEC = {
    "name": "tiny",
    "baseline": "baseline",
    "arms": [
        {"name": "baseline", "gpus": 2, "gpu_hour_usd": 2.5},
        {"name": "eagle3-k3", "gpus": 1, "gpu_hour_usd": 2.5,
         "speculative_config": {"method": "eagle3", "model": "/h", "num_speculative_tokens": 3}},
    ],
    "slo": {"ttft_ms": 500, "tpot_ms": 30},
    "concurrency": [1, 4],
    "temperature": [0.0],
}  # fmt: skip


def records(n: int, tpot: float, spec: bool, text: str = "ok") -> list[RequestRecord]:
    """n requests of 33 tokens, one every 0.1 s, TTFT 0.1 s, TPOT `tpot`."""
    out = []
    for i in range(n):
        r = RequestRecord(f"r{i}", ok=True, started_at=1000.0 + 0.1 * i, ttft_s=0.1,
                          e2e_s=0.1 + 32 * tpot, output_tokens=33, token_source="server_usage",
                          text=text, extra={"index": i})  # fmt: skip
        if spec:
            r.spec_decode = {"num_draft_tokens": 60, "num_accepted_draft_tokens": 12 + i,
                             "num_spec_steps": 20}  # fmt: skip
        out.append(r)
    return out


def write_store(tmp_path, planted: str):
    conn = store.connect(store.store_path(tmp_path))
    store.bind_study(conn, "tiny", "abc", SPEC, set())
    sid = store.add_server(conn, "eagle3-k3", {"command": ["vllm", "serve", "<b>m</b>"]})
    pos = 0
    for arm, spec, tpot in (("baseline", False, 0.02), ("eagle3-k3", True, 0.015)):
        for c in (1, 4):
            recs = records(8, tpot * c, spec, planted if spec else "fine")
            acc = Acceptance(100, 300, 120, (60, 40, 20), 500) if spec else None
            run = {"key": f"{arm}{c}", "position": pos, "arm": arm, "concurrency": c,
                   "temperature": 0.0, "repeat": 0, "status": "done", "server_id": sid,
                   "requests": len(recs), "summary": metrics.summarize(recs),
                   "acceptance": acc.to_dict() if acc else None}  # fmt: skip
            store.save_run(conn, run, [r.to_dict() for r in recs], {})
            pos += 1
    failed = {"key": "k5", "position": pos, "arm": "eagle3-k3", "concurrency": 16,
              "temperature": 0.0, "repeat": 0, "status": "failed",
              "reason": "server exited <script>x</script>"}  # fmt: skip
    store.save_run(conn, failed, [], {})
    conn.close()


def test_load_results(tmp_path):
    write_store(tmp_path, "<script>alert(1)</script>")
    data = load_results(tmp_path)
    assert (data.name, data.baseline, data.slo_tpot_ms) == ("tiny", "baseline", 30)
    assert len(data.rows) == 5 and len(data.done) == 4
    k3 = next(r for r in data.done if r.arm == "eagle3-k3" and r.concurrency == 1)
    assert (k3.gpus, k3.gpu_hour_usd, k3.method, k3.k) == (1, 2.5, "eagle3", 3)
    assert k3.acceptance_rate == pytest.approx(0.4)  # 120 / 300
    assert k3.acceptance_length == pytest.approx(2.2)  # 1 + 120 / 100
    assert k3.per_position_rates == [0.6, 0.4, 0.2]
    # per request: AL = 1 + accepted / steps = 1 + (12 + i) / 20
    assert k3.request_lengths == pytest.approx([1 + (12 + i) / 20 for i in range(8)])
    assert k3.request_lengths_source == "server_per_request"
    # TPOT 15 ms ≤ 30 ms at c = 1; 60 ms at c = 4: the SLO is met at c = 1 only
    assert k3.slo_fraction == 1.0
    assert (
        next(r for r in data.done if r.arm == "eagle3-k3" and r.concurrency == 4).slo_fraction == 0
    )
    assert k3.output_tokens_per_s == pytest.approx(
        metrics.output_tokens_per_s(records(8, 0.015, True))
    )
    assert json.loads(data.conditions["concurrency"]) == [1, 4]
    assert data.conditions["command · eagle3-k3"] == "vllm serve <b>m</b>"
    # an SLO given to the report replaces the study's
    assert load_results(tmp_path, slo_tpot_ms=100).done[3].slo_fraction == 1.0


def test_write_report_end_to_end(tmp_path):
    write_store(tmp_path, "<script>alert(1)</script>")
    written = write_report(tmp_path, gpu_hour_usd="baseline=4")
    page = written.html.read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "vllm serve &lt;b&gt;m&lt;/b&gt;" in page
    assert "server exited &lt;script&gt;x&lt;/script&gt;" in page
    # 33 tokens per request, E2E 0.1 + 32 × TPOT: X = (0.1 + 2.56) / (0.1 + 1.92) at c = 4;
    # every pair alike, so the interval is the cell term alone: X · exp(± 1.96 × 0.035)
    assert written.headline == (
        "At T=0 vs baseline — eagle3-k3: enable it at c ≤ 4 (best +32 % [+23, +41] at c = 4)"
    )
    assert "eagle3-k3 on 1 GPU delivers" in page  # the cost line: 1 GPU vs 2
    assert (tmp_path / "figures" / "speedup.svg").exists()
    assert (tmp_path / "figures" / "acceptance_lengths.png").exists()


def test_missing_store(tmp_path):
    with pytest.raises(SpecwiseError, match=r"holds no results\.sqlite"):
        write_report(tmp_path)


def test_quality_verdicts_are_read(tmp_path):
    write_store(tmp_path, "x")
    rows = [
        {"arm": "eagle3-k3", "temperature": 0.0, "control": False, "verdict": "equivalent",
         "reason": "all 8 outputs identical <i>"},
        {"arm": "baseline", "temperature": 0.0, "control": True, "verdict": "equivalent",
         "reason": "A/A"},
    ]  # fmt: skip
    (tmp_path / "quality.json").write_text(json.dumps(rows))
    data = load_results(tmp_path)
    assert [(v.arm, v.verdict) for v in data.verdicts] == [
        ("eagle3-k3", "equivalent"),
        ("baseline (A/A control)", "equivalent"),
    ]
    page = write_report(tmp_path).html.read_text()
    assert "all 8 outputs identical &lt;i&gt;" in page and 'id="fig-verdicts"' in page
    (tmp_path / "quality.json").write_text("{not json")
    with pytest.raises(SpecwiseError, match="not a list of quality verdicts"):
        load_results(tmp_path)


def test_cli_report_and_compare(tmp_path):
    from typer.testing import CliRunner

    from specwise.cli import app

    a, b = tmp_path / "a", tmp_path / "b"
    write_store(a, "x")
    write_store(b, "y")
    runner = CliRunner()
    done = runner.invoke(app, ["report", str(a), "--gpu-hour-usd", "2.5"])
    assert done.exit_code == 0, done.output
    assert "eagle3-k3: enable it at c ≤ 4" in done.output and (a / "report.html").exists()
    done = runner.invoke(app, ["compare", str(a), str(b)])
    assert done.exit_code == 0, done.output
    assert (b / "compare" / "compare.html").exists()
    assert (b / "compare" / "figures" / "compare_speedup.png").exists()
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "results.sqlite" in " ".join(missing.output.split())
    bad = runner.invoke(app, ["report", str(a), "--gpu-hour-usd", "cheap"])
    assert bad.exit_code == 2 and "is not a price" in " ".join(bad.output.split())
