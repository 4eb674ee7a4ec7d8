"""Adaptive sampling and the interleaved schedule: looks, stop reasons, resume (fake server)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from fake_openai import serving_process

from specwise import adaptive, gains, store, sweep
from specwise.bench.client import RequestRecord
from specwise.bench.metrics import span_s
from specwise.gains import Gain, Interval
from specwise.run import sweep_study
from specwise.study import Study, expand, later_look


def test_looks_slices_and_the_per_look_confidence():
    assert adaptive.looks(8, 8, 32) == 4  # 8, then 3 × 8 more
    assert adaptive.looks(8, 12, 32) == 3  # 8, 12, then the last 12 cut to the cap
    assert [adaptive.look_slice(k, 8, 12, 32) for k in range(4)] == [(0, 8), (8, 12), (20, 12),
                                                                      (32, 0)]  # fmt: skip
    assert adaptive.confidence(4) == pytest.approx(1 - 0.05 / 4)


def gain(verdict: str, low: float, high: float) -> Gain:
    x = Interval((low + high) / 2, low, high)
    return Gain("a", "b", 1, 0.0, 16, x, None, None, None, verdict, 0.03)


def test_stop_reasons():
    assert adaptive.stop_reason(gain("pays", 1.2, 1.5), 16, 48, 0.1) == (
        "decided (pays) after 16 requests"
    )
    assert "half-width ±4.8% ≤ ±10%" in adaptive.stop_reason(
        gain("inconclusive", 1.0, 1.1), 16, 48, 0.1
    )
    assert adaptive.stop_reason(gain("inconclusive", 0.8, 1.3), 16, 48, 0.1) is None
    assert adaptive.stop_reason(gain("inconclusive", 0.8, 1.3), 48, 48, 0.1).startswith("cap of 48")


def test_auto_needs_the_interleaved_schedule_and_reserves_the_cap():
    with pytest.raises(ValueError, match="requests: auto needs schedule: interleaved"):
        Study.model_validate({"arms": [{"name": "a"}], "requests": "auto"})
    study = Study.model_validate(
        {"arms": [{"name": "a"}, {"name": "b"}], "requests": "auto", "schedule": "interleaved",
         "concurrency": [1, 4], "adaptive": {"floor": {1: 4, 4: 8}, "cap": {1: 12, 4: 24}}}
    )  # fmt: skip
    matrix = expand(study)
    assert [(c.arm.name, c.concurrency, c.requests) for c in matrix] == [
        ("a", 1, 4), ("b", 1, 4), ("b", 4, 8), ("a", 4, 8)  # arms alternate cell by cell
    ]  # fmt: skip
    assert study.requests_needed == 2 + 12 + 24  # the pool, then each cell's cap
    look1 = later_look(study, matrix[0], 1)
    assert (look1.offset, look1.requests, look1.look) == (2 + 4, 4, 1)
    assert later_look(study, matrix[0], 3) is None  # 4 + 4 + 4 = the cap of 12
    assert study.confidence == pytest.approx(1 - 0.05 / 3)


@pytest.fixture(scope="module")
def fake_url():
    with serving_process() as (url, _):
        yield url


def measuring_order(monkeypatch: pytest.MonkeyPatch, field: str) -> list[tuple[str, int]]:
    """(arm, config.<field>) of every turn the sweep measures, in order."""
    order: list[tuple[str, int]] = []
    measured = sweep.take_turn

    def spy(study, turns, *rest):
        order.append((turns.config.arm.name, getattr(turns.config, field)))
        return measured(study, turns, *rest)

    monkeypatch.setattr(sweep, "take_turn", spy)
    return order


def adaptive_study(tmp_path: Path, url: str) -> Path:
    arms = [{"name": n, "engine": "external", "url": url, "served_model_name": "ok"}
            for n in ("base", "fast", "unsure")]  # fmt: skip
    fields = {"name": "auto", "arms": arms, "schedule": "interleaved", "requests": "auto",
              "adaptive": {"floor": 3, "cap": 9}, "concurrency": [1], "temperature": [0],
              "warmup": 0, "max_tokens": 8, "block": 3, "turn_pause_s": 0}  # fmt: skip
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def test_adaptive_sampling_adds_looks_to_undecided_arms_only_then_resumes(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
):
    """`fast` is decided after look 0, `unsure` never is: it and the baseline get every look to
    the cap, `fast` none; each stop reason is stored; a second sweep measures nothing."""
    real = gains.compare_points

    def rigged(arm, *args, **kwargs):
        g = real(arm, *args, **kwargs)
        verdict = "pays" if arm == "fast" else "inconclusive"
        return Gain(g.arm, g.baseline, g.concurrency, g.temperature, g.pairs,
                    Interval(1.0, 0.5, 1.5), None, None, None, verdict, g.margin)  # fmt: skip

    monkeypatch.setattr(gains, "compare_points", rigged)
    order = measuring_order(monkeypatch, "look")
    path, out = adaptive_study(tmp_path, fake_url), tmp_path / "out"
    result = sweep_study(path, out)
    assert order == [("base", 0), ("fast", 0), ("unsure", 0),  # look 0: every arm
                     ("unsure", 1), ("base", 1),  # look 1 reversed: the undecided arm + baseline
                     ("base", 2), ("unsure", 2)]  # fmt: skip
    assert (result.done, result.failed) == (7, 0)
    conn = store.connect(store.store_path(out))
    runs = {(r["arm"], r["look"]): r for r in store.runs(conn)}
    assert runs[("fast", 0)]["sampling"] == "decided (pays) after 3 requests"
    assert runs[("unsure", 2)]["sampling"] == "cap of 9 requests reached, still inconclusive"
    assert runs[("base", 2)]["sampling"] == "the arms compared with it stopped"
    ids = {k: [r["request_id"] for r in store.load_records(conn, v["id"])] for k, v in runs.items()}
    assert ids[("base", 1)] == ids[("unsure", 1)]  # every look pairs across arms
    assert not set(ids[("unsure", 0)]) & set(ids[("unsure", 1)])  # and draws new requests
    conn.close()
    order.clear()
    again = sweep_study(path, out)
    assert order == [] and again.done == 0  # every cell finished: no server started either


def test_interleaved_fixed_requests_alternate_the_arm_order_cell_by_cell(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
):
    order = measuring_order(monkeypatch, "concurrency")
    arms = [{"name": n, "engine": "external", "url": fake_url, "served_model_name": "ok"}
            for n in ("base", "spec")]  # fmt: skip
    path = tmp_path / "i.yaml"
    fields = {"arms": arms, "schedule": "interleaved", "requests": 2, "concurrency": [1, 2, 3],
              "warmup": 0, "max_tokens": 4, "turn_pause_s": 0}  # fmt: skip
    path.write_text(yaml.safe_dump(fields))
    assert sweep_study(path, tmp_path / "out").done == 6
    assert order == [("base", 1), ("spec", 1), ("spec", 2), ("base", 2), ("base", 3), ("spec", 3)]


def test_a_cell_is_measured_in_turns_of_block_requests_stored_as_one_run_per_arm(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Blocks of 2 of a 5-request cell: 3 turns per arm, ABBA, each after a pause; each arm's
    run holds its 5 requests in order, the same ids as the baseline's, its span the sum of its
    turns'."""
    order = measuring_order(monkeypatch, "concurrency")
    arms = [{"name": n, "engine": "external", "url": fake_url, "served_model_name": "ok"}
            for n in ("base", "spec")]  # fmt: skip
    path = tmp_path / "b.yaml"
    fields = {"arms": arms, "schedule": "interleaved", "requests": 5, "concurrency": [1],
              "warmup": 0, "max_tokens": 4, "block": 2, "turn_pause_s": 0.2}  # fmt: skip
    path.write_text(yaml.safe_dump(fields))
    out = tmp_path / "out"
    assert sweep_study(path, out).done == 2
    assert [a for a, _ in order] == ["base", "spec", "spec", "base", "base", "spec"]
    conn = store.connect(store.store_path(out))
    runs = {r["arm"]: r for r in store.runs(conn)}
    ids = {a: [d["request_id"] for d in store.load_records(conn, r["id"])] for a, r in runs.items()}
    assert len(ids["base"]) == 5 and ids["base"] == ids["spec"]
    records = [RequestRecord.from_dict(d) for d in store.load_records(conn, runs["spec"]["id"])]
    assert [r.extra["index"] for r in records] == [0, 1, 2, 3, 4]
    summary = runs["spec"]["summary"]
    busy = sum(r.ended_at - r.started_at for r in records)  # c = 1: the turns' spans, no gaps
    assert busy <= summary["duration_s"] < span_s(records)  # the other arm's turns left out
    timeline = sorted(
        ((arm, RequestRecord.from_dict(d)) for arm, r in runs.items()
         for d in store.load_records(conn, r["id"])),
        key=lambda ar: ar[1].started_at,
    )  # fmt: skip
    conn.close()
    gaps = [b.started_at - a.ended_at for (x, a), (y, b) in itertools.pairwise(timeline)
            if (x, a.extra["turn"]) != (y, b.extra["turn"])]  # fmt: skip
    assert len(gaps) == 5 and min(gaps) >= 0.2  # quiet before every turn but the first


