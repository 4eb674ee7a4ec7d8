"""Offline acceptance of a draft head: chain drafting at temperature 0, simulated on held-out
target answers, with no server.

For one answer x_P … x_{E-1} (the target's own greedy tokens) and the target features h_j:
    the head at anchor j sees (h_j, x_{j+1}) and proposes d_0 … d_{k-1} for x_{j+2} … x_{j+k+1},
    feeding itself its own hidden states (the TTT unroll; given the earlier drafts were right,
    the token it is fed is the true one, so one unrolled forward scores every anchor at once);
    accepted m = number of leading i with d_i = x_{j+2+i}; the target adds one token, so the next
    anchor is j + m + 1, the first is P − 1 (after the target's first answer token).
Per k:  acceptance α = Σm / (k · drafts),  AL = 1 + Σm / drafts,  αᵢ = #(m > i) / drafts,
the same formulas as vLLM's counters (specwise.servers.prometheus).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from specwise.errors import SpecwiseError


def load_head(head_dir: Path, target_dir: str | Path) -> Any:
    """A speculators Eagle3DraftModel from an exported or checkpoint directory (eval mode, fp32)."""
    from safetensors.torch import load_file
    from speculators.models.eagle3 import Eagle3DraftModel, Eagle3SpeculatorConfig

    if not (head_dir / "config.json").exists():
        raise SpecwiseError(f"{head_dir} has no config.json; pass a draft head directory.")
    if "speculators_model_type" not in json.loads((head_dir / "config.json").read_text()):
        raise SpecwiseError(
            f"{head_dir} is not in speculators format; convert it with "
            "`specwise draft export --import-research DIR` first."
        )
    config = Eagle3SpeculatorConfig.from_pretrained(str(head_dir))
    config.speculators_config.verifier.name_or_path = str(target_dir)
    config.transformer_layer_config._attn_implementation = "sdpa"
    model = Eagle3DraftModel(config)
    state = load_file(str(head_dir / "model.safetensors"))
    model.load_state_dict(state, strict=False)
    model._load_verifier_weights(overwrite_embed_tokens="embed_tokens.weight" not in state)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # the GPU when there is one
    return model.float().to(device).eval()


def load_samples(data_dir: Path) -> list[dict[str, torch.Tensor]]:
    """(token_ids, features, loss_mask) of every row under data_dir (hidden.py's layout)."""
    from datasets import load_from_disk
    from safetensors.torch import load_file

    table = load_from_disk(str(data_dir))
    samples = []
    for i in range(len(table)):
        hs = load_file(str(data_dir / "hidden_states" / f"hs_{i}.safetensors"))
        samples.append({**hs, "loss_mask": table[i]["loss_mask"]})
    return samples


@torch.no_grad()
def draft_predictions(model: Any, sample: dict[str, torch.Tensor], k: int) -> torch.Tensor:
    """preds [k, T-1]: preds[i, j] = the head's i-th draft at anchor j (a guess for x_{j+2+i}),
    as a target-vocabulary id."""
    device = next(model.parameters(), torch.empty(0)).device
    ids, feats = sample["token_ids"].to(device), sample["hidden_states"]  # [T], [T, 4, H]
    t = ids.shape[0] - 1
    aux = feats[:-1, :-1].flatten(1).float().to(device)  # h_j for j < T-1: [T-1, 3H]
    drafts = model(
        hidden_states=aux[None],
        input_ids=ids[1:][None],  # x_{j+1}
        document_ids=torch.zeros(1, t, dtype=torch.long, device=device),
        position_ids=torch.arange(1, t + 1, device=device)[None],
        ttt_steps=k,
    )
    preds = torch.cat(drafts, dim=0)  # draft-vocabulary ids [k, T-1]
    if getattr(model, "d2t", None) is not None:
        preds = preds + model.d2t[preds]  # target id = draft id + d2t[draft id]
    return preds.cpu()


def chain_accepts(preds: torch.Tensor, ids: torch.Tensor, loss_mask: torch.Tensor, k: int) -> list:
    """Accepted drafts m of each verification step over the answer (see the module docstring)."""
    answer = torch.nonzero(loss_mask).flatten()
    if answer.numel() < 2:
        return []
    end, j, accepted = ids.shape[0], int(answer[0]) - 1, []
    while j + 2 < end:
        m = 0
        while m < k and j + 2 + m < end and int(preds[m, j]) == int(ids[j + 2 + m]):
            m += 1
        accepted.append(m)
        j += m + 1
    return accepted


def acceptance_summary(accepted: list[int], k: int) -> dict[str, Any]:
    """α, AL and per-position rates of a list of per-draft accepted counts."""
    drafts = len(accepted)
    if not drafts:
        return {"k": k, "drafts": 0}
    total = sum(accepted)
    return {
        "k": k,
        "drafts": drafts,
        "accepted": total,
        "acceptance_rate": total / (k * drafts),
        "acceptance_length": 1 + total / drafts,
        "per_position_rates": [sum(m > i for m in accepted) / drafts for i in range(k)],
    }


def evaluate(head_dir: Path, target_dir: str | Path, data_dir: Path, k_max: int = 6) -> dict:
    """Offline α / AL for k = 1 … k_max on every held-out answer under data_dir."""
    model = load_head(head_dir, target_dir)
    per_k: dict[int, list[int]] = {k: [] for k in range(1, k_max + 1)}
    samples = load_samples(data_dir)
    if not samples:
        raise SpecwiseError(f"No held-out samples in {data_dir}; run `specwise draft data` first.")
    for sample in samples:
        preds = draft_predictions(model, sample, k_max)
        for k in per_k:
            per_k[k] += chain_accepts(preds, sample["token_ids"], sample["loss_mask"], k)
    return {
        "head": str(head_dir),
        "samples": len(samples),
        "by_k": [acceptance_summary(per_k[k], k) for k in per_k],
    }


def format_table(result: dict) -> str:
    lines = ["k  drafts  acceptance  AL     per-position"]
    for row in result["by_k"]:
        if not row["drafts"]:
            continue
        pos = " ".join(f"{p:.2f}" for p in row["per_position_rates"])
        lines.append(
            f"{row['k']:<2} {row['drafts']:>6}  {row['acceptance_rate']:.3f}       "
            f"{row['acceptance_length']:.2f}   {pos}"
        )
    return "\n".join(lines)
