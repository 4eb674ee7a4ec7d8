"""SIGKILL and Ctrl-C at seeded moments in `bench`, `sweep` and `judge` (fake servers on
127.0.0.1, no vLLM): afterwards every finished request or configuration is there exactly once,
the folder is consistent, and the same command finishes the work.

20 moments per command, drawn from random.Random(SEED) over the command's whole run (its start
included), alternating SIGKILL and SIGINT; a failure names its moment. Budget: ~4 minutes on
2 cores (each trial starts the CLI, ~1.5 s; a killed sweep is resumed to its end each time)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fake_openai import serving_process

SEED, TRIALS = 2026, 20
SPECWISE = str(Path(sys.executable).with_name("specwise"))


def moments(span_s: float) -> list[tuple[float, signal.Signals]]:
    rng = random.Random(SEED)
    sigs = (signal.SIGKILL, signal.SIGINT)
    return [(round(rng.uniform(0.05, span_s), 2), sigs[i % 2]) for i in range(TRIALS)]


def default_sigint() -> None:
    """A job started in the background inherits SIGINT ignored; Ctrl-C must reach the CLI."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(cmd: list[str], at_s: float, sig: signal.Signals) -> int:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_sigint
    )
    time.sleep(at_s)
    if proc.poll() is None:
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]
    return proc.returncode


@pytest.fixture(scope="module")
def fake_url():
    with serving_process() as (url, _):
        yield url


def records_once(path: Path) -> list[dict]:
    """Every line of a requests.jsonl a killed bench left: JSON records (a torn last line at
    most), each request index once."""
    lines = [x for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    good = []
    for i, line in enumerate(lines):
        try:
            good.append(json.loads(line))
        except ValueError:
            assert i == len(lines) - 1, f"line {i + 1} of {len(lines)} is torn"
    indices = [r["extra"]["index"] for r in good]
    assert len(indices) == len(set(indices)), "a record twice"
    return good


def test_bench_killed_at_any_moment_keeps_what_it_measured(tmp_path: Path, fake_url: str):
    workload = tmp_path / "w.jsonl"
    rows = [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"hi {i}"}]} for i in range(40)
    ]
    workload.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = {"records": 0, "interrupted": 0}  # the moments reached the measuring, not only start-up
    for n, (at_s, sig) in enumerate(moments(4.0)):
        out = tmp_path / f"b{n}"
        cmd = [SPECWISE, "bench", "--url", fake_url, "--model", "slowish", "--workload"]
        cmd += [str(workload), "--out", str(out), "--concurrency", "4", "--num-requests", "400"]
        where = f"moment {at_s} s {sig.name}"
        interrupt(cmd, at_s, sig)
        records = records_once(out / "requests.jsonl")
        seen["records"] += bool(records)
        summary_path = out / "summary.json"
        if summary_path.exists():  # replaced atomically: always whole
            summary = json.loads(summary_path.read_text())
            assert summary["status"] in ("running", "interrupted", "complete"), where
            if summary["status"] == "interrupted":
                seen["interrupted"] += 1
                assert summary["metrics"]["requests"] == len(records), where
        else:
            assert not records, where
    assert seen["records"] >= 5 and seen["interrupted"] >= 3, seen


def sweep_study(tmp_path: Path, url: str) -> Path:
    arms = [{"name": n, "engine": "external", "url": url, "served_model_name": "slowish"}
            for n in ("base", "spec")]  # fmt: skip
    fields = {"name": "k", "arms": arms, "concurrency": [1, 2], "temperature": [0],
              "requests": 8, "warmup": 0, "max_tokens": 8}  # fmt: skip
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def consistent_store(out: Path, where: str) -> set[str]:
    """The store is intact; each done configuration once, with all of its records."""
    path = out / "results.sqlite"
    if not path.exists():
        return set()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok", where
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "runs" not in tables:  # killed while the store was being made: nothing in it yet
            return set()
        rows = conn.execute("SELECT id, key, requests FROM runs WHERE status = 'done'").fetchall()
        keys = [k for _, k, _ in rows]
        assert len(keys) == len(set(keys)), where
        for run_id, key, n in rows:
            stored = conn.execute("SELECT count(*) FROM requests WHERE run_id = ?", (run_id,))
            assert stored.fetchone()[0] == n, f"{where}: {key}"
        return set(keys)
    finally:
        conn.close()


def test_sweep_killed_at_any_moment_resumes_to_every_configuration_once(
    tmp_path: Path, fake_url: str
):
    """Each moment on a fresh folder: kill, check the store, resume to the end, check again."""
    study = sweep_study(tmp_path, fake_url)
    cut_short = 0
    for n, (at_s, sig) in enumerate(moments(4.0)):
        where, out = f"moment {at_s} s {sig.name}", tmp_path / f"runs{n}"
        command = [SPECWISE, "sweep", str(study), "--out", str(out)]
        interrupt(command, at_s, sig)
        kept = consistent_store(out, where)
        cut_short += 0 < len(kept) < 4
        done = subprocess.run(command, capture_output=True)
        assert done.returncode == 0, f"{where}: {done.stderr.decode()[-2000:]}"
        final = consistent_store(out, f"{where}, resumed")
        assert kept <= final and len(final) == 4, where
    assert cut_short >= 3  # the moments fell inside the measuring, not only around it


def test_judge_killed_at_any_moment_keeps_its_cache_whole(tmp_path: Path):
    sys.path.insert(0, str(Path(__file__).parent / "quality"))
    from bench_dirs import write_dir
    from fake_judge import fake_judge

    from specwise.workloads.commerce import generate, write_jsonl

    requests = generate(24, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    base = write_dir(tmp_path / "base", workload, {r.id: f"answer {r.id}" for r in requests})
    cand = write_dir(tmp_path / "cand", workload, {r.id: f"GOOD {r.id}" for r in requests})
    with fake_judge() as url:
        cmd = [SPECWISE, "judge", str(cand), "--baseline", str(base), "--judge-url", url]
        cmd += ["--judge-model", "prefers-good", "--concurrency", "2"]
        for at_s, sig in moments(4.0):
            where = f"moment {at_s} s {sig.name}"
            interrupt(cmd, at_s, sig)
            cache = cand / "judgments.jsonl"
            lines = cache.read_text().splitlines() if cache.exists() else []
            for i, line in enumerate(lines):
                try:
                    json.loads(line)
                except ValueError:
                    assert i == len(lines) - 1, f"{where}: line {i + 1} torn"
            if (cand / "quality.json").exists():
                json.loads((cand / "quality.json").read_text())
        done = subprocess.run(cmd, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    (row,) = json.loads((cand / "quality.json").read_text())
    assert row["judge"]["win"] == 24  # every pair judged once the run could finish