def test_block_needs_the_interleaved_schedule():
    with pytest.raises(ValueError, match="block needs schedule: interleaved"):
        Study.model_validate({"arms": [{"name": "a"}], "block": 2})
    study = Study.model_validate(
        {"arms": [{"name": "a"}], "schedule": "interleaved", "concurrency": [1, 4]}
    )
    assert (study.block_for(1), study.block_for(4)) == (2, 8)


def test_a_list_of_k_expands_into_one_arm_per_k():
    """num_speculative_tokens: [1, 3] → NAME-k1 and NAME-k3, each with its own k, the other
    fields (defaults included) kept; a plain k stays one arm."""
    study = Study.model_validate(
        {"defaults": {"extra_args": ["--enforce-eager"]},
         "arms": [{"name": "base"},
                  {"name": "ngram", "speculative_config": {
                      "method": "ngram", "num_speculative_tokens": [1, 3],
                      "prompt_lookup_max": 4}},
                  {"name": "suffix", "speculative_config": {"method": "suffix"}}]}
    )  # fmt: skip
    names = [a.name for a in study.arms]
    assert names == ["base", "ngram-k1", "ngram-k3", "suffix"]
    k1, k3 = study.arms[1], study.arms[2]
    assert (k1.speculative_config["num_speculative_tokens"], k3.speculative_config[
        "num_speculative_tokens"]) == (1, 3)  # fmt: skip
    assert k3.speculative_config["prompt_lookup_max"] == 4
    assert k1.extra_args == ["--enforce-eager"] and k1.model == "smollm2"


