"""The command line that starts an SGLang server for an arm (GPU hosts only).

SGLang names speculation differently from vLLM; an arm keeps vLLM's --speculative-config
vocabulary and this module translates it: eagle3 with k tokens = a chain of k draft steps,
top-k 1, k + 1 tokens verified per step.
"""

from __future__ import annotations

import sys

from specwise.config import Arm
from specwise.errors import SpecwiseError

SGLANG_METHODS = {"eagle3": "EAGLE3", "eagle": "EAGLE"}


def sglang_command(arm: Arm, model: str, port: int, python: str = sys.executable) -> list[str]:
    """argv for `python -m sglang.launch_server` serving `model` on 127.0.0.1:port."""
    cmd = [python, "-m", "sglang.launch_server", "--model-path", model]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--served-model-name", arm.request_model]
    if arm.gpus > 1:
        cmd += ["--tp-size", str(arm.gpus)]
    spec = arm.speculative_config
    if spec is not None:
        method = SGLANG_METHODS.get(str(spec["method"]))
        if method is None or "model" not in spec:
            raise SpecwiseError(
                f"Arm {arm.name!r}: SGLang arms support speculative methods "
                f"{', '.join(SGLANG_METHODS)} with a `model`; use a vllm arm for "
                f"{spec['method']!r}."
            )
        k = int(spec.get("num_speculative_tokens", 3))
        cmd += ["--speculative-algorithm", method, "--speculative-draft-model-path", spec["model"]]
        cmd += ["--speculative-num-steps", str(k), "--speculative-eagle-topk", "1"]
        cmd += ["--speculative-num-draft-tokens", str(k + 1)]
    return cmd + list(arm.extra_args)
