"""Preflight: what can be checked about a study without a GPU, in seconds, before anything is
written — every problem at once, each with its arm or field.

    the workload     parses end to end and holds the requests the study draws
    every arm        its API-key variable is set; a local model or head directory exists and
                     looks like one (config.json; an EAGLE head's hidden size is the target's);
                     a hub model is in the local cache when HF_HUB_OFFLINE=1; the speculative
                     method is one the installed vLLM's SpeculativeConfig knows; the server's
                     command line parses with vLLM's own argument parser
    numbers          finite (the study model refuses NaN and inf); a temperature above 2 warns
External arms are not started by specwise: only their URL and key are checked.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specwise import secrets
from specwise.errors import SpecwiseError
from specwise.study import Study, StudyArm

EAGLE_METHODS = ("eagle", "eagle3")


@dataclass(frozen=True)
class Problem:
    where: str  # "workload", "arm 'eagle3-k3'", "temperature"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class Preflight:
    problems: list[Problem]
    warnings: list[Problem]
    parsed: list[str]  # arms whose command line vLLM's parser accepted


def check(study: Study) -> Preflight:
    """Every check of the module doc; nothing is started or written."""
    problems, warnings, parsed = [], [], []
    problems += workload_problems(study)
    warnings += [
        Problem("temperature", f"{t:g} is above 2: most servers cap or reject it")
        for t in study.temperature
        if t > 2
    ]
    by_what: dict[str, list[str]] = {}  # one line for a problem several arms share
    for arm in study.arms:
        found = arm_problems(arm)
        if arm.engine == "vllm":
            why = vllm_parser_problem(study, arm)
            if why is None:
                parsed.append(arm.name)
            else:
                found.append(why)
        for what in found:
            by_what.setdefault(what, []).append(arm.name)
    for what, names in by_what.items():
        where = ("arm " if len(names) == 1 else "arms ") + ", ".join(repr(n) for n in names)
        problems.append(Problem(where, what))
    return Preflight(problems, warnings, parsed)


def require(study: Study) -> Preflight:
    """check(), raising one error that lists every problem."""
    result = check(study)
    if result.problems:
        listed = "; ".join(str(p) for p in result.problems)
        raise SpecwiseError(
            f"{len(result.problems)} problem(s) before anything runs — {listed}. Fix them and "
            "run again (`--dry-run` shows the same checks)."
        )
    return result


def workload_problems(study: Study) -> list[Problem]:
    from specwise.study_requests import workload_requests

    try:
        workload_requests(study)
    except SpecwiseError as exc:
        return [Problem("workload", str(exc).rstrip("."))]
    return []


def arm_problems(arm: StudyArm) -> list[str]:
    """What keeps this arm's server from starting, as far as files and settings tell."""
    out = []
    try:
        secrets.api_key(arm.api_key_env, "api_key_env")
    except SpecwiseError as exc:
        out.append(str(exc).rstrip("."))
    if arm.engine == "external":
        return out
    target = target_config(arm.model or "")
    if isinstance(target, str):
        out.append(target)
    spec = arm.speculative_config or {}
    if spec:
        out += spec_problems(spec, target if isinstance(target, dict) else None)
    return out


def target_config(model: str) -> dict[str, Any] | str | None:
    """The target's config.json; a sentence when it cannot be had; None when unknowable here
    (a local default not prepared yet: the sweep prepares it)."""
    from specwise.models import KNOWN_MODELS, model_dir

    if model in KNOWN_MODELS:
        path = model_dir(model) / "config.json"
        return json.loads(path.read_text()) if path.exists() else None
    if model.startswith("/"):
        path = Path(model) / "config.json"
        if not path.exists():
            return f"model {model} has no config.json; pass a Hugging Face model directory"
        return json.loads(path.read_text())
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        if not isinstance(cached, str):
            return (
                f"model {model!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1; "
                "download it where the hub is reachable, or give a model directory"
            )
        return json.loads(Path(cached).read_text())
    return None


def spec_problems(spec: dict[str, Any], target: dict[str, Any] | None) -> list[str]:
    out = []
    method = spec.get("method")
    known = speculative_methods()
    if method is not None and method not in known:
        out.append(
            f"speculative_config.method {method!r} is not one the installed vLLM knows "
            f"({', '.join(sorted(m for m in known if not m.endswith('_mtp')))}, …)"
        )
    head = spec.get("model")
    if isinstance(head, str) and head.startswith("/"):
        config = Path(head) / "config.json"
        if not Path(head).exists():
            out.append(f"speculative_config.model {head} does not exist; build or fix the path")
        elif not config.exists():
            out.append(f"speculative_config.model {head} has no config.json; pass a head dir")
        elif method in EAGLE_METHODS and target is not None:
            mine, theirs = hidden_size(json.loads(config.read_text())), target.get("hidden_size")
            if mine and theirs and mine != theirs:
                out.append(
                    f"the head {head} has hidden size {mine}, the target {theirs}: it was "
                    "trained for another model"
                )
    return out


def hidden_size(config: dict[str, Any]) -> int | None:
    """A head's hidden size: speculators format (transformer_layer_config) or research format."""
    layer = config.get("transformer_layer_config") or {}
    return layer.get("hidden_size") or config.get("hidden_size")


def speculative_methods() -> set[str]:
    """The `method` values the installed vLLM's SpeculativeConfig accepts."""
    from typing import get_args

    from vllm.config.speculative import SpeculativeMethod

    return set(get_args(SpeculativeMethod))


def vllm_parser_problem(study: Study, arm: StudyArm) -> str | None:
    """None if vLLM's own server argument parser (and its quick checks) accepts the arm's
    command line; else what it said."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    from specwise.arm_server import arm_argv

    argv = arm_argv(study, arm)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            args = make_arg_parser(FlexibleArgumentParser(prog="vllm")).parse_args(argv)
            validate_parsed_serve_args(args)
    except SystemExit:
        lines = [x for x in said.getvalue().splitlines() if x.strip()]
        message = lines[-1] if lines else "rejected"
        return f"vLLM's argument parser rejects its command line: {message}"
    except (TypeError, ValueError) as exc:
        return f"vLLM's argument checks reject its command line: {exc}"
    return None


def report(result: Preflight) -> list[str]:
    """Lines for --dry-run."""
    lines = [f"problem · {p}" for p in result.problems]
    lines += [f"warning · {w}" for w in result.warnings]
    if result.parsed:
        lines.append(
            f"vLLM's argument parser accepts the command line of: {', '.join(result.parsed)}"
        )
    if not result.problems:
        lines.append("preflight: no problem found")
    return lines
