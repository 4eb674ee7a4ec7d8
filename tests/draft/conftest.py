"""A tiny random Llama target and its hidden-state datasets: the draft pipeline without a server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # draft_helpers (pytest uses importlib mode)

from draft_helpers import VOCAB, make_rows


@pytest.fixture(scope="session")
def tiny_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=8,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("tiny-target")
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_data(tiny_target: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workdir with train/ and held_out/ hidden-state datasets of the tiny target."""
    from specwise.draft.hidden import build_hidden_dataset

    workdir = tmp_path_factory.mktemp("draft-work")
    build_hidden_dataset(tiny_target, make_rows(24), workdir / "train", 8, 4)
    build_hidden_dataset(tiny_target, make_rows(6, seed=9), workdir / "held_out", 8, 4)
    return workdir
