"""Training data for a draft head, step 2: the target's hidden states, in speculators' format.

For every answer row (prompt ids + answer ids) one transformers forward pass of the target gives
    hidden_states [T, 4, H] = inputs of layers (2, L//2, L-3) and the last layer's output
                              *before* the final norm (a pre-hook on `model.norm` captures it;
                              transformers 5 returns the last hidden state after the norm),
written to `hidden_states/hs_{i}.safetensors` with `token_ids [T]` (int64), next to a `datasets`
table (input_ids, loss_mask, seq_len) and `token_freq.pt` (answer-token counts, which pick the
draft vocabulary). This is exactly what speculators' trainer reads.

Agent traffic repeats a long system prompt, so the prompt prefix shared by every row runs once
and its KV cache is reused for each batch; a row keeps at most `max_context` tokens before its
answer (the head attends over those; the target still saw the whole prompt), reaching into the
shared prefix when max_context is longer than the row's own part. Resumable: rows whose file
exists are skipped.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from specwise.draft.data import _progress

# Computed in fp32, stored in bf16: on a CPU without bf16 matrix units (AVX2) a bf16 GEMM over
# hundreds of rows runs ~40x slower than fp32 (measured: 1.5 vs 65 GFLOPS per core).
DTYPE = torch.float32


def aux_layer_ids(num_layers: int) -> list[int]:
    """EAGLE-3's default feature layers, the same as vLLM's and speculators': (2, L//2, L-3)."""
    return [2, num_layers // 2, num_layers - 3]


def load_target(target_dir: str | Path) -> Any:
    """The target in fp32 for feature extraction, on the GPU when there is one."""
    from transformers import AutoModelForCausalLM
    from transformers.integrations import sdpa_attention

    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        # With a padding mask transformers copies K/V per query head (repeat_kv) before SDPA: on
        # a CPU, for a 2,700-token cache, that copy dominates every decode step. torch's CPU
        # SDPA takes grouped K/V with a mask directly (enable_gqa), with identical results.
        sdpa_attention.use_gqa_in_sdpa = lambda *_args: True
    model = AutoModelForCausalLM.from_pretrained(str(target_dir), dtype=DTYPE)
    return model.to("cuda" if on_gpu else "cpu").eval()  # bf16-exact weights, fp32 compute


def common_prefix(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving at least one prompt token per row."""
    n = min(len(p) for p in prompts) - 1
    for p in prompts[1:]:
        n = next((i for i in range(n) if p[i] != prompts[0][i]), n)
    return max(n, 0)


def shared_prefix_len(rows: list[dict[str, Any]]) -> int:
    return common_prefix([r["prompt_token_ids"] for r in rows])


def sample_window(row: dict[str, Any], max_context: int) -> tuple[int, int]:
    """(start of the stored window, prompt length): the window keeps ≤ max_context prompt tokens."""
    n_prompt = len(row["prompt_token_ids"])
    return max(0, n_prompt - max_context), n_prompt


def window_features(
    prefix_feats: torch.Tensor, suffix_feats: torch.Tensor, start: int, t: int
) -> torch.Tensor:
    """Features [t, 4, H] of tokens start .. start+t-1 of a row, from the shared prefix's [P, 4, H]
    and the row's own [S, 4, H] (the tokens after the prefix)."""
    prefix = prefix_feats.shape[0]
    if start >= prefix:
        return suffix_feats[start - prefix : start - prefix + t]
    head = prefix_feats[start:]
    return torch.cat([head.to(suffix_feats.device), suffix_feats[: t - len(head)]])


@torch.no_grad()
def capture_features(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, cache: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [B, S, 4, H] of `ids` [B, S] and the post-norm state of the last column [B, H].

    `mask` [B, cached + S] covers the cache and `ids`; `pos` [B, S] are the token positions.
    """
    inner, captured = model.model, {}
    ids, mask, pos = ids.to(model.device), mask.to(model.device), pos.to(model.device)
    layers = aux_layer_ids(len(inner.layers))
    hook = inner.norm.register_forward_pre_hook(lambda _m, args: captured.update(last=args[0]))
    try:
        out = inner(
            input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
            use_cache=cache is not None, output_hidden_states=True,
        )  # fmt: skip
    finally:
        hook.remove()
    feats = [out.hidden_states[i] for i in layers] + [captured["last"]]  # each [B, S, H]
    return torch.stack(feats, dim=2), out.last_hidden_state[:, -1]


def capture(model: Any, ids: torch.Tensor, mask: torch.Tensor, cache: Any) -> torch.Tensor:
    """Features [B, S, 4, H] of a right-padded batch `ids` after the cached prefix."""
    prefix = cache.get_seq_length() if cache is not None else 0
    full_mask = torch.cat([mask.new_ones(mask.shape[0], prefix), mask], dim=1)
    pos = torch.arange(prefix, prefix + ids.shape[1]).expand(ids.shape[0], -1)
    return capture_features(model, ids, full_mask, pos, cache)[0]


def save_row(out: Path, i: int, tokens: list[int], feats: torch.Tensor) -> None:
    """hidden_states/hs_{i}.safetensors: token_ids [T] int64, hidden_states [T, 4, H] bf16."""
    from safetensors.torch import save_file

    assert feats.shape[0] == len(tokens), (feats.shape, len(tokens))
    tensors = {
        "token_ids": torch.tensor(tokens, dtype=torch.long),
        "hidden_states": feats.to(torch.bfloat16).cpu().contiguous(),
    }
    path = out / "hidden_states" / f"hs_{i}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def prefix_state(model: Any, ids: list[int]) -> tuple[Any, torch.Tensor]:
    """The shared prefix's KV cache (None when there is no prefix) and features [P, 4, H]."""
    from transformers import DynamicCache

    if not ids:
        h = model.config.hidden_size
        return None, torch.zeros(0, 4, h, device=model.device)
    cache = DynamicCache(config=model.config)
    t = torch.tensor([ids])
    feats, _ = capture_features(model, t, torch.ones_like(t), torch.arange(len(ids))[None], cache)
    return cache, feats[0]


def write_hidden_states(
    model: Any, rows: list[dict[str, Any]], out: Path, max_context: int, batch_size: int
) -> list[dict[str, Any]]:
    """Write hs_{i}.safetensors for every row; return the dataset records (input_ids, loss_mask)."""
    hs_dir = out / "hidden_states"
    hs_dir.mkdir(parents=True, exist_ok=True)
    prefix = shared_prefix_len(rows)
    base_cache, prefix_feats = prefix_state(model, rows[0]["prompt_token_ids"][:prefix])
    records = [_record(r, max_context) for r in rows]
    todo = [i for i in range(len(rows)) if not (hs_dir / f"hs_{i}.safetensors").exists()]
    todo.sort(key=lambda i: len(rows[i]["prompt_token_ids"]) + len(rows[i]["output_token_ids"]))
    with _progress("target hidden states", len(todo)) as advance:
        for b in range(0, len(todo), batch_size):
            batch = todo[b : b + batch_size]
            seqs = [_full_ids(rows[i])[prefix:] for i in batch]  # the part after the prefix
            width = max(len(s) for s in seqs)
            ids = torch.zeros(len(seqs), width, dtype=torch.long)
            mask = torch.zeros(len(seqs), width, dtype=torch.long)
            for j, s in enumerate(seqs):
                ids[j, : len(s)], mask[j, : len(s)] = torch.tensor(s), 1
            cache = _batch_cache(base_cache, len(seqs))
            feats = capture(model, ids, mask, cache)
            for j, i in enumerate(batch):
                start, t = records[i]["start"], len(records[i]["input_ids"])
                row_feats = window_features(prefix_feats, feats[j], start, t)
                save_row(out, i, records[i]["input_ids"], row_feats)
            advance(len(batch))
    return records


def _full_ids(row: dict[str, Any]) -> list[int]:
    return list(row["prompt_token_ids"]) + list(row["output_token_ids"])


def _record(row: dict[str, Any], max_context: int, loss_from: int | None = None) -> dict[str, Any]:
    """The row's window (ids from `start`) and loss mask: its answer tokens, and with `loss_from`
    also its prompt tokens from that position on (the target's predictions there are targets
    as good as on its answers: speculators distils the target's logits, not the next token)."""
    start, n_prompt = sample_window(row, max_context)
    ids = _full_ids(row)[start:]
    first = n_prompt if loss_from is None else max(start, min(loss_from, n_prompt))
    answer = len(row["output_token_ids"])
    mask = [0] * (first - start) + [1] * (n_prompt - first + answer)
    return {"id": row["id"], "start": start, "input_ids": ids, "loss_mask": mask, "answer": answer}


def dataset_records(
    rows: list[dict[str, Any]], max_context: int, prompt_loss: bool = False
) -> list[dict[str, Any]]:
    """Dataset records of `rows`; `prompt_loss` adds each row's own prompt part (after the prefix
    every row shares, e.g. the system prompt) to the loss."""
    loss_from = shared_prefix_len(rows) if prompt_loss and rows else None
    return [_record(r, max_context, loss_from) for r in rows]


def _batch_cache(cache: Any, n: int) -> Any:
    if cache is None:
        return None
    copied = copy.deepcopy(cache)
    copied.batch_repeat_interleave(n)
    return copied


def write_dataset(records: list[dict[str, Any]], out: Path) -> None:
    """The table speculators' ArrowDataset loads (torch format), and token_freq.pt."""
    from datasets import Dataset

    table = Dataset.from_dict(
        {
            "input_ids": [r["input_ids"] for r in records],
            "loss_mask": [r["loss_mask"] for r in records],
            "seq_len": [len(r["input_ids"]) for r in records],
        }
    )
    table.set_format(type="torch")
    table.save_to_disk(str(out))
    freq: Counter[int] = Counter()
    for r in records:  # answer tokens only: they pick the draft vocabulary
        freq.update(r["input_ids"][len(r["input_ids"]) - r["answer"] :])
    torch.save(dict(freq), out / "token_freq.pt")


def build_hidden_dataset(
    target_dir: str | Path, rows: list[dict[str, Any]], out: Path, max_context: int = 512,
    batch_size: int = 8, model: Any = None, prompt_loss: bool = False,
) -> Path:  # fmt: skip
    """Hidden states + table + token frequencies for `rows` under `out`; returns `out`."""
    if not rows:
        from specwise.errors import SpecwiseError

        raise SpecwiseError(f"No answers to build {out} from; regenerate them first.")
    model = model if model is not None else load_target(target_dir)
    write_hidden_states(model, rows, out, max_context, batch_size)
    write_dataset(dataset_records(rows, max_context, prompt_loss), out)
    return out
