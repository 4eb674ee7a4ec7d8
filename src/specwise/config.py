"""Pydantic models of what a user writes in YAML: server arms (and, later, studies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from specwise.errors import SpecwiseError

M = TypeVar("M", bound=BaseModel)

Engine = Literal["vllm", "sglang", "external"]
SUFFIX_MAX_TREE_DEPTH = 24  # vLLM's default suffix_decoding_max_tree_depth


class Arm(BaseModel):
    """One server configuration under test: an engine, a target and its speculation (or none)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    engine: Engine = "vllm"
    model: str | None = None  # HF directory or hub name; "smollm2" = the prepared local default
    served_model_name: str | None = None  # what clients send as "model"; defaults to `model`
    speculative_config: dict[str, Any] | None = None  # vLLM's --speculative-config JSON
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    gpus: int = Field(default=1, ge=0)
    startup_timeout_s: float = Field(default=600.0, gt=0)
    url: str | None = None  # external only: the base URL, e.g. http://host:8000
    api_key_env: str | None = None  # name of the environment variable holding the API key

    @model_validator(mode="after")
    def _engine_fields(self) -> Arm:
        if self.engine == "external":
            if not self.url:
                raise ValueError("an external arm needs `url` (the server's base URL)")
            if self.speculative_config or self.extra_args or self.env:
                raise ValueError(
                    "an external arm is never started, so it takes no speculative_config, "
                    "extra_args or env: configure that server itself"
                )
        elif not self.model:
            raise ValueError(f"a {self.engine} arm needs `model` (a model directory or name)")
        if self.speculative_config is not None and "method" not in self.speculative_config:
            raise ValueError("speculative_config needs a `method` (eagle3, ngram, draft_model, …)")
        spec = self.speculative_config
        if spec and spec["method"] == "suffix" and "num_speculative_tokens" not in spec:
            # vLLM's own default for suffix (config/speculative.py), written out so that k is
            # recorded with the run: the most tokens a suffix step may draft
            depth = spec.get("suffix_decoding_max_tree_depth", SUFFIX_MAX_TREE_DEPTH)
            self.speculative_config = spec | {"num_speculative_tokens": depth}
        return self

    @property
    def request_model(self) -> str:
        """The model name clients put in requests."""
        return self.served_model_name or self.model or self.name


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning file and syntax problems into one actionable sentence."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecwiseError(f"{path} does not exist; pass the path of a YAML file.") from None
    except IsADirectoryError:
        raise SpecwiseError(f"{path} is a directory; pass the path of a YAML file.") from None
    except UnicodeDecodeError as exc:
        raise SpecwiseError(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise SpecwiseError(f"{path} cannot be read ({exc.strerror}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecwiseError(f"{path} is not valid YAML{where}; fix the syntax there.") from None


def validation_message(path: Path, exc: ValidationError) -> str:
    """One sentence naming the first invalid field, what is wrong and what is allowed."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{path}: field `{field}`: {err['msg']}; fix it and run again."


def load_model(path: Path, model: type[M], fields: str, empty_ok: bool = False) -> M:
    """A pydantic model from a YAML mapping; anything else is one sentence naming the file and
    the `fields` it should hold. `empty_ok`: an empty file is the model's defaults."""
    data = load_yaml(path)
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise SpecwiseError(f"{path} must hold a mapping ({fields}).")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecwiseError(validation_message(path, exc)) from None


def load_arm(path: Path) -> Arm:
    return load_model(path, Arm, "the arm's fields: name, engine, …")
