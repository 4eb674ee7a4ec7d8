"""Does a long `specwise bench` keep its memory flat? 100,000 requests at concurrency 256, 16
tokens each, against the fast server, with the client's resident memory sampled every 0.5 s.

    .venv/bin/python benchmarks/client_throughput/soak.py --requests 100000 --concurrency 256

The fast server runs pinned to core 1, the client to core 0 (as run.py). Records stream to
DIR/requests.jsonl as they finish and the run's metrics are kept as columns (metrics.Tally),
so after a start-up the RSS should stay flat: reported as the peak RSS after the first 10,000
requests over the RSS at 10,000 (target ≤ 1.10), with every error counted.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SPECWISE, cpu_model, free_port, start_server


class LineCounter:
    """Lines written to a growing file so far, reading only the bytes added since last time."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.lines = path, 0, 0

    def __call__(self) -> int:
        if self.path.exists():
            with self.path.open("rb") as f:
                f.seek(self.offset)
                new = f.read()
            self.offset += len(new)
            self.lines += new.count(b"\n")
        return self.lines


def sample_while_running(cmd, stdout, stderr, out: Path, samples: list, server) -> int:
    """Run the client; every 0.5 s its RSS and the records it has written."""
    try:
        proc = psutil.Popen(cmd, stdout=stdout, stderr=stderr)
        count_lines = LineCounter(out / "requests.jsonl")
        t0 = time.monotonic()
        while proc.poll() is None:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                break
            done = count_lines()
            samples.append({"t_s": round(time.monotonic() - t0, 2), "requests": done, "rss": rss})
            time.sleep(0.5)
        return proc.wait()
    finally:
        server.kill()


def soak(requests: int, concurrency: int, tokens: int, tmp: Path) -> dict:
    port = free_port()
    server = start_server(port, core=1)
    workload = tmp / "w.jsonl"
    workload.write_text(json.dumps({"id": "w", "messages": [{"role": "user", "content": "go"}]}))
    out = tmp / "soak"
    cmd = ["taskset", "-c", "0", SPECWISE, "bench", "--url", f"http://127.0.0.1:{port}"]
    cmd += ["--model", "fast", "--workload", str(workload), "--out", str(out)]
    cmd += ["--concurrency", str(concurrency), "--num-requests", str(requests)]
    cmd += ["--max-tokens", str(tokens)]
    samples = []
    with (tmp / "stdout").open("w") as stdout, (tmp / "stderr").open("w") as stderr:
        rc = sample_while_running(cmd, stdout, stderr, out, samples, server)
    summary = json.loads((out / "summary.json").read_text())
    m = summary["metrics"]
    after = [s for s in samples if s["requests"] >= 10_000]
    at_10k = after[0]["rss"] if after else None
    peak = max(s["rss"] for s in after) if after else None
    return {
        "exit_status": rc, "status": summary["status"], "requests": m["requests"],
        "successful": m["successful"], "failures_by_kind": m["failures_by_kind"],
        "duration_s": m["duration_s"], "requests_per_s": m["requests_per_s"],
        "rss_at_10k_mib": at_10k / 2**20 if at_10k else None,
        "rss_peak_after_10k_mib": peak / 2**20 if peak else None,
        "rss_growth_after_10k": peak / at_10k if at_10k else None,
        "samples": samples,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("soak.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(a.requests, a.concurrency, a.tokens, Path(tmp))
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = f"{cpu_model()}, Python {platform.python_version()}"
    result |= {"command": " ".join(sys.argv), "date": date, "machine": machine}
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    keys = ("exit_status", "successful", "requests", "failures_by_kind", "requests_per_s")
    print({k: result[k] for k in keys})
    at, peak = result["rss_at_10k_mib"], result["rss_peak_after_10k_mib"]
    print(
        f"RSS at 10k {at:.1f} MiB, peak after {peak:.1f} MiB, ×{result['rss_growth_after_10k']:.3f}"
    )


if __name__ == "__main__":
    main()
