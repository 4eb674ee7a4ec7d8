"""Load-aware schedules from verdicts: the k per level, the ranges vLLM takes, the tuned arm."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from specwise.errors import SpecwiseError
from specwise.gains import RequestPoint
from specwise.results import Row, StudyData
from specwise.study import Study
from specwise.tune import SCHEDULE, UNBOUNDED, families, scheduled_k, schedules, tune_command

NGRAM = {"method": "ngram", "prompt_lookup_min": 2, "prompt_lookup_max": 4}


def points(e2e: float, n: int = 12) -> list[RequestPoint]:
    # spread ±2 % so intervals are narrow but not points
    return [RequestPoint(0, f"r{i}", True, 32, 0.1, 0.01, e2e * (1 + 0.02 * (i % 3 - 1)))
            for i in range(n)]  # fmt: skip


def row(arm: str, c: int, e2e: float) -> Row:
    return Row(arm, c, 0.0, points=points(e2e))


def arm(name: str, k: int, **spec) -> dict:
    return {"name": name, "engine": "vllm", "extra_args": ["--enforce-eager"],
            "speculative_config": NGRAM | {"num_speculative_tokens": k} | spec}  # fmt: skip


ARMS = [{"name": "base", "engine": "vllm"}, arm("ngram-k3", 3), arm("ngram-k5", 5)]


def study(e2e: dict[tuple[str, int], float], arms: list[dict] = ARMS) -> StudyData:
    rows = [row(a, c, v) for (a, c), v in e2e.items()]
    return StudyData("s", "base", rows, arms={a["name"]: a for a in arms})


def test_the_arms_of_one_k_list_are_one_family_and_a_scheduled_arm_none():
    tuned = {"name": "t", "speculative_config": NGRAM | {"num_speculative_tokens_per_batch_size":
             [[1, 1, 3]], "num_speculative_tokens": 3}}  # fmt: skip
    other = arm("ngram-wide", 3, prompt_lookup_max=8)
    found = families([*ARMS, tuned, other])
    assert {k: [a["name"] for a in v] for k, v in found.items()} == {
        "ngram": ["ngram-k3", "ngram-k5"],
        "ngram-wide": ["ngram-wide"],
    }
    suffix = {"method": "suffix", "num_speculative_tokens": 24}
    cold_warm = families([{"name": "suffix-cold", "speculative_config": suffix},
                          {"name": "suffix-warm", "speculative_config": suffix}])  # fmt: skip
    assert list(cold_warm) == ["suffix"]  # one config, two server states: one family


def test_k_is_the_paying_arm_with_the_best_lower_bound_and_0_where_nothing_pays():
    data = study({
        ("base", 1): 1.0, ("ngram-k3", 1): 0.8, ("ngram-k5", 1): 0.7,   # both pay, k5 more
        ("base", 4): 1.0, ("ngram-k3", 4): 0.85, ("ngram-k5", 4): 1.1,  # k3 pays, k5 loses
        ("base", 16): 1.0, ("ngram-k3", 16): 1.0, ("ngram-k5", 16): 1.2,  # nothing pays
    })  # fmt: skip
    (s,) = schedules(data, ARMS)
    assert [(lv.concurrency, lv.k, lv.arm) for lv in s.levels] == [
        (1, 5, "ngram-k5"), (4, 3, "ngram-k3"), (16, 0, None)
    ]  # fmt: skip
    # (0, 1] → 5, (1, 4] → 3, (4, 16] → 0 and above 16 → 0 merged
    assert s.ranges == [[1, 1, 5], [2, 4, 3], [5, UNBOUNDED, 0]]
    spec = s.speculative_config()
    assert spec["num_speculative_tokens"] == 5  # vLLM caps every k at it
    assert spec["num_speculative_tokens_per_batch_size"] == s.ranges
    assert spec["prompt_lookup_max"] == 4 and spec["method"] == "ngram"
    tuned = s.arm()
    assert tuned["name"] == "ngram-tuned" and tuned["extra_args"] == ["--enforce-eager"]


def test_a_family_that_pays_nowhere_gets_no_arm(tmp_path: Path):
    data = study({("base", 1): 1.0, ("ngram-k3", 1): 1.0, ("ngram-k5", 1): 1.01})
    (s,) = schedules(data, ARMS)
    assert not s.pays_anywhere and s.speculative_config() is None and s.arm() is None
    assert s.levels[0].verdict in ("break-even", "inconclusive")


def test_the_ranges_vllm_takes_are_valid_for_vllms_own_validator():
    validate = pytest.importorskip("vllm.v1.spec_decode.dynamic.utils")
    data = study({("base", 1): 1.0, ("ngram-k3", 1): 0.8, ("base", 4): 1.0, ("ngram-k3", 4): 1.0})
    (s,) = schedules(data, ARMS[:2])
    lookup = validate.build_dynamic_sd_schedule_lookup(s.ranges, 8, 3)
    assert lookup[1:] == [3, 0, 0, 0, 0, 0, 0, 0]


def test_tune_command_writes_arms_a_study_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from specwise import tune

    data = study({("base", 1): 1.0, ("ngram-k3", 1): 0.8}, ARMS[:2])
    monkeypatch.setattr(tune, "load_results", lambda out: data)
    monkeypatch.setattr(tune, "stored_spec", lambda out: {"arms": ARMS[:2], "requests": 4})
    text = tune_command(tmp_path, tmp_path / "tuned.yaml")
    assert "c = 1: k = 3" in text and "[[1, 1, 3], [2, 1048576, 0]]" in text
    written = (tmp_path / "tuned.yaml").read_text()
    # the default study: 3 concurrencies x 4 requests + a warm-up pool, all to skip
    assert (
        f"skip: {Study.model_validate({'arms': ARMS[:2], 'requests': 4}).requests_needed}"
        in written
    )
    arms = yaml.safe_load(written)
    loaded = Study.model_validate({"arms": [{"name": "base"}, *arms]})
    assert loaded.arms[1].speculative_config["num_speculative_tokens_per_batch_size"] == [
        [1, 1, 3], [2, UNBOUNDED, 0]
    ]  # fmt: skip
    monkeypatch.setattr(tune, "load_results", lambda out: study({("base", 1): 1.0}, ARMS[:1]))
    with pytest.raises(SpecwiseError, match="no speculative arm"):
        tune_command(tmp_path)


def test_a_family_tuned_at_two_temperatures_gets_one_arm_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from specwise import tune

    rows = [Row(a, 1, t, points=points(e)) for t in (0.0, 0.5)
            for a, e in (("base", 1.0), ("ngram-k3", 0.8))]  # fmt: skip
    data = StudyData("s", "base", rows, arms={a["name"]: a for a in ARMS[:2]})
    monkeypatch.setattr(tune, "load_results", lambda out: data)
    monkeypatch.setattr(tune, "stored_spec", lambda out: {"arms": ARMS[:2], "requests": 4})
    tune_command(tmp_path, tmp_path / "tuned.yaml")
    arms = yaml.safe_load((tmp_path / "tuned.yaml").read_text())
    assert [a["name"] for a in arms] == ["ngram-tuned-t0", "ngram-tuned-t0.5"]


def test_scheduled_k_reads_the_range_of_the_batch_size_and_caps_it():
    spec = {"num_speculative_tokens": 3, SCHEDULE: [[1, 2, 5], [3, 8, 1]]}
    assert [scheduled_k(spec, b) for b in (1, 2, 3, 8, 9)] == [3, 3, 1, 1, 0]
    assert scheduled_k({"num_speculative_tokens": 4}, 64) == 4  # no schedule: always k
