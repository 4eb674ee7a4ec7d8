"""Helpers of the draft tests: synthetic answer rows and a BuildConfig for the tiny target."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

VOCAB = 512
PREFIX = list(range(100, 132))  # a "system prompt" every row shares


def make_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Rows like data.py writes: a shared prefix, a short user turn, a patterned answer."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        user = [rng.randrange(200, 300) for _ in range(rng.randrange(4, 12))]
        start = rng.randrange(300, 400)
        answer = [300 + (start + 3 * j) % 100 for j in range(rng.randrange(12, 24))] + [2]
        rows.append(
            {
                "id": f"row-{i}",
                "kind": "answer",
                "prompt_token_ids": PREFIX + user,
                "output_token_ids": answer,
                "text": "",
                "finish_reason": "stop",
            }
        )
    return rows


def tiny_config(target: Path, workdir: Path, **train: Any) -> Any:
    """A BuildConfig for the tiny target (mask token given: it has no tokenizer)."""
    from specwise.draft.config import BuildConfig

    options = {
        "draft_vocab_size": 64, "total_seq_len": 128, "epochs": 2, "lr": 1e-3,
        "train_data_ratio": 0.8, "extra_args": ["--mask-token-id", "0"], **train,
    }  # fmt: skip
    return BuildConfig.model_validate(
        {"target": str(target), "workdir": str(workdir), "train": options}
    )


def save_tiny_target(out: Path) -> Path:
    """A tiny random Llama (bf16, seed 0) saved as a Hugging Face directory: the draft target."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=8,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(out)
    return out