def test_an_arm_can_have_its_own_one_off_warm_up_and_the_pool_grows_for_it():
    study = Study.model_validate(
        {"arms": [{"name": "base"}, {"name": "warm", "server_warmup": 32}], "server_warmup": 1,
         "warmup": 0}
    )  # fmt: skip
    base, warm = study.arms
    assert (study.server_warmup_for(base), study.server_warmup_for(warm)) == (1, 32)
    assert study.warmup_pool == 32  # no measured request is ever a warm-up


def test_interleaved_server_warmup_goes_once_per_server_then_warmup_per_configuration(
    tmp_path: Path, fake_url: str, monkeypatch: pytest.MonkeyPatch
):
    seen: list[tuple[str, int, int, int]] = []
    measured = sweep.take_turn

    def spy(study, turns, b, running, progress, warmup):
        seen.append((turns.config.arm.name, turns.config.concurrency, b, warmup))
        return measured(study, turns, b, running, progress, warmup)

    monkeypatch.setattr(sweep, "take_turn", spy)
    arms = [{"name": n, "engine": "external", "url": fake_url, "served_model_name": "ok"}
            for n in ("base", "spec")]  # fmt: skip
    path = tmp_path / "w.yaml"
    fields = {"arms": arms, "schedule": "interleaved", "requests": 4, "concurrency": [1, 2],
              "warmup": 1, "server_warmup": 2, "max_tokens": 4, "block": 2, "turn_pause_s": 0,
              "prefix_cache": "as-is"}  # fmt: skip
    path.write_text(yaml.safe_dump(fields))
    assert sweep_study(path, tmp_path / "out").done == 4
    first_blocks = [(a, c, w) for a, c, b, w in seen if b == 0]
    assert sorted(first_blocks) == [("base", 1, 3), ("base", 2, 1), ("spec", 1, 3), ("spec", 2, 1)]
    assert all(w == 0 for _, _, b, w in seen if b > 0)
