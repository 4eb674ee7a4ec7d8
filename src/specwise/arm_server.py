"""An arm's server as a study starts it: its prefix-cache policy, its environment, its argv and
the exact command line shown to the user (the dry run, the report's appendix)."""

from __future__ import annotations

import shlex
from pathlib import Path

from specwise.models import KNOWN_MODELS, model_dir
from specwise.servers.sglang import sglang_command
from specwise.servers.vllm import plugin_env, vllm_command
from specwise.study import PrefixCache, Study, StudyArm

DEV_MODE_ENV = {"VLLM_SERVER_DEV_MODE": "1"}  # vLLM serves POST /reset_prefix_cache only then


def prefix_policy(study: Study, arm: StudyArm) -> PrefixCache:
    """The study's prefix-cache policy, or as-is for an external arm (it cannot be reset)."""
    return study.prefix_cache if arm.engine == "vllm" else "as-is"


def server_arm(study: Study, arm: StudyArm) -> StudyArm:
    """The arm as launched: vLLM arms get dev mode when the prefix cache is to be reset."""
    if prefix_policy(study, arm) != "as-is":
        return arm.model_copy(update={"env": arm.env | DEV_MODE_ENV})
    return arm


def missing_path(arm: StudyArm) -> str | None:
    """Why the arm cannot start if a local model or head directory it names is absent."""
    spec = arm.speculative_config or {}
    for what, value in (("model", arm.model), ("speculative_config.model", spec.get("model"))):
        if isinstance(value, str) and value.startswith("/") and not Path(value).exists():
            return f"{what} {value} does not exist; create it (or fix the path) and run again"
    return None


def display_command(study: Study, arm: StudyArm) -> str:
    """The exact command line (with its environment) a sweep starts for the arm; the port is
    chosen free at start time, shown here as 8000."""
    arm = server_arm(study, arm)
    if arm.engine == "external":
        return f"(external, not started) {arm.url}"
    added = plugin_env() if arm.engine == "vllm" else {}  # as servers.launch.spawn adds it
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((added | arm.env).items()))
    return (env + " " if env else "") + shlex.join(arm_command(study, arm))


def arm_command(study: Study, arm: StudyArm, port: int = 8000) -> list[str]:
    """argv of the arm's server (vLLM or SGLang) as a sweep starts it."""
    arm = server_arm(study, arm)
    model = arm.model or ""
    if model in KNOWN_MODELS:
        model = str(model_dir(model))  # prepared on the first real start
    build = vllm_command if arm.engine == "vllm" else sglang_command
    return build(arm, model, port)


def arm_argv(study: Study, arm: StudyArm) -> list[str]:
    """The arguments vLLM's server parser sees: the command after `python -m MODULE`."""
    return arm_command(study, arm)[3:]
