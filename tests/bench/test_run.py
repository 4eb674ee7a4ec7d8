"""`specwise bench` end to end against the fake server in a separate process."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from fake_openai import FAKE_KEY, serving_process
from typer.testing import CliRunner

from specwise.bench.client import RequestRecord
from specwise.bench.loadgen import LoadSpec
from specwise.bench.run import measure
from specwise.cli import app
from specwise.workloads.loaders import WorkloadRequest

HERE = Path(__file__).parent


@pytest.fixture
def fake_server():
    """A fake OpenAI server process; yields (base_url, process)."""
    with serving_process() as served:
        yield served


def _workload(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "w.jsonl"
    rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"hi {i}"}]} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_bench_command_sends_the_key_and_never_writes_it(tmp_path, fake_server, monkeypatch):
    url, _ = fake_server
    monkeypatch.setenv("SPECWISE_TEST_KEY", FAKE_KEY)
    out = tmp_path / "out"
    args = ["bench", "--url", url, "--model", "auth", "--workload", str(_workload(tmp_path))]
    args += ["--out", str(out), "--concurrency", "2", "--num-requests", "6", "--warmup", "2"]
    args += ["--api-key-env", "SPECWISE_TEST_KEY", "--temperature", "0", "--max-tokens", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert FAKE_KEY not in result.output
    records = [json.loads(x) for x in (out / "requests.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(r["ok"] for r in records)  # 401 unless the key was sent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["api_key_env"] == "SPECWISE_TEST_KEY"
    assert summary["warmup_requests"] == 2 and summary["metrics"]["successful"] == 6
    # Two /metrics scrapes: after warm-up (10, 30, 10, 40) and after the run (20, 60, 20, 80).
    assert summary["acceptance"]["acceptance_rate"] == pytest.approx(10 / 30)
    assert summary["acceptance"]["acceptance_length"] == pytest.approx(2.0)
    for path in out.rglob("*"):
        assert FAKE_KEY not in path.read_text(), path


def test_missing_key_variable_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SPECWISE_NOPE", raising=False)
    args = ["bench", "--url", "http://127.0.0.1:9", "--model", "m", "--workload"]
    args += [
        str(_workload(tmp_path)),
        "--out",
        str(tmp_path / "o"),
        "--api-key-env",
        "SPECWISE_NOPE",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "SPECWISE_NOPE" in result.output


def test_killed_server_gives_failed_records_not_a_hang(fake_server):
    url, proc = fake_server
    requests = [WorkloadRequest(id="q", messages=[{"role": "user", "content": "hi"}])]
    threading.Timer(0.5, proc.kill).start()
    t0 = time.monotonic()
    m = asyncio.run(
        measure(url, "ok", requests, LoadSpec(concurrency=4, num_requests=400), {}, progress=False)
    )
    assert time.monotonic() - t0 < 30
    assert len(m.records) == 400
    ok = [r for r in m.records if r.ok]
    failed = [r for r in m.records if not r.ok]
    assert ok and failed
    assert {r.error_kind for r in failed} <= {"connection", "malformed_sse"}
    assert m.summary["failed"] == len(failed)
    assert m.acceptance is None and m.acceptance_note  # /metrics died with the server
    assert all(isinstance(r, RequestRecord) for r in m.records)


def test_rate_mode_without_a_cap_and_on_record(fake_server):
    url, _ = fake_server
    requests = [WorkloadRequest(id="q", messages=[{"role": "user", "content": "hi"}])]
    load = LoadSpec(concurrency=None, rate=200, arrival="constant", num_requests=20, warmup=2)
    seen: list[RequestRecord] = []
    m = asyncio.run(measure(url, "ok", requests, load, {}, on_record=seen.append, progress=False))
    assert m.summary["successful"] == 20 and len(m.warmup) == 2
    assert len(seen) == 20 and all(r.ok for r in seen)  # measured requests only


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [("--api", "grpc", "chat or completions"), ("--extra", "{nope", "not valid JSON")],
)
def test_bad_options_are_one_sentence(tmp_path, flag, value, message):
    args = ["bench", "--url", "http://127.0.0.1:9", "--model", "m", "--workload"]
    args += [str(_workload(tmp_path)), "--out", str(tmp_path / "o"), flag, value]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output


def test_combine_joins_blocks_without_the_time_between_them():
    """Two blocks 100 s apart (other arms' turns between): span = 2 + 3 s, not 105 s; the
    counters add up; the hit rate is weighted by each block's prompt tokens."""
    from specwise.bench.client import RequestRecord
    from specwise.bench.run import Measurement, combine
    from specwise.servers.prometheus import Acceptance

    def block(start: float, e2e: float, out: int, prompt: int, hit: float, acc: Acceptance):
        r = RequestRecord(request_id=f"r{start}", ok=True, started_at=start, ttft_s=0.1,
                          e2e_s=e2e, output_tokens=out, prompt_tokens=prompt)  # fmt: skip
        r.extra["index"] = 0
        return Measurement([r], [], acc, None, {}, "num_requests", hit)

    a = Acceptance(drafts=4, draft_tokens=12, accepted=6, accepted_per_position=(3, 2, 1),
                   generated=20, requests=1)  # fmt: skip
    b = Acceptance(drafts=2, draft_tokens=6, accepted=1, accepted_per_position=(1,),
                   generated=10, requests=1)  # fmt: skip
    m = combine([block(0.0, 2.0, 20, 100, 0.5, a), block(102.0, 3.0, 10, 300, 0.9, b)])
    assert [r.extra["index"] for r in m.records] == [0, 1]
    assert m.summary["duration_s"] == pytest.approx(5.0)
    assert m.summary["output_tokens_per_s"] == pytest.approx(30 / 5.0)
    assert m.acceptance == Acceptance(6, 18, 7, (4, 2, 1), 30, 2)
    assert m.prefix_cache_hit_rate == pytest.approx((0.5 * 100 + 0.9 * 300) / 400)
    no_counters = block(200.0, 1.0, 5, 10, None, None)  # a window without spec counters
    assert combine([block(0.0, 2.0, 20, 100, 0.5, a), no_counters]).acceptance is None


def _bench_args(url: str, model: str, workload: Path, out: Path, *more: str) -> list[str]:
    return ["bench", "--url", url, "--model", model, "--workload", str(workload), "--out",
            str(out), *more]  # fmt: skip


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_a_rerun_never_writes_over_a_measured_run(tmp_path, fake_server):
    """Into a folder that holds a run: refused (exit 2, files untouched); with --overwrite the
    old run moves to superseded-<time>/ and the new one is written beside it."""
    url, _ = fake_server
    out, workload = tmp_path / "out", _workload(tmp_path, 4)
    assert CliRunner().invoke(app, _bench_args(url, "ok", workload, out)).exit_code == 0
    before = _files(out)
    down = _bench_args("http://127.0.0.1:9", "ok", workload, out)  # a server that is down
    result = CliRunner().invoke(app, down)
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert "Traceback" not in result.output and _files(out) == before
    result = CliRunner().invoke(app, [*down, "--overwrite"])  # a server fault: exit 1
    assert result.exit_code == 1 and "All 4 measured requests failed" in result.output
    (old,) = [p for p in out.iterdir() if p.is_dir()]
    assert old.name.startswith("superseded-")
    assert _files(old) == before  # the good run, intact
    new = json.loads((out / "summary.json").read_text())
    assert new["status"] == "complete" and new["metrics"]["successful"] == 0


def test_out_naming_a_file_is_one_sentence(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    args = _bench_args("http://127.0.0.1:9", "ok", _workload(tmp_path), target)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "is a file" in result.output
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("flag", ["--timeout", "--idle-timeout"])
@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_timeouts_must_be_positive_seconds(tmp_path, flag, value):
    args = _bench_args("http://127.0.0.1:9", "ok", _workload(tmp_path), tmp_path / "o")
    result = CliRunner().invoke(app, [*args, flag, value])
    assert result.exit_code == 2 and f"{flag} must be a positive number" in result.output
    assert not (tmp_path / "o").exists()


def test_an_interrupted_bench_leaves_a_labelled_partial_run(tmp_path, fake_server):
    """Ctrl-C mid-run: every finished request is in requests.jsonl once, and summary.json says
    "interrupted" with the metrics of exactly those records."""
    import signal
    import subprocess
    import sys

    url, _ = fake_server
    out, workload = tmp_path / "out", _workload(tmp_path, 4)
    cmd = [
        str(Path(sys.executable).with_name("specwise")),
        *_bench_args(url, "slow", workload, out),
    ]
    proc = subprocess.Popen(  # SIGINT as a terminal sends it, even from a background job
        [*cmd, "--num-requests", "40"],
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for a few finished requests (1.5 s each)
        path = out / "requests.jsonl"  # the folder comes a moment before the file
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    records = [json.loads(x) for x in (out / "requests.jsonl").read_text().splitlines()]
    ids = [r["extra"]["index"] for r in records]
    assert len(records) >= 2 and len(ids) == len(set(ids))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["finished_at"] is not None
    assert summary["metrics"]["requests"] == len(records)
    assert b"Traceback" not in stderr


def test_negative_usage_counts_fail_the_request_not_the_arithmetic(tmp_path, fake_server):
    """A server that reports completion_tokens = -1693: every record fails as bad_usage, the
    command says so and exits 1 (the server's fault), no negative tok/s anywhere."""
    url, _ = fake_server
    out = tmp_path / "out"
    result = CliRunner().invoke(app, _bench_args(url, "negusage", _workload(tmp_path), out))
    assert result.exit_code == 1 and "bad_usage" in result.output
    records = [json.loads(x) for x in (out / "requests.jsonl").read_text().splitlines()]
    assert all(r["error_kind"] == "bad_usage" and "-1693" in r["error_message"] for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["metrics"]["output_tokens_per_s"] or 0) >= 0
