"""Study validation, the matrix, and the sweep against a fake OpenAI server (no vLLM)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml
from fake_openai import serving_process

from specwise import arm_server, store, sweep
from specwise.dry_run import dry_run
from specwise.errors import SpecwiseError
from specwise.lock import hold_lock
from specwise.run import run_study, sweep_study
from specwise.servers import control, reap
from specwise.servers.launch import Server, free_port
from specwise.study import Study, expand, load_study, study_hash
from specwise.study_requests import workload_requests as study_requests

REPO = Path(__file__).resolve().parents[1]
FAKE = REPO / "tests" / "bench" / "fake_openai.py"


def write_study(path: Path, **fields) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def external_arms(url: str, *names: str) -> list[dict]:
    return [{"name": n, "engine": "external", "url": url, "served_model_name": "ok"} for n in names]


def test_paper_study_is_the_reference_design() -> None:
    study = load_study(REPO / "studies" / "paper.yaml")
    matrix = expand(study)
    assert len(matrix) == 40
    assert [a.name for a in study.arms] == [
        "baseline-2gpu-tp2",
        "baseline-1gpu",
        "eagle3-k3",
        "eagle3-k5",
    ]
    assert study.concurrency == [1, 4, 8, 16, 32] and study.temperature == [0, 0.5]
    assert len({c.key for c in matrix}) == 40
    commands = {a.name: arm_server.display_command(study, a) for a in study.arms}
    assert "--tensor-parallel-size 2" in commands["baseline-2gpu-tp2"]
    assert "--tensor-parallel-size" not in commands["baseline-1gpu"]
    assert '"num_speculative_tokens": 3' in commands["eagle3-k3"]
    assert '"num_speculative_tokens": 5' in commands["eagle3-k5"]
    assert all("VLLM_SERVER_DEV_MODE=1" in c for c in commands.values())  # prefix-cache reset


def test_quick_study_resolves_the_head_against_its_own_directory() -> None:
    study = load_study(REPO / "studies" / "quick.yaml")
    assert len(expand(study)) == 8  # the first look of 4 arms x 2 cells
    assert study.schedule == "interleaved" and study.adaptive_sampling
    assert study.prefix_cache == "warm-shared"
    arms = {a.name: a for a in study.arms}
    assert set(arms) == {"baseline", "ngram-tuned", "suffix-warm", "eagle3-ctxft-k3"}
    assert arms["suffix-warm"].server_warmup == 16 and study.warmup_pool == 16
    # both measure the tuned n-gram schedule past the 82 draws of the study it was tuned on
    tuned = load_study(REPO / "studies" / "tuned.yaml")
    assert tuned.workload.skip == study.workload.skip == 82 and len(expand(tuned)) == 6
    cpu = load_study(REPO / "studies" / "cpu.yaml")
    assert len(expand(cpu)) == 30  # 5 arms (the eagle3 arm's two k) x 6 cells
    assert [a.name for a in cpu.arms] == [
        "baseline",
        "eagle3-k3",
        "eagle3-k5",
        "ngram-k3",
        "suffix",
    ]
    head = arms["eagle3-ctxft-k3"].speculative_config["model"]  # type: ignore[index]
    assert head == str(REPO / "heads" / "smollm2-commerce-eagle3-ctxft")
    assert all(a.model == "smollm2" and "--enforce-eager" in a.extra_args for a in study.arms)
    assert arms["ngram-tuned"].env == {"VLLM_CPU_KVCACHE_SPACE": "2"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"arms": [{"name": "a", "engine": "tgi"}]}, "`arms.0 (a).engine`: Input should be 'vllm'"),
        ({"arms": [{"name": "a"}], "concurency": [1]}, "`concurency`: Extra inputs"),
        ({"arms": [{"name": "a"}], "baseline": "b"}, "baseline 'b' is not an arm; use one of"),
        ({"arms": [{"name": "a"}, {"name": "a"}]}, "arm names must be unique"),
        ({"arms": [{"name": "a"}], "concurrency": [1, 4], "requests": {1: 3}}, "concurrency [4]"),
        ({"arms": [{"name": "a"}], "temperature": [-1]}, "temperatures must be >= 0"),
        ({"arms": []}, "`arms`: List should have at least 1 item"),
        ({"arms": [{"name": "a"}], "workload": {"split": "dev"}}, "'all', 'train' or 'eval'"),
        ({"arms": [{"name": "x", "engine": "external"}]}, "needs `url`"),
    ],
)
def test_invalid_study_names_the_field_and_what_is_allowed(
    tmp_path: Path, fields: dict, expected: str
) -> None:
    with pytest.raises(SpecwiseError) as info:
        load_study(write_study(tmp_path / "s.yaml", **fields))
    message = str(info.value)
    assert expected in message and "fix it and run again" in message
    assert len(message.splitlines()) == 1


def test_relative_paths_only_with_dot_prefix(tmp_path: Path) -> None:
    spec = {"method": "eagle3", "model": "./head", "num_speculative_tokens": 3}
    arms = [
        {"name": "a", "model": "org/model", "speculative_config": spec},
        {"name": "b", "model": "../m"},
    ]
    study = load_study(write_study(tmp_path / "s.yaml", arms=arms))
    assert study.arms[0].model == "org/model"
    assert study.arms[0].speculative_config["model"] == str(tmp_path / "head")  # type: ignore[index]
    assert study.arms[1].model == str(tmp_path.parent / "m")


def test_hash_ignores_formatting_and_keys_survive_added_arms(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("# a comment\narms:\n  - {name: a}\nconcurrency: [1, 2]\n")
    two = write_study(tmp_path / "two.yaml", concurrency=[1, 2], arms=[{"name": "a"}])
    assert study_hash(load_study(one)) == study_hash(load_study(two))
    two_arms = [{"name": "a"}, {"name": "b"}]
    more = load_study(write_study(tmp_path / "3.yaml", concurrency=[1, 2], arms=two_arms))
    assert study_hash(more) != study_hash(load_study(two))
    assert [c.key for c in expand(load_study(two))] == [c.key for c in expand(more)][:2]
    four = write_study(tmp_path / "4.yaml", concurrency=[1, 2], arms=[{"name": "a"}], max_tokens=7)
    changed = load_study(four)
    assert not {c.key for c in expand(changed)} & {c.key for c in expand(more)}


def test_matrix_order_alternates_arms_between_repeats_and_draws_are_disjoint() -> None:
    study = Study.model_validate(
        {
            "arms": [{"name": "a"}, {"name": "b"}],
            "concurrency": [1, 4],
            "temperature": [0, 0.5],
            "repeats": 2,
            "requests": {1: 3, 4: 8},
        }
    )
    matrix = expand(study)
    cells = [(c.arm.name, c.temperature, c.concurrency, c.repeat, c.requests) for c in matrix]
    assert len(cells) == 16
    assert cells[:5] == [("a", 0, 1, 0, 3), ("a", 0, 4, 0, 8), ("a", 0.5, 1, 0, 3),
                         ("a", 0.5, 4, 0, 8), ("b", 0, 1, 0, 3)]  # fmt: skip
    # ABBA: repeat 0 measures a then b, repeat 1 b then a
    assert [c[0] for c in cells if c[3] == 0] == ["a"] * 4 + ["b"] * 4
    assert [c[0] for c in cells if c[3] == 1] == ["b"] * 4 + ["a"] * 4
    assert [c.position for c in matrix] == list(range(16))
    # every cell has its own slice after the warm-up pool; both arms get the same slice
    slices = {(c.temperature, c.concurrency, c.repeat): (c.offset, c.requests) for c in matrix}
    assert all(
        (c.offset, c.requests) == slices[(c.temperature, c.concurrency, c.repeat)] for c in matrix
    )
    spans = [range(o, o + n) for o, n in slices.values()]
    taken = [i for span in spans for i in span]
    assert len(taken) == len(set(taken)) == 2 * (3 + 8) * 2  # disjoint, nothing skipped
    assert min(taken) == study.warmup_pool == 2 and study.requests_needed == 2 + len(taken)


def test_a_file_too_short_for_disjoint_draws_is_refused(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"r{i}", "messages": [{"role": "user", "content": "hi"}]})
             for i in range(10)]  # fmt: skip
    (tmp_path / "w.jsonl").write_text("\n".join(lines) + "\n")
    path = write_study(
        tmp_path / "s.yaml", arms=[{"name": "a"}], workload={"file": "./w.jsonl"},
        concurrency=[1, 2], requests=4,
    )  # fmt: skip
    assert len(study_requests(load_study(path))) == 10  # pool 2 + 4 + 4: just enough
    path = write_study(
        tmp_path / "s.yaml", arms=[{"name": "a"}], workload={"file": "./w.jsonl"},
        concurrency=[1, 2], requests=5,
    )  # fmt: skip
    with pytest.raises(SpecwiseError, match="holds 10 requests, but this study needs 12"):
        study_requests(load_study(path))
    assert not (tmp_path / "out").exists()


def test_workload_skip_gives_draws_the_earlier_study_never_sent(tmp_path: Path) -> None:
    first = Study.model_validate({"arms": [{"name": "a"}], "concurrency": [1], "requests": 4})
    later = Study.model_validate(
        {"arms": [{"name": "a"}], "concurrency": [1], "requests": 4,
         "workload": {"skip": first.requests_needed}}
    )  # fmt: skip
    sent = [r.id for r in study_requests(first)]
    fresh = [r.id for r in study_requests(later)]
    assert len(fresh) == later.requests_needed and not set(sent) & set(fresh)
    longer = [r.id for r in study_requests(first.model_copy(update={"requests": 12}))]
    assert longer[: len(sent)] == sent and fresh == longer[len(sent) : len(sent) + len(fresh)]
    lines = [json.dumps({"id": f"r{i}", "messages": [{"role": "user", "content": "hi"}]})
             for i in range(10)]  # fmt: skip
    (tmp_path / "w.jsonl").write_text("\n".join(lines) + "\n")
    path = write_study(
        tmp_path / "s.yaml", arms=[{"name": "a"}], workload={"file": "./w.jsonl", "skip": 4},
        concurrency=[1], requests=5,
    )  # fmt: skip
    with pytest.raises(SpecwiseError, match="holds 6 requests after the 4 skipped"):
        study_requests(load_study(path))


def test_a_study_written_before_prefix_cache_still_loads() -> None:
    old = {"arms": [{"name": "a"}], "reset_prefix_cache": False}
    assert Study.model_validate(old).prefix_cache == "as-is"
    assert Study.model_validate(old | {"reset_prefix_cache": True}).prefix_cache == "cold"
    assert Study.model_validate({"arms": [{"name": "a"}]}).prefix_cache == "warm-shared"


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with serving_process() as (url, _):
        yield url


def small_study(tmp_path: Path, url: str, **more) -> Path:
    fields = {
        "name": "t",
        "arms": external_arms(url, "base", "spec"),
        "concurrency": [1, 2],
        "temperature": [0, 0.5],
        "requests": 3,
        "warmup": 1,
        "max_tokens": 8,
    }
    return write_study(tmp_path / "study.yaml", **(fields | more))


def test_sweep_measures_everything_once_then_resumes_without_sending(
    tmp_path: Path, fake_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = small_study(tmp_path, fake_url), tmp_path / "out"
    result = sweep_study(path, out)
    assert (result.configurations, result.done, result.failed, result.skipped) == (8, 8, 0, 0)
    conn = store.connect(store.store_path(out))
    runs = store.runs(conn)
    assert [r["position"] for r in runs] == list(range(8))
    by_cell: dict[tuple, list[str]] = {}
    for run in runs:  # each cell its own requests, the same ones for both arms
        ids = [r["request_id"] for r in store.load_records(conn, run["id"])]
        assert by_cell.setdefault((run["concurrency"], run["temperature"]), ids) == ids
        assert run["acceptance"]["drafts"] == 10  # the fake's counters over the window
        assert run["prefix_cache"] == "as-is"  # external arms cannot reset: flagged
        assert run["prefix_cache_hit_rate"] == pytest.approx(0.25)
    measured = [i for ids in by_cell.values() for i in ids]
    assert len(measured) == len(set(measured)) == 12
    assert not {f"commerce-eval-s1-{i:05d}" for i in range(2)} & set(measured)  # the pool
    (count,) = conn.execute("SELECT count(*) FROM requests").fetchone()
    assert count == 24
    conn.close()
    path = small_study(tmp_path, fake_url, quality={"llm_judge": False})
    again = run_study(path, out, force=True)  # the main job: resumes, checks, then the report
    assert (again.skipped, again.done) == (8, 0)
    printed = capsys.readouterr().out
    assert "report: " in printed
    verdicts = json.loads((out / "quality.json").read_text())
    assert {(v["arm"], v["temperature"]) for v in verdicts} >= {("spec", 0.0), ("spec", 0.5)}
    assert "Quality verdicts" in (out / "report.md").read_text()


def test_server_warmup_goes_once_before_each_servers_first_configuration(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = small_study(tmp_path, fake_url, server_warmup=2, warmup=1, temperature=[0])
    measured, seen = sweep.run_configuration, []

    def spy(study, config, requests, server, server_id, conn, progress, warmup):
        seen.append((config.arm.name, config.concurrency, warmup))
        return measured(study, config, requests, server, server_id, conn, progress, warmup)

    monkeypatch.setattr(sweep, "run_configuration", spy)
    assert sweep_study(path, tmp_path / "out").done == 4
    assert seen == [("base", 1, 3), ("base", 2, 1), ("spec", 1, 3), ("spec", 2, 1)]
    conn = store.connect(store.store_path(tmp_path / "out"))
    assert [r["summary"]["successful"] for r in store.runs(conn)] == [3, 3, 3, 3]
    conn.close()


def test_a_failing_judge_keeps_the_measurements_and_the_report(
    tmp_path: Path, fake_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    judge = {"judge_url": fake_url, "judge_api_key_env": "SPECWISE_TEST_UNSET_KEY"}
    path = small_study(tmp_path, fake_url, quality=judge)  # its key is missing: the step fails
    out = tmp_path / "out"
    result = run_study(path, out)
    assert result.done == 8
    printed = " ".join(capsys.readouterr().out.split())
    assert "quality step not done:" in printed and f"specwise judge {out}" in printed
    assert (out / "report.html").exists() and not (out / "quality.json").exists()


def test_a_second_sweep_on_the_same_directory_is_refused(tmp_path: Path, fake_url: str) -> None:
    out = tmp_path / "out"
    lock = hold_lock(out)
    with pytest.raises(SpecwiseError, match=rf"Another sweep \(pid {os.getpid()}\)"):
        sweep_study(small_study(tmp_path, fake_url), out)
    lock.close()
    assert sweep_study(small_study(tmp_path, fake_url), out).done == 8


def test_changed_study_is_refused_unless_forced(
    tmp_path: Path, fake_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    sweep_study(small_study(tmp_path, fake_url), out)
    changed = small_study(tmp_path, fake_url, concurrency=[1, 3])
    with pytest.raises(SpecwiseError, match="--force"):
        sweep_study(changed, out)
    result = sweep_study(changed, out, force=True)
    assert (result.skipped, result.done) == (4, 4)  # c=1 kept, c=3 measured, c=2 set aside
    printed = " ".join(capsys.readouterr().out.split())
    assert "--force: 4 run(s) no longer in the study kept in the store as superseded" in printed
    assert "base c=2 T=0 (done, " in printed and "spec c=2 T=0 (done, " in printed
    conn = store.connect(store.store_path(out))
    assert sorted({r["concurrency"] for r in store.runs(conn)}) == [1, 3]
    assert {r["concurrency"] for r in store.runs(conn, superseded=True)} == {2}
    conn.close()


def test_a_missing_head_is_refused_before_anything_is_written(
    tmp_path: Path, fake_url: str
) -> None:
    spec = {"method": "eagle3", "model": "./no-head", "num_speculative_tokens": 3}
    arms = [{"name": "eagle", "speculative_config": spec}, *external_arms(fake_url, "base")]
    path = small_study(tmp_path, fake_url, arms=arms, baseline="base")
    with pytest.raises(SpecwiseError, match=r"1 problem\(s\) before anything runs — arm 'eagle': "):
        sweep_study(path, tmp_path / "out")
    assert not store.store_path(tmp_path / "out").exists()


def test_a_head_gone_after_the_preflight_fails_its_arm_and_the_sweep_moves_on(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from specwise import preflight

    monkeypatch.setattr(preflight, "require", lambda study: None)  # it passed; then it went
    spec = {"method": "eagle3", "model": "./no-head", "num_speculative_tokens": 3}
    arms = [{"name": "eagle", "speculative_config": spec}, *external_arms(fake_url, "base")]
    path = small_study(tmp_path, fake_url, arms=arms, baseline="base")
    with pytest.raises(SpecwiseError, match="4 of 8 configurations failed"):
        sweep_study(path, tmp_path / "out")
    conn = store.connect(store.store_path(tmp_path / "out"))
    runs = store.runs(conn)
    failed = [r for r in runs if r["status"] == "failed"]
    assert {r["arm"] for r in failed} == {"eagle"} and len(failed) == 4
    assert "no-head does not exist" in failed[0]["reason"]
    assert {r["status"] for r in runs if r["arm"] == "base"} == {"done"}
    conn.close()


def test_prefix_cache_reset_that_the_server_refuses_fails_clearly(fake_url: str) -> None:
    arm = Study.model_validate({"arms": [{"name": "v"}]}).arms[0]
    server = Server(arm, fake_url)  # a vLLM arm whose server has no reset route
    with pytest.raises(SpecwiseError, match="set `prefix_cache: as-is` for servers without it"):
        control.reset_prefix_cache(server)


def test_warm_ups_come_from_the_pool_and_cold_resets_after_them(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(sweep, "reset_prefix_cache", lambda server: calls.append("reset"))
    monkeypatch.setattr(sweep, "prefix_policy", lambda study, arm: "cold")
    real = sweep.measure

    async def spy(*args, **kwargs):
        measured = [r.id for r in args[2]]
        pool = [r.id for r in kwargs["warmup_requests"]]
        assert not set(measured) & set(pool)
        calls.append("measure")
        return await real(*args, **kwargs)

    monkeypatch.setattr(sweep, "measure", spy)
    path = small_study(tmp_path, fake_url, concurrency=[1], temperature=[0])
    assert sweep_study(path, tmp_path / "out").done == 2
    assert calls == ["measure", "reset", "measure", "reset"]  # cold: reset after the warm-ups


def test_server_dying_mid_arm_fails_the_rest_of_its_configurations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real process (the fake server) as the arm's server, killed after its first run."""
    arms = [{"name": "a", "model": "m"}, {"name": "b", "model": "m"}]
    path = write_study(
        tmp_path / "s.yaml",
        arms=arms,
        concurrency=[1, 2],
        requests=2,
        warmup=0,
        prefix_cache="as-is",
    )

    def fake_start(arm, log_dir, timeout_s=None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen([sys.executable, str(FAKE), str(port)])
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        arm = arm.model_copy(update={"served_model_name": "ok"})
        return Server(arm, f"http://127.0.0.1:{port}", None, log_dir / "x.log", proc, [])

    measured = sweep.run_configuration

    def run_then_kill(study, config, requests, server, *rest):
        status = measured(study, config, requests, server, *rest)
        if config.arm.name == "a":
            server.process.kill()
            server.process.wait()
        return status

    monkeypatch.setattr(sweep, "start", fake_start)
    monkeypatch.setattr(sweep, "run_configuration", run_then_kill)
    monkeypatch.setattr(sweep.preflight, "require", lambda study: None)  # model "m" is a fake
    with pytest.raises(SpecwiseError, match="1 of 4 configurations failed"):
        sweep_study(path, tmp_path / "out")
    conn = store.connect(store.store_path(tmp_path / "out"))
    status = [(r["arm"], r["concurrency"], r["status"]) for r in store.runs(conn)]
    assert status == [("a", 1, "done"), ("a", 2, "failed"), ("b", 1, "done"), ("b", 2, "done")]
    assert "server exited with status -9" in store.runs(conn)[1]["reason"]
    conn.close()
    monkeypatch.setattr(sweep, "run_configuration", measured)
    again = sweep_study(path, tmp_path / "out")  # the failed configuration is retried
    assert (again.skipped, again.done) == (3, 1)


def test_leftover_servers_are_reaped_only_when_they_still_match(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.sqlite")
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    procs = [subprocess.Popen(sleeper, start_new_session=True) for _ in range(2)]
    for i, proc in enumerate(procs):
        command = sleeper if i == 0 else [*sleeper, "other"]  # the second no longer matches
        info = {"pid": proc.pid, "pgid": proc.pid, "command": command}
        info["process_started_at"] = psutil.Process(proc.pid).create_time()
        if i == 1:
            info["pgid"] = -1  # and is in no recorded group
        store.add_server(conn, "arm", info)
    assert reap.reap_leftovers(conn) == 1
    assert procs[0].wait(timeout=10) is not None
    assert procs[1].poll() is None
    assert store.unstopped_servers(conn) == []
    procs[1].kill()
    procs[1].wait()


def test_dry_run_prints_the_matrix_and_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """paper.yaml on a machine without the 8B model or its head: the matrix, the commands, and
    exactly those two problems; vLLM's own parser accepts every arm's command line."""
    with pytest.raises(SpecwiseError, match=r"2 problem\(s\) found before anything ran"):
        dry_run(load_study(REPO / "studies" / "paper.yaml"))
    text = capsys.readouterr().out
    assert "paper: 40 configurations" in text
    assert "vllm.entrypoints.openai.api_server" in text and "eagle3-k5" in text
    assert json.dumps({"method": "eagle3"})[:-1] in text
    problems = [line for line in text.splitlines() if line.startswith("problem · ")]
    assert len(problems) == 2, problems
    assert problems[0].startswith("problem · arms 'baseline-2gpu-tp2', 'baseline-1gpu', ")
    assert "'nvidia/Llama-3.1-Nemotron-Nano-8B-v1' is not in the local Hugging Face cache" in text
    assert problems[1].startswith("problem · arms 'eagle3-k3', 'eagle3-k5': speculative_config.")
    assert "nemotron-nano-8b-commerce-eagle3 does not exist" in problems[1]
    accepted = "vLLM's argument parser accepts the command line of: baseline-2gpu-tp2, "
    assert accepted + "baseline-1gpu, eagle3-k3, eagle3-k5" in " ".join(text.split())
    dry_run(load_study(REPO / "studies" / "quick.yaml"))
    text = capsys.readouterr().out
    assert "quick: 8 configurations" in text and "8 (auto, ≤ 24)" in text
    assert "preflight: no problem found" in text


def test_preflight_names_every_problem_with_its_arm(tmp_path: Path) -> None:
    """A planted bad flag (vLLM's parser), an unknown method, a head for another model, an
    unset key and a missing workload file, all in one report."""
    from specwise import preflight

    head = tmp_path / "head"
    head.mkdir()
    (head / "config.json").write_text(json.dumps({"transformer_layer_config": {"hidden_size": 7}}))
    study = Study.model_validate({
        "name": "p", "target": "smollm2", "baseline": "base",
        "arms": [
            {"name": "base", "extra_args": ["--no-such-flag"]},
            {"name": "odd", "speculative_config": {"method": "telepathy"}},
            {"name": "head", "speculative_config": {"method": "eagle3", "model": str(head),
                                                    "num_speculative_tokens": 3}},
            {"name": "ext", "engine": "external", "url": "http://127.0.0.1:9",
             "api_key_env": "SPECWISE_SURELY_UNSET"},
        ],
        "workload": {"file": str(tmp_path / "missing.jsonl")},
        "temperature": [0, 2.5],
    })  # fmt: skip
    found = preflight.check(study)
    text = {p.where: p.what for p in found.problems}
    assert "unrecognized arguments: --no-such-flag" in text["arm 'base'"]
    assert "method 'telepathy' is not one the installed vLLM knows" in text["arm 'odd'"]
    assert "eagle3" in text["arm 'odd'"] and "suffix" in text["arm 'odd'"]
    assert "hidden size 7, the target 576" in text["arm 'head'"]  # SmolLM2-135M: 576
    assert "names $SPECWISE_SURELY_UNSET, which is not set" in text["arm 'ext'"]
    assert "missing.jsonl does not exist" in text["workload"]
    assert [w.where for w in found.warnings] == ["temperature"]
    assert set(found.parsed) == {"odd", "head"}


def test_engine_dead_tells_a_healthy_server_from_a_dead_engine(
    tmp_path: Path, fake_url: str
) -> None:
    """vLLM's API server outlives a dead engine: the process runs on, /health fails."""
    from specwise.config import Arm

    arm = Arm(name="x", model="m")
    log = tmp_path / "x.log"
    log.write_text("RuntimeError: CPU Generator does not use offset\n")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        healthy = Server(arm, fake_url, process=proc, log_path=log)
        assert control.engine_dead(healthy) is None
        nowhere = f"http://127.0.0.1:{free_port()}"
        dead = Server(arm, nowhere, process=proc, log_path=log)
        reason = control.engine_dead(dead, tries=2, wait_s=0.1)
        assert reason and "stopped answering /health" in reason and "does not use offset" in reason
    finally:
        proc.kill()
        proc.wait()
    reason = control.engine_dead(Server(arm, fake_url, process=proc, log_path=log))
    assert reason and reason.startswith("server exited with status")
    assert control.engine_dead(Server(arm, "http://127.0.0.1:1")) is None  # external: no judgement


def test_a_dead_engine_fails_its_configurations_instead_of_recording_errors(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    arms = external_arms(fake_url, "base", "spec")
    arms[1]["served_model_name"] = "http500"  # every request of "spec" fails
    monkeypatch.setattr(sweep, "engine_dead", lambda server: "its engine died")
    out = tmp_path / "out"
    result = sweep.sweep(load_study(small_study(tmp_path, fake_url, arms=arms)), out)
    assert (result.done, result.failed) == (4, 4)
    conn = store.connect(store.store_path(out))
    failed = [r for r in store.runs(conn) if r["status"] == "failed"]
    assert {r["arm"] for r in failed} == {"spec"}
    assert all(r["reason"] == "its engine died" for r in failed)
    (count,) = conn.execute("SELECT count(*) FROM requests").fetchone()
    assert count == 4 * 3  # only the base arm's requests were stored
    conn.close()


def test_every_arm_gets_the_same_sampling_parameters_and_seed_null_sends_none() -> None:
    study = Study(arms=[{"name": "a"}, {"name": "b"}], temperature=[0.5], repeats=2, max_tokens=9)
    params = {(c.arm.name, c.repeat): sweep.sampling_params(study, c) for c in expand(study)}
    assert params[("a", 1)] == params[("b", 1)] == {"temperature": 0.5, "seed": 1, "max_tokens": 9}
    unseeded = study.model_copy(update={"seed": None})
    assert all("seed" not in sweep.sampling_params(unseeded, c) for c in expand(unseeded))
