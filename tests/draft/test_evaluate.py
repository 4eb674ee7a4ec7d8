"""Offline chain-drafting simulation: hand-made cases, then a trained tiny head end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from draft_helpers import tiny_config

from specwise.draft.evaluate import acceptance_summary, chain_accepts, draft_predictions, evaluate
from specwise.draft.export import export_head
from specwise.draft.train import train


def test_chain_accepts_walks_anchors() -> None:
    # tokens x0..x7; answer = x3..x7 (first anchor j = 2); a perfect head accepts up to k
    ids = torch.arange(10, 18)
    mask = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1])
    perfect = torch.tensor([[int(ids[j + 2 + i]) if j + 2 + i < 8 else -1 for j in range(7)]
                            for i in range(3)])  # fmt: skip
    assert chain_accepts(perfect, ids, mask, 3) == [3]  # anchor 2: x4..x6, the target adds x7
    wrong = torch.full((3, 7), -1)
    assert chain_accepts(wrong, ids, mask, 3) == [0, 0, 0, 0]  # anchors 2..5, one token each
    half = perfect.clone()
    half[1] = -1  # second draft always wrong
    assert chain_accepts(half, ids, mask, 3) == [1, 1]  # anchors 2 and 4


class _DraftVocabHead(torch.nn.Module):
    """Proposes draft-vocabulary id j % 4 at every position and step; d2t maps draft id d to
    target id 100 + d (vLLM: target id = draft id + d2t[draft id])."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("d2t", torch.full((4,), 100))

    def forward(self, hidden_states, input_ids, ttt_steps, **_):
        t = input_ids.shape[1]
        return [torch.arange(t)[None] % 4 for _ in range(ttt_steps)]


def test_drafts_are_compared_in_the_target_vocabulary() -> None:
    sample = {"token_ids": torch.arange(6), "hidden_states": torch.zeros(6, 4, 2)}
    preds = draft_predictions(_DraftVocabHead(), sample, k=2)
    assert preds.shape == (2, 5)
    assert preds[0].tolist() == [100, 101, 102, 103, 100]


def test_summarize_uses_vllm_formulas() -> None:
    s = acceptance_summary([3, 1, 0, 2], k=3)
    assert s["acceptance_rate"] == pytest.approx(6 / 12)
    assert s["acceptance_length"] == pytest.approx(1 + 6 / 4)
    assert s["per_position_rates"] == pytest.approx([3 / 4, 2 / 4, 1 / 4])
    assert acceptance_summary([], 3) == {"k": 3, "drafts": 0}


def test_evaluate_trained_head(tiny_target: Path, tiny_data: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_data / "train", tmp_path / "train")
    train(tiny_config(tiny_target, tmp_path, epochs=1), str(tiny_target), resume=False)
    head = export_head(tmp_path / "checkpoints", tmp_path / "head", str(tiny_target))
    result = evaluate(head, tiny_target, tiny_data / "held_out", k_max=3)
    assert result["samples"] == 6 and [r["k"] for r in result["by_k"]] == [1, 2, 3]
    for row in result["by_k"]:
        assert row["drafts"] > 0 and 0 <= row["acceptance_rate"] <= 1
        assert row["acceptance_length"] == pytest.approx(1 + row["k"] * row["acceptance_rate"])
