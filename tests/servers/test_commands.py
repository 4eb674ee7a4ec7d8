"""The exact command lines specwise starts servers with."""

from __future__ import annotations

import json

import pytest

from specwise.config import Arm
from specwise.errors import SpecwiseError
from specwise.servers.sglang import sglang_command
from specwise.servers.vllm import vllm_command

NGRAM = {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 4}


def test_vllm_command_baseline() -> None:
    arm = Arm(name="base", model="/m", extra_args=["--enforce-eager"])
    cmd = vllm_command(arm, "/m", 8123, python="py")
    assert cmd == [
        "py", "-m", "vllm.entrypoints.openai.api_server", "--model", "/m",
        "--host", "127.0.0.1", "--port", "8123", "--served-model-name", "/m",
        "--enforce-eager",
    ]  # fmt: skip


def test_vllm_command_speculation_and_tensor_parallel() -> None:
    arm = Arm(name="ng", model="m", served_model_name="target", speculative_config=NGRAM, gpus=2)
    cmd = vllm_command(arm, "/abs/m", 1, python="py")
    spec = cmd[cmd.index("--speculative-config") + 1]
    assert json.loads(spec) == NGRAM
    assert cmd[cmd.index("--served-model-name") + 1] == "target"
    assert cmd[cmd.index("--tensor-parallel-size") + 1] == "2"


def test_vllm_command_keeps_users_tensor_parallel_flag() -> None:
    arm = Arm(name="tp", model="m", gpus=2, extra_args=["-tp", "2"])
    assert "--tensor-parallel-size" not in vllm_command(arm, "m", 1)


def test_sglang_command_translates_eagle3() -> None:
    spec = {"method": "eagle3", "model": "/head", "num_speculative_tokens": 5}
    arm = Arm(name="sg", engine="sglang", model="m", speculative_config=spec, gpus=2)
    cmd = sglang_command(arm, "/m", 9, python="py")
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert flags["--model-path"] == "/m" and flags["--tp-size"] == "2"
    assert flags["--speculative-algorithm"] == "EAGLE3"
    assert flags["--speculative-draft-model-path"] == "/head"
    assert flags["--speculative-num-steps"] == "5"
    assert flags["--speculative-num-draft-tokens"] == "6"


def test_sglang_rejects_methods_it_cannot_run() -> None:
    arm = Arm(name="sg", engine="sglang", model="m", speculative_config=NGRAM)
    with pytest.raises(SpecwiseError, match="use a vllm arm for 'ngram'"):
        sglang_command(arm, "m", 1)


def test_arctic_inference_plugin_is_kept_out_of_every_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With arctic-inference installed, VLLM_PLUGINS names every other general plugin; without
    it, vLLM's own default (load all) is left alone."""
    from importlib.metadata import EntryPoint

    from specwise.servers import vllm

    group = "vllm.general_plugins"
    lora = EntryPoint("lora_filesystem_resolver", "vllm.plugins:x", group)
    arctic = EntryPoint("arctic_inference", "arctic_inference.vllm.plugins:p", group)
    installed = [lora]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: installed)
    assert vllm.plugin_env() == {}
    installed = [lora, arctic]
    assert vllm.plugin_env() == {"VLLM_PLUGINS": "lora_filesystem_resolver"}
