"""Bad input ends in one sentence and exit status 2, never a traceback, and writes nothing.

No server is needed: every case fails before a request would be sent (bench's URL is a closed
port on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specwise.cli import app

CLOSED = "http://127.0.0.1:9"

STUDY = """name: bad
target: smollm2
arms: [{name: baseline}]
workload: {generator: commerce}
"""


def one_sentence(result, code: int, fragment: str) -> None:
    text = result.output
    assert result.exit_code == code, text
    assert "".join(fragment.split()) in "".join(text.split()), text  # rich wraps long lines
    assert "Traceback" not in text and text.strip().startswith("error:"), text


def bench_args(workload: Path, out: Path, url: str = CLOSED) -> list[str]:
    """`specwise bench` against a closed port: every case fails before a request is sent."""
    return ["bench", "--url", url, "--model", "m", "--workload", str(workload), "--out", str(out)]


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps({"id": "q", "messages": [{"role": "user", "content": "hi"}]}) + "\n")
    return path


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--rate", "nan"], "rate must be a finite number > 0"),
        (["--rate", "-1"], "rate must be a finite number > 0"),
        (["--rate", "inf"], "rate must be a finite number > 0"),
        (["--duration", "-5"], "duration must be a finite number > 0"),
        (["--duration", "nan"], "duration must be a finite number > 0"),
        (["--temperature", "-3"], "--temperature must be a finite number >= 0"),
        (["--temperature", "nan"], "--temperature must be a finite number >= 0"),
        (["--slo-ttft-ms", "-1"], "--slo-ttft-ms must be a positive number"),
        (["--slo-tpot-ms", "0"], "--slo-tpot-ms must be a positive number"),
        (["--slo-tpot-ms", "inf"], "--slo-tpot-ms must be a positive number"),
        (["--extra", "[1]"], "--extra must be a JSON object"),
        (["--api", "grpc"], "--api 'grpc' is unknown"),
    ],
)
def test_bench_numbers_and_choices(tmp_path: Path, workload: Path, flags, fragment) -> None:
    out = tmp_path / "out"
    args = bench_args(workload, out)
    one_sentence(CliRunner().invoke(app, [*args, *flags]), 2, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ("temperature: [.nan]", "field `temperature.0`: Input should be a finite number"),
        ("temperature: [.inf]", "field `temperature.0`: Input should be a finite number"),
        ("temperature: [-1]", "temperatures must be >= 0"),
        ("practical_margin: .nan", "field `practical_margin`: Input should be a finite number"),
        ("concurrency: [0]", "concurrency levels must be >= 1"),
    ],
)
def test_study_numbers_must_be_finite(tmp_path: Path, field: str, fragment: str) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(STUDY + field + "\n")
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["sweep", str(study), "--dry-run", "--out", str(out)])
    one_sentence(result, 2, fragment)
    assert not out.exists()


def write_good_store(out: Path) -> None:
    """A real store of a few pages: one study, one finished run of 40 records."""
    from specwise import store
    from specwise.bench import metrics
    from specwise.bench.client import RequestRecord

    conn = store.connect(store.store_path(out))
    spec = {"name": "s", "baseline": "baseline", "arms": [{"name": "baseline"}],
            "concurrency": [1], "temperature": [0.0]}  # fmt: skip
    store.bind_study(conn, "s", "abc", spec, set())
    recs = [RequestRecord(f"r{i}", ok=True, started_at=1000.0 + i, ttft_s=0.1, e2e_s=1.0,
                          output_tokens=33, text="an answer " * 40, extra={"index": i})
            for i in range(40)]  # fmt: skip
    run = {"key": "baseline1", "position": 0, "arm": "baseline", "concurrency": 1,
           "temperature": 0.0, "repeat": 0, "status": "done", "requests": len(recs),
           "summary": metrics.summarize(recs)}  # fmt: skip
    store.save_run(conn, run, [r.to_dict() for r in recs], {})
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "random bytes":
        path.write_bytes(bytes((i * 131 + 7) % 256 for i in range(len(data))))
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "pages overwritten":  # header intact, the b-tree pages after it garbage
        path.write_bytes(data[:4096] + b"\xa5" * (len(data) - 4096))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "a directory":
        path.unlink()
        path.mkdir()


DAMAGES = ["random bytes", "truncated", "pages overwritten", "empty", "a directory"]
READERS = [["report"], ["export"], ["judge", "--no-llm"], ["tune"], ["compare", "GOOD"]]


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_damaged_store_is_named_and_left_as_it_is(tmp_path: Path, how: str, command) -> None:
    out, good = tmp_path / "runs", tmp_path / "good"
    write_good_store(out)
    write_good_store(good)
    path = out / "results.sqlite"
    damage(path, how)
    before = None if path.is_dir() else path.read_bytes()
    args = [command[0], str(out), *(str(good) if a == "GOOD" else a for a in command[1:])]
    one_sentence(CliRunner().invoke(app, args), 2, "results.sqlite")
    assert (None if path.is_dir() else path.read_bytes()) == before


@pytest.mark.parametrize("how", [d for d in DAMAGES if d != "empty"])
@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "sweep"])
def test_a_sweep_into_a_damaged_store_stops_before_it(tmp_path: Path, how: str, dry) -> None:
    out = tmp_path / "runs"
    write_good_store(out)
    path = out / "results.sqlite"
    damage(path, how)
    before = None if path.is_dir() else path.read_bytes()
    study = tmp_path / "s.yaml"
    arms = f"arms: [{{name: baseline, engine: external, url: '{CLOSED}', served_model_name: m}}]"
    study.write_text(STUDY.replace("arms: [{name: baseline}]", arms))
    args = ["sweep", str(study), "--out", str(out), *(["--dry-run"] if dry else [])]
    one_sentence(CliRunner().invoke(app, args), 2, "results.sqlite")
    assert (None if path.is_dir() else path.read_bytes()) == before


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("127.0.0.1:8000", "needs http:// or https:// and a host"),
        ("ftp://127.0.0.1/", "needs http:// or https:// and a host"),
        ("http://[::1", "is not a URL"),
        ("http://127.0.0.1:99999", "is not a URL"),
        ("http://", "needs http:// or https:// and a host"),
    ],
)
def test_bench_urls(tmp_path: Path, workload: Path, url: str, fragment: str) -> None:
    out = tmp_path / "out"
    args = bench_args(workload, out, url)
    one_sentence(CliRunner().invoke(app, args), 2, fragment)
    assert not out.exists()


def test_bench_tokenizer_that_is_not_one(tmp_path: Path, workload: Path) -> None:
    out = tmp_path / "out"
    args = ["bench", "--url", CLOSED, "--model", "m", "--workload", str(workload), "--out"]
    args += [str(out), "--tokenizer", str(tmp_path / "nonexistent")]
    one_sentence(CliRunner().invoke(app, args), 2, "is not a tokenizer directory")
    assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "body", "fragment"),
    [
        ("text/html", b"<html><body>Sign in</body></html>", "answered text/html"),
        ("text/plain", b"\xff\xfe vllm:num_drafts 3", "that is not UTF-8"),
        ("text/plain", b"vllm:num_drafts{ 3 oops", "is not Prometheus text"),
    ],
)
def test_metrics_that_are_not_prometheus_text_are_a_note(kind, body, fragment) -> None:
    """An auth proxy's login page or bytes that are not text at /metrics: the run keeps going
    with acceptance n/a and the reason, never a traceback."""
    import asyncio
    import http.server
    import threading

    from specwise.bench.run import _snapshot

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        snap = asyncio.run(_snapshot(f"http://127.0.0.1:{server.server_port}", None))
    finally:
        server.shutdown()
    assert snap.spec is None and snap.cache is None
    assert snap.note and "".join(fragment.split()) in "".join(snap.note.split())


def _lines(*objs) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("w.jsonl", _lines({"messages": [{"role": "user", "content": 42}]}),
         "w.jsonl:1: a 'user' message has a int `content`"),
        ("w.jsonl", _lines({"messages": [{"role": "user"}]}),
         "w.jsonl:1: a 'user' message has no `content`"),
        ("w.jsonl", _lines({"messages": [{"role": "user", "content": [1, 2]}]}),
         "a 'user' message has a list `content`"),
        ("w.jsonl", _lines({"messages": [{"role": "user", "content": "hi"}]}, [1]),
         "w.jsonl:2: expected a JSON object"),
        ("w.jsonl", '{"messages": [\n', "w.jsonl:1: not JSON"),
        ("w.jsonl", "", "holds no requests"),
        ("w.json", json.dumps([{"messages": [{"role": "system", "content": None}]}]),
         "item 0: a 'system' message has no `content`"),
        ("w.csv", "a,b\n", "has an unknown suffix"),
    ],
)  # fmt: skip
def test_bench_workload_contents(tmp_path: Path, name: str, text: str, fragment: str) -> None:
    path, out = tmp_path / name, tmp_path / "out"
    path.write_text(text)
    args = bench_args(path, out)
    one_sentence(CliRunner().invoke(app, args), 2, fragment)
    assert not out.exists()


def test_a_tool_call_message_needs_no_content(tmp_path: Path) -> None:
    from specwise.workloads.loaders import load_workload

    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    parts = [{"type": "text", "text": "more"}]
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "content": "ok"},
        {"role": "user", "content": parts},
    ]
    path = tmp_path / "w.jsonl"
    path.write_text(_lines({"messages": messages}))
    assert len(load_workload(path)) == 1


@pytest.mark.parametrize("what", ["a directory", "not UTF-8", "missing"])
def test_bench_workload_files(tmp_path: Path, what: str) -> None:
    path, out = tmp_path / "w.jsonl", tmp_path / "out"
    if what == "a directory":
        path.mkdir()
    elif what == "not UTF-8":
        path.write_bytes(b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n')
    fragment = {"a directory": "is a directory", "not UTF-8": "is not UTF-8 text",
                "missing": "does not exist"}[what]  # fmt: skip
    args = bench_args(path, out)
    one_sentence(CliRunner().invoke(app, args), 2, fragment)
    assert not out.exists()


@pytest.mark.parametrize("what", ["a directory", "not UTF-8", "missing", "a list"])
def test_study_files(tmp_path: Path, what: str) -> None:
    path = tmp_path / "s.yaml"
    if what == "a directory":
        path.mkdir()
    elif what == "not UTF-8":
        path.write_bytes(STUDY.encode() + b"# caf\xe9\n")
    elif what == "a list":
        path.write_text("- a\n- b\n")
    fragment = {"a directory": "is a directory", "not UTF-8": "is not UTF-8 text",
                "missing": "does not exist", "a list": "must hold a mapping"}[what]  # fmt: skip
    for command in (["sweep", str(path), "--dry-run"], ["run", str(path)]):
        one_sentence(CliRunner().invoke(app, command), 2, fragment)
    assert not (tmp_path / "runs").exists()


def test_draft_eval_without_held_out_data(tmp_path: Path) -> None:
    args = ["draft", "eval", str(tmp_path / "head"), "--data", str(tmp_path / "nonexistent")]
    one_sentence(CliRunner().invoke(app, args), 2, "holds no hidden_states/")


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--api-key-env", "sk-live-abcdef123456"], "takes the NAME of an environment variable"),
        (["--api-key-env", "SPECWISE_UNSET_KEY"], "names $SPECWISE_UNSET_KEY, which is not set"),
    ],
)
def test_api_key_flags(tmp_path: Path, workload: Path, flags, fragment, monkeypatch) -> None:
    monkeypatch.delenv("SPECWISE_UNSET_KEY", raising=False)
    out = tmp_path / "out"
    args = bench_args(workload, out)
    result = CliRunner().invoke(app, [*args, *flags])
    one_sentence(result, 2, fragment)
    assert "abcdef123456" not in result.output  # a key passed by mistake is never echoed
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--judge-api-key-env", "--judge2-api-key-env"])
def test_judge_key_flags_refuse_a_value(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "runs"
    write_good_store(out)
    args = ["judge", str(out), "--judge-url", CLOSED, flag, "sk-live-abcdef123456"]
    if flag == "--judge2-api-key-env":
        args += ["--judge2-url", CLOSED]
    result = CliRunner().invoke(app, args)
    one_sentence(result, 2, "takes the NAME of an environment variable")
    assert "abcdef123456" not in result.output


def test_redact_masks_every_key() -> None:
    from specwise.secrets import redact

    text = "HTTP 401: bad header Authorization: Bearer sk-123456 (sk-123456)"
    assert redact(text, "sk-123456", None) == "HTTP 401: bad header Authorization: Bearer *** (***)"
    assert redact(None, "k") is None and redact("abc", "") == "abc"


@pytest.mark.parametrize("flag", ["--judge-url", "--judge2-url", "--probe-url"])
def test_judge_urls(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "runs"
    write_good_store(out)
    result = CliRunner().invoke(app, ["judge", str(out), flag, "127.0.0.1:8000"])
    one_sentence(result, 2, f"{flag} '127.0.0.1:8000' needs http:// or https://")


@pytest.mark.parametrize("where", ["last line", "middle line"])
def test_a_torn_requests_file_given_to_judge(tmp_path: Path, where: str) -> None:
    """A torn last line (a killed bench) is left out with a note; a bad line before the end is
    a damaged file: one sentence, exit 1, nothing written."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "quality"))
    from bench_dirs import write_dir

    from specwise.workloads.commerce import generate, write_jsonl

    requests = generate(4, 1)
    workload = write_jsonl(requests, tmp_path / "w.jsonl")
    texts = {r.id: f"answer {r.id}" for r in requests}
    base = write_dir(tmp_path / "base", workload, texts)
    cand = write_dir(tmp_path / "cand", workload, texts)
    path = base / "requests.jsonl"
    lines = path.read_text().splitlines()
    torn = lines[1][: len(lines[1]) // 2]
    lines = [*lines, torn] if where == "last line" else [lines[0], torn, *lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["judge", str(cand), "--baseline", str(base), "--no-llm"])
    text = " ".join(result.output.split())
    if where == "last line":
        assert result.exit_code == 0, result.output
        assert "requests.jsonl:5istorn(aninterruptedrun)" in "".join(text.split())
    else:
        one_sentence(result, 1, "requests.jsonl:2 is not a request record")
        assert not (cand / "quality.json").exists()


def test_a_sweep_with_a_missing_workload_writes_nothing_and_needs_no_force_after(tmp_path):
    """Preflight refuses it before the store exists; once the file is there the same --out
    measures without --force."""
    from fake_openai import serving_process

    traffic = tmp_path / "traffic.jsonl"
    study = tmp_path / "s.yaml"
    arms = "[{name: base, engine: external, url: 'URL', served_model_name: ok}]"
    text = STUDY.replace("arms: [{name: baseline}]", f"arms: {arms}").replace(
        "workload: {generator: commerce}", f"workload: {{file: '{traffic}'}}"
    )
    out = tmp_path / "runs"
    with serving_process() as (url, _):
        study.write_text(text.replace("URL", url) + "requests: 2\nconcurrency: [1]\n")
        result = CliRunner().invoke(app, ["sweep", str(study), "--out", str(out)])
        one_sentence(result, 2, "traffic.jsonl does not exist")
        assert not (out / "results.sqlite").exists()
        lines = [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(8)]
        traffic.write_text(_lines(*lines))
        result = CliRunner().invoke(app, ["sweep", str(study), "--out", str(out)])
        assert result.exit_code == 0, result.output


def test_an_unexpected_error_is_one_sentence_and_debug_shows_it(tmp_path: Path, monkeypatch):
    import specwise.results

    def broken(out, fmt):
        raise KeyError("a bug")

    monkeypatch.setattr(specwise.results, "export", broken)
    result = CliRunner().invoke(app, ["export", str(tmp_path)])
    one_sentence(result, 1, "specwise failed unexpectedly (KeyError: 'a bug')")
    assert "--debug" in result.output
    debug = CliRunner().invoke(app, ["--debug", "export", str(tmp_path)])
    assert isinstance(debug.exception, KeyError)


def test_a_sweep_starts_on_the_empty_store_a_killed_sweep_left(tmp_path: Path) -> None:
    """A sweep killed as it created results.sqlite leaves 0 bytes: nothing to lose, so the
    next sweep (and its dry run) starts there; readers still say the file is empty."""
    from fake_openai import serving_process

    out = tmp_path / "runs"
    out.mkdir()
    (out / "results.sqlite").write_bytes(b"")
    study = tmp_path / "s.yaml"
    with serving_process() as (url, _):
        arms = f"arms: [{{name: base, engine: external, url: '{url}', served_model_name: ok}}]"
        study.write_text(STUDY.replace("arms: [{name: baseline}]", arms) + "requests: 2\n")
        dry = CliRunner().invoke(app, ["sweep", str(study), "--dry-run", "--out", str(out)])
        assert dry.exit_code == 0, dry.output
        assert (out / "results.sqlite").read_bytes() == b""  # a dry run writes nothing
        one_sentence(CliRunner().invoke(app, ["export", str(out)]), 2, "it is empty")
        result = CliRunner().invoke(app, ["sweep", str(study), "--out", str(out)])
        assert result.exit_code == 0, result.output
