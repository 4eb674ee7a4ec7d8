"""Hidden-state extraction: prefix-cached batches equal one plain forward; speculators' layout."""

from __future__ import annotations

from pathlib import Path

import torch
from draft_helpers import PREFIX, make_rows

from specwise.draft import hidden


def test_aux_layers_match_vllm_default() -> None:
    assert hidden.aux_layer_ids(30) == [2, 15, 27]


def test_shared_prefix_and_window() -> None:
    rows = make_rows(5)
    assert hidden.shared_prefix_len(rows) == len(PREFIX)
    row = rows[0]
    n = len(row["prompt_token_ids"])
    assert hidden.sample_window(row, 4) == (n - 4, n)
    assert hidden.sample_window(row, 10_000) == (0, n)  # the whole prompt, shared prefix too


def test_cached_batch_equals_full_forward(tiny_target: Path) -> None:
    model = hidden.load_target(tiny_target)
    rows = make_rows(3)
    prefix = hidden.shared_prefix_len(rows)
    cache = hidden._batch_cache(hidden.prefix_state(model, PREFIX)[0], 3)
    seqs = [hidden._full_ids(r)[prefix:] for r in rows]
    width = max(len(s) for s in seqs)
    ids, mask = torch.zeros(3, width, dtype=torch.long), torch.zeros(3, width, dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, : len(s)], mask[j, : len(s)] = torch.tensor(s), 1
    batched = hidden.capture(model, ids, mask, cache)  # [3, S, 4, H]
    for j, row in enumerate(rows):
        full_ids = torch.tensor([hidden._full_ids(row)])
        alone = hidden.capture(model, full_ids, torch.ones_like(full_ids), None)[0, prefix:]
        got = batched[j, : len(seqs[j])].float()
        torch.testing.assert_close(got, alone.float(), atol=0.05, rtol=0.05)
        # the 4th feature is the last layer's output *before* the final norm
        with torch.no_grad():
            post = model.model(input_ids=full_ids).last_hidden_state[0, prefix:]
            normed = model.model.norm(alone[:, 3])
        torch.testing.assert_close(normed.float(), post.float(), atol=0.05, rtol=0.05)


def test_dataset_layout(tiny_data: Path) -> None:
    from datasets import load_from_disk
    from safetensors.torch import load_file

    table = load_from_disk(str(tiny_data / "train"))
    assert len(table) == 24 and set(table.column_names) == {"input_ids", "loss_mask", "seq_len"}
    row, hs = table[0], load_file(str(tiny_data / "train" / "hidden_states" / "hs_0.safetensors"))
    assert torch.equal(hs["token_ids"], row["input_ids"])
    assert hs["hidden_states"].shape == (len(row["input_ids"]), 4, 64)
    assert hs["hidden_states"].dtype == torch.bfloat16
    assert row["loss_mask"][:8].sum() == 0 and row["loss_mask"][8:].all()  # max_context 8
    freq = torch.load(tiny_data / "train" / "token_freq.pt")
    answers = sum(int(r["loss_mask"].sum()) for r in table)
    assert sum(freq.values()) == answers and 2 in freq and 100 not in freq  # answers only


def test_resume_skips_written_files(tiny_target: Path, tmp_path: Path) -> None:
    rows = make_rows(4)
    hidden.build_hidden_dataset(tiny_target, rows, tmp_path, 8, 4)
    first = (tmp_path / "hidden_states" / "hs_1.safetensors").stat().st_mtime_ns
    hidden.write_hidden_states(hidden.load_target(tiny_target), rows, tmp_path, 8, 4)
    assert (tmp_path / "hidden_states" / "hs_1.safetensors").stat().st_mtime_ns == first


def test_long_window_reaches_into_the_shared_prefix(tiny_target: Path, tmp_path: Path) -> None:
    """max_context longer than a row's own part: the stored features cover the prefix too and
    equal one plain forward pass over the whole sequence."""
    from safetensors.torch import load_file

    model, rows = hidden.load_target(tiny_target), make_rows(3)
    records = hidden.write_hidden_states(model, rows, tmp_path, 10_000, 2)
    for i, row in enumerate(rows):
        full = torch.tensor([hidden._full_ids(row)])
        alone = hidden.capture(model, full, torch.ones_like(full), None)[0]  # [T, 4, H]
        hs = load_file(str(tmp_path / "hidden_states" / f"hs_{i}.safetensors"))
        assert records[i]["start"] == 0 and hs["token_ids"].tolist() == hidden._full_ids(row)
        torch.testing.assert_close(hs["hidden_states"].float(), alone.float(), atol=0.05, rtol=0.05)


def test_prompt_loss_adds_each_rows_own_prompt_part(tmp_path: Path) -> None:
    """prompt_loss: the loss covers the tokens after the shared prefix (user turn and answer),
    never the shared prefix; the draft vocabulary still counts answer tokens only."""
    from datasets import load_from_disk

    rows = make_rows(4)
    plain = hidden.dataset_records(rows, 10_000)
    wide = hidden.dataset_records(rows, 10_000, prompt_loss=True)
    for row, p, w in zip(rows, plain, wide, strict=True):
        own = len(row["prompt_token_ids"]) - len(PREFIX)
        answer = len(row["output_token_ids"])
        assert sum(p["loss_mask"]) == answer and p["loss_mask"][-answer:] == [1] * answer
        assert w["loss_mask"] == [0] * len(PREFIX) + [1] * (own + answer)
    windowed = hidden.dataset_records(rows, 4, prompt_loss=True)  # window inside the own part
    assert all(sum(r["loss_mask"]) == len(r["loss_mask"]) for r in windowed)
    hidden.write_dataset(wide, tmp_path)
    table = load_from_disk(str(tmp_path))
    assert [int(r["loss_mask"].sum()) for r in table] == [sum(w["loss_mask"]) for w in wide]
    freq = torch.load(tmp_path / "token_freq.pt")
    assert sum(freq.values()) == sum(len(r["output_token_ids"]) for r in rows)
    assert not any(200 <= t < 300 for t in freq)  # user tokens train the head, not its vocabulary
