"""One judge configuration: the study's `quality:` block, `specwise judge`'s options on top of
the study stored in a sweep's directory, the defaults for bench directories; the judge's prompt
names the workload's assistant, or a generic one for the user's own traffic."""

from __future__ import annotations

import json

import pytest

from specwise import store
from specwise.errors import SpecwiseError
from specwise.quality.judge import Endpoint
from specwise.quality.run import JudgeOptions, settings_for
from specwise.quality.settings import JudgeSettings, study_settings
from specwise.study import Study

ARMS = [{"name": "baseline"}, {"name": "ngram", "speculative_config": {"method": "ngram"}}]


def stored(tmp_path, **fields) -> None:
    study = Study.model_validate({"name": "t", "arms": ARMS} | fields)
    conn = store.connect(store.store_path(tmp_path))
    store.bind_study(conn, "t", "h", json.loads(study.model_dump_json()), set())
    conn.close()


def test_a_sweep_dir_judges_with_its_study_settings_and_the_options_given(tmp_path):
    stored(tmp_path, quality={"llm_judge": False, "margin": [0.4, 0.6], "concurrency": 2})
    s = settings_for(JudgeOptions(source=tmp_path))
    assert (s.llm_judge, s.margin, s.concurrency) == (False, (0.4, 0.6), 2)
    changed = settings_for(JudgeOptions(source=tmp_path, changes={"concurrency": 8}))
    assert (changed.llm_judge, changed.margin, changed.concurrency) == (False, (0.4, 0.6), 8)
    with pytest.raises(SpecwiseError, match="--concurrency"):
        settings_for(JudgeOptions(source=tmp_path, changes={"concurrency": 0}))


def test_a_bench_dir_starts_from_the_defaults(tmp_path):
    assert settings_for(JudgeOptions(source=tmp_path)) == JudgeSettings()


def test_the_study_and_the_cli_share_the_defaults():
    quality = Study.model_validate({"name": "t", "arms": ARMS}).quality
    assert quality.model_dump(exclude={"enabled"}) == JudgeSettings().model_dump()


def test_the_judge_prompt_names_the_workloads_assistant_or_a_generic_one(tmp_path):
    builtin = Study.model_validate({"name": "t", "arms": ARMS})  # the commerce generator
    assert "online store" in Endpoint("u", "m", assistant=study_settings(builtin).assistant).system
    (tmp_path / "w.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    own = Study.model_validate({"name": "t", "arms": ARMS, "workload": {"file": "w.jsonl"}})
    prompt = Endpoint("u", "m", assistant=study_settings(own).assistant).system
    assert "online store" not in prompt and "an AI assistant" in prompt
    named = own.model_copy(
        update={"quality": own.quality.model_copy(update={"assistant": "a bank's bot"})}
    )
    assert "a bank's bot" in Endpoint("u", "m", assistant=study_settings(named).assistant).system
