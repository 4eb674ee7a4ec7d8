"""Arm descriptions: what is accepted, and the one-sentence errors for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from specwise.config import Arm, load_arm
from specwise.errors import SpecwiseError


def test_minimal_vllm_arm_defaults() -> None:
    arm = Arm(name="baseline", model="smollm2")
    assert arm.engine == "vllm" and arm.gpus == 1 and arm.speculative_config is None
    assert arm.request_model == "smollm2"


def test_a_suffix_arm_takes_its_parameters_and_records_its_k() -> None:
    import json

    from specwise.servers.vllm import vllm_command

    plain = Arm(name="s", model="m", speculative_config={"method": "suffix"})
    assert plain.speculative_config == {"method": "suffix", "num_speculative_tokens": 24}
    deep = {"method": "suffix", "suffix_decoding_max_tree_depth": 16,
            "suffix_decoding_max_spec_factor": 2.0, "suffix_decoding_min_token_prob": 0.2,
            "suffix_decoding_max_cached_requests": 500}  # fmt: skip
    arm = Arm(name="s", model="m", speculative_config=deep)
    assert arm.speculative_config == deep | {"num_speculative_tokens": 16}  # k = the depth
    cmd = vllm_command(arm, "m", 8000)
    sent = json.loads(cmd[cmd.index("--speculative-config") + 1])
    assert sent == deep | {"num_speculative_tokens": 16}  # every parameter reaches vLLM
    given = Arm(
        name="s", model="m", speculative_config={"method": "suffix", "num_speculative_tokens": 8}
    )
    assert given.speculative_config["num_speculative_tokens"] == 8


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x", "engine": "external"}, "needs `url`"),
        ({"name": "x"}, "needs `model`"),
        ({"name": "x", "model": "m", "speculative_config": {"k": 3}}, "needs a `method`"),
        ({"name": "bad name", "model": "m"}, "pattern"),
        ({"name": "x", "model": "m", "engine": "tgi"}, "'vllm', 'sglang' or 'external'"),
        ({"name": "x", "model": "m", "typo_field": 1}, "Extra inputs"),
        (
            {"name": "x", "engine": "external", "url": "http://h", "env": {"A": "1"}},
            "never started",
        ),
    ],
)
def test_invalid_arms(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Arm.model_validate(fields)


def test_load_arm_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "arm.yaml"
    path.write_text(
        "name: ngram\nmodel: smollm2\nspeculative_config:\n  method: ngram\n"
        "  num_speculative_tokens: 3\nextra_args: [--enforce-eager]\n"
    )
    arm = load_arm(path)
    assert arm.speculative_config == {"method": "ngram", "num_speculative_tokens": 3}


def test_load_arm_errors_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(SpecwiseError, match="does not exist"):
        load_arm(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecwiseError, match="not valid YAML at line"):
        load_arm(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("name: x\nengine: tgi\nmodel: m\n")
    with pytest.raises(SpecwiseError, match=r"field `engine`: .*fix it and run again"):
        load_arm(wrong)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n")
    with pytest.raises(SpecwiseError, match="must hold a mapping"):
        load_arm(listy)
