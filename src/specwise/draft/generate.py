"""Training data in one pass on a CPU: the target (transformers) answers and, while it does, hands
over the features of every token it reads — no server and no second forward.

Why: on a CPU without bf16 matrix units a server regenerating answers and a separate
hidden-state pass each read the ~2,700-token commerce prompt suffix; here the suffix is read
once (the shared system-prompt prefix once for all), and decode steps yield the answer tokens'
features as they are fed. Computed in fp32 (CPU bf16 GEMMs of many rows are ~40x slower than
fp32 on AVX2), stored in bf16 as speculators expects. The answers equal the server's at
temperature 0 up to numerical near-ties (fp32 here, the server's dtype there).

Batch layout after the cached prefix (P tokens): suffixes are left-padded, with explicit
positions so every row's tokens sit at P, P+1, …; a decode step feeds each row its last token
at its own next position. Rows are written as they finish (hs_{i}.safetensors + answers.jsonl
with the row index), so an interrupted run resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from specwise.draft.data import _progress, read_answers
from specwise.draft.hidden import (
    capture_features,
    common_prefix,
    prefix_state,
    sample_window,
    save_row,
    window_features,
)
from specwise.workloads.loaders import WorkloadRequest


def render(tokenizer: Any, request: WorkloadRequest) -> list[int]:
    """The prompt ids exactly as a server renders the chat template (generation prompt added)."""
    ids = tokenizer.apply_chat_template(
        request.messages, tools=request.tools, add_generation_prompt=True, tokenize=True
    )
    return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)


@torch.no_grad()
def generate_batch(
    model: Any, cache: Any, prefix: int, prompts: list[list[int]], max_new: list[int],
    eos: set[int], temperature: float = 0.0,
) -> tuple[list[list[int]], list[torch.Tensor]]:  # fmt: skip
    """Answers, and features [n_fed, 4, H] per row (suffix tokens, then each fed answer token)."""
    b = len(prompts)
    suffixes = [p[prefix:] for p in prompts]
    width = max(len(s) for s in suffixes)
    ids = torch.zeros(b, width, dtype=torch.long)
    mask = torch.zeros(b, width, dtype=torch.long)
    pos = torch.full((b, width), prefix, dtype=torch.long)
    for j, s in enumerate(suffixes):
        ids[j, width - len(s) :], mask[j, width - len(s) :] = torch.tensor(s), 1
        pos[j, width - len(s) :] = torch.arange(prefix, prefix + len(s))
    full_mask = torch.cat([torch.ones(b, prefix, dtype=torch.long), mask], dim=1)
    full_mask, pos = full_mask.to(model.device), pos.to(model.device)
    feats, last = capture_features(model, ids, full_mask, pos, cache)  # [B, W, 4, H], [B, H]
    per_row = [[feats[j, width - len(s) :]] for j, s in enumerate(suffixes)]
    answers: list[list[int]] = [[] for _ in range(b)]
    fed = [True] * b  # has row j's last answer token been fed back (its features captured)?
    while True:
        nxt = next_tokens(model, last, temperature).tolist()
        for j in range(b):
            if fed[j] and not _done(answers[j], max_new[j], eos):
                answers[j].append(nxt[j])
                fed[j] = False
        if all(fed):
            return answers, [torch.cat(f) for f in per_row]
        step = torch.tensor([[a[-1] if a else 0] for a in answers])
        live = torch.tensor([[0 if f else 1] for f in fed], device=full_mask.device)
        full_mask = torch.cat([full_mask, live], dim=1)
        pos = pos[:, -1:] + 1
        feats, last = capture_features(model, step, full_mask, pos, cache)
        for j in range(b):
            if not fed[j]:
                per_row[j].append(feats[j])
                fed[j] = True


def _done(answer: list[int], max_new: int, eos: set[int]) -> bool:
    return len(answer) >= max_new or (bool(answer) and answer[-1] in eos)


def next_tokens(model: Any, last: torch.Tensor, temperature: float) -> torch.Tensor:
    """Greedy (T=0) or sampled next token from the post-norm last hidden state [B, H]."""
    logits = model.lm_head(last).float()
    if temperature <= 0:
        return logits.argmax(-1)
    return torch.multinomial(torch.softmax(logits / temperature, -1), 1).squeeze(-1)


def generate_dataset(
    model: Any, tokenizer: Any, requests: list[WorkloadRequest], out: Path, max_context: int,
    batch_size: int = 16, temperature: float = 0.0, default_max_new: int = 256,
    max_new_cap: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Answer every request, writing hs_{i} and answers.jsonl; return the rows in request order."""
    out.mkdir(parents=True, exist_ok=True)
    answers_path = out / "answers.jsonl"
    prompts = [render(tokenizer, r) for r in requests]
    prefix = common_prefix(prompts)
    done = {row["index"] for row in read_answers(answers_path)}
    # batch like with like: answer length (kind) bounds a batch's decode steps, prompt its padding
    todo = sorted(
        (i for i in range(len(requests)) if i not in done),
        key=lambda i: (requests[i].kind or "", len(prompts[i])),
    )
    eos = _eos_ids(model, tokenizer)
    cache, prefix_feats = prefix_state(model, prompts[0][:prefix] if todo else [])
    with answers_path.open("a") as sink, _progress("target answers + features", len(todo)) as adv:
        for b in range(0, len(todo), batch_size):
            batch = todo[b : b + batch_size]
            max_new = [requests[i].max_tokens or default_max_new for i in batch]
            max_new = [min(n, max_new_cap or n) for n in max_new]
            batch_cache = _repeat(cache, len(batch))
            outs, feats = generate_batch(
                model, batch_cache, prefix, [prompts[i] for i in batch], max_new, eos, temperature
            )
            for i, answer, f in zip(batch, outs, feats, strict=True):
                row = {
                    "index": i, "id": requests[i].id, "kind": requests[i].kind,
                    "prompt_token_ids": prompts[i], "output_token_ids": answer,
                    "text": tokenizer.decode(answer, skip_special_tokens=True),
                }  # fmt: skip
                start = sample_window(row, max_context)[0]
                tokens = (prompts[i] + answer)[start:]
                save_row(out, i, tokens, window_features(prefix_feats, f, start, len(tokens)))
                sink.write(json.dumps(row) + "\n")
                sink.flush()
            adv(len(batch))
    rows = {row["index"]: row for row in read_answers(answers_path)}
    return [rows[i] for i in range(len(requests))]


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = model.generation_config.eos_token_id if model.generation_config else None
    ids = ids if isinstance(ids, list) else [ids]
    return {i for i in [*ids, tokenizer.eos_token_id] if i is not None}


def _repeat(cache: Any, n: int) -> Any:
    import copy

    copied = copy.deepcopy(cache)
    copied.batch_repeat_interleave(n)
    return copied
