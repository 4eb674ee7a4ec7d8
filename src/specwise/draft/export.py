"""Export a trained head in the format vLLM loads, with a model card; import research-format heads.

vLLM reads speculators' format natively (`speculators_model_type: eagle3`; its eagle3 loader
prefixes every tensor but `lm_head` with `model.` and stacks q/k/v and gate/up):
    fc.weight [H, 3H]   input_norm.weight [3H] (norm_before_fc)   norm.weight [H]
    layers.0.{self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj,
              input_layernorm, hidden_norm, post_attention_layernorm}.weight
    lm_head.weight [V_draft, H]   d2t [V_draft] int64 (target id = draft id + d2t)
    t2d [V_target] bool (skipped by vLLM, kept for speculators)
The frozen copy of the target's embedding (`embed_tokens.weight`, V×H) is dropped: without it
vLLM shares the target's own embedding with the head. speculators' training-only tensors
(verifier_lm_head, verifier_norm) are never saved by it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from specwise.errors import SpecwiseError

DROPPED = ("embed_tokens.weight", "verifier_lm_head.weight", "verifier_norm.weight")


def pick_checkpoint(path: Path) -> Path:
    """A checkpoint directory: `path` itself, else its `checkpoint_best`, else its last epoch."""
    if (path / "model.safetensors").exists():
        return path
    if (path / "checkpoint_best" / "model.safetensors").exists():
        return (path / "checkpoint_best").resolve()
    epochs = sorted((p for p in path.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    epochs = [p for p in epochs if (p / "model.safetensors").exists()]
    if not epochs:
        raise SpecwiseError(
            f"No checkpoint under {path}; train a head first (`specwise draft train`)."
        )
    return epochs[-1]


def export_config(config: dict[str, Any], verifier: str, k: int) -> dict[str, Any]:
    """The checkpoint's config for serving: verifier name, k, no custom-code pointer."""
    config = json.loads(json.dumps(config))
    config.pop("auto_map", None)  # points at a config.py that vLLM does not need
    spec = config["speculators_config"]
    spec["verifier"]["name_or_path"] = verifier
    for method in spec["proposal_methods"]:
        method["speculative_tokens"] = k
    if config.get("embed_requires_grad"):
        raise SpecwiseError(
            "This head trained its own embedding, which export would drop; train with "
            "--no-embed-requires-grad or export the checkpoint directory as it is."
        )
    return config


def export_head(checkpoint: Path, out: Path, verifier: str, k: int = 3) -> Path:
    """Write config.json + model.safetensors (without the tensors vLLM takes from the target)."""
    from safetensors.torch import load_file, save_file

    source = pick_checkpoint(checkpoint)
    config = export_config(json.loads((source / "config.json").read_text()), verifier, k)
    tensors = load_file(str(source / "model.safetensors"))
    kept = {name: t.contiguous() for name, t in tensors.items() if name not in DROPPED}
    out.mkdir(parents=True, exist_ok=True)
    save_file(kept, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out


def import_research(src: Path, out: Path, target_dir: str, layer_ids: list[int]) -> Path:
    """Convert a research-format head (LlamaForCausalLMEagle3: midlayer.*) to speculators format.

    speculators' converter writes `eagle_aux_hidden_state_layer_ids: null` unless told, so the
    layers are always passed (default (2, L//2, L−3) of the target).
    """
    from speculators.convert.eagle.eagle3_converter import Eagle3Converter

    raw = json.loads((src / "config.json").read_text())
    norm_before_residual = bool(raw.get("norm_before_residual", False))
    shutil.rmtree(out, ignore_errors=True)
    Eagle3Converter().convert(
        src, out, target_dir, validate=False, norm_before_residual=norm_before_residual,
        eagle_aux_hidden_state_layer_ids=layer_ids,
    )  # fmt: skip
    return out


def model_card(facts: dict[str, Any]) -> str:
    """README.md of an exported head from the build's recorded facts."""
    offline = facts.get("offline") or {}
    measured = facts.get("measured") or []
    rows = "\n".join(
        f"| {r['k']} | {r['acceptance_rate']:.3f} | {r['acceptance_length']:.2f} |"
        for r in offline.get("by_k", [])
        if r.get("drafts")
    )
    measured_rows = "\n".join(
        f"| {m['arm']} | {m['k']} | {m['temperature']} | {m['concurrency']} | "
        f"{_f(m.get('acceptance_rate'))} | {_f(m.get('acceptance_length'), '.2f')} | "
        f"{_f(m.get('output_tokens_per_s'), '.1f')} | {_f(m.get('vs_baseline'), '.2f')}x |"
        for m in measured
    )
    return CARD.format(
        rows=rows or "| – | – | – |",
        measured=measured_rows or "| (not measured yet) | | | | | | | |",
        **{k: v for k, v in facts.items() if k not in ("offline", "measured")},
    )


def _f(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


CARD = """# {name}

An EAGLE-3 draft head for **{target}**, trained by specwise on the target's own answers to
{traffic}. Load it in vLLM with

```
--speculative-config '{{"method": "eagle3", "model": "{head_path}", "num_speculative_tokens": 3}}'
```

The embedding is not included: vLLM shares the target's. Draft vocabulary {draft_vocab} tokens
(the most frequent answer tokens); feature layers {layer_ids}.

## How it was made
```
{command}
```
- data: {data}
- training: {training}
- build wall time on {machine}: {build_minutes}

## Offline acceptance (held-out answers, chain drafting at temperature 0)
| k | acceptance | AL |
|---|---|---|
{rows}

## Measured on vLLM ({server})
| arm | k | temperature | concurrency | acceptance | AL | output tok/s | vs no speculation |
|---|---|---|---|---|---|---|---|
{measured}

{notes}
"""
