"""Export: tensor names and config exactly as vLLM's eagle3 loader (llama_eagle3.py) wants them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from draft_helpers import tiny_config
from safetensors.torch import load_file

from specwise.draft.export import export_head, model_card, pick_checkpoint
from specwise.draft.train import train
from specwise.errors import SpecwiseError

# What Eagle3LlamaForCausalLM (vLLM) owns for one draft layer with norm_before_fc, after its
# loader maps names: "model." prefix for all but lm_head, q/k/v -> qkv_proj, gate/up -> gate_up.
VLLM_PARAMS = {
    "model.fc.weight", "model.input_norm.weight", "model.norm.weight", "lm_head.weight",
    "model.layers.0.hidden_norm.weight", "model.layers.0.input_layernorm.weight",
    "model.layers.0.post_attention_layernorm.weight", "model.layers.0.self_attn.qkv_proj.weight",
    "model.layers.0.self_attn.o_proj.weight", "model.layers.0.mlp.gate_up_proj.weight",
    "model.layers.0.mlp.down_proj.weight", "draft_id_to_target_id",
}  # fmt: skip
STACKED = {".q_proj": ".qkv_proj", ".k_proj": ".qkv_proj", ".v_proj": ".qkv_proj"}
STACKED |= {".gate_proj": ".gate_up_proj", ".up_proj": ".gate_up_proj"}


def vllm_name(name: str) -> str | None:
    """The parameter vLLM's Eagle3LlamaForCausalLM.load_weights puts a checkpoint tensor in."""
    if "t2d" in name:
        return None  # skipped by vLLM
    if "d2t" in name:
        return "draft_id_to_target_id"
    name = name if "lm_head" in name else "model." + name
    for old, new in STACKED.items():
        name = name.replace(old, new)
    return name


@pytest.fixture(scope="module")
def exported(tiny_target: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("export")
    shutil.copytree(tiny_data / "train", workdir / "train")
    train(tiny_config(tiny_target, workdir, epochs=1), str(tiny_target), resume=False)
    return export_head(workdir / "checkpoints", workdir / "head", "org/tiny-target", k=5)


def test_tensors_are_what_vllm_loads(exported: Path) -> None:
    tensors = load_file(str(exported / "model.safetensors"))
    assert "embed_tokens.weight" not in tensors  # vLLM shares the target's embedding
    mapped = {vllm_name(n) for n in tensors} - {None}
    assert mapped == VLLM_PARAMS
    assert tensors["d2t"].dtype == torch.int64 and tensors["t2d"].dtype == torch.bool
    assert tensors["lm_head.weight"].shape == (64, 64)  # [draft vocab, H]
    assert tensors["fc.weight"].shape == (64, 3 * 64)  # [H, 3H]
    assert tensors["layers.0.self_attn.q_proj.weight"].shape[1] == 2 * 64  # [embed, feature]
    d2t, t2d = tensors["d2t"], tensors["t2d"]
    assert torch.equal(torch.arange(64) + d2t, torch.nonzero(t2d).flatten())


def test_config_is_what_vllm_reads(exported: Path) -> None:
    from vllm.transformers_utils.configs.speculators.base import SpeculatorsConfig

    raw = json.loads((exported / "config.json").read_text())
    assert "auto_map" not in raw
    hf = SpeculatorsConfig.extract_transformers_pre_trained_config(json.loads(json.dumps(raw)))
    assert hf["architectures"] == ["Eagle3LlamaForCausalLM"]
    assert hf["draft_vocab_size"] == 64 and hf["norm_before_fc"] and hf["norm_output"]
    assert hf["eagle_aux_hidden_state_layer_ids"] == [2, 4, 5]
    assert hf["num_hidden_layers"] == 1 and hf["layer_types"] == ["full_attention"]
    spec = SpeculatorsConfig.extract_vllm_speculative_config(raw)
    assert spec == {"method": "eagle3", "num_speculative_tokens": 5}
    assert raw["speculators_config"]["verifier"]["name_or_path"] == "org/tiny-target"


def test_pick_checkpoint_and_missing(tmp_path: Path, exported: Path) -> None:
    assert pick_checkpoint(exported) == exported
    with pytest.raises(SpecwiseError, match="train a head first"):
        pick_checkpoint(tmp_path)


def test_model_card_renders() -> None:
    offline = {"by_k": [{"k": 3, "drafts": 10, "acceptance_rate": 0.6, "acceptance_length": 2.8}]}
    card = model_card(
        {"name": "h", "target": "t", "traffic": "x", "head_path": "heads/h", "draft_vocab": 64,
         "layer_ids": [2, 4, 5], "command": "specwise draft build c.yaml", "data": "d",
         "training": "tr", "machine": "m", "build_minutes": "1 min", "server": "vLLM",
         "offline": offline, "measured": [], "notes": ""}
    )  # fmt: skip
    assert "| 3 | 0.600 | 2.80 |" in card and '"model": "heads/h"' in card


def test_run_export_writes_card_and_facts(
    tiny_target: Path, tiny_data: Path, exported: Path, tmp_path: Path
) -> None:
    import yaml

    from specwise.draft.build import read_facts, run_export

    workdir = exported.parent
    shutil.copytree(tiny_data / "held_out", workdir / "held_out", dirs_exist_ok=True)
    config = tiny_config(tiny_target, workdir, epochs=1).model_dump(mode="json")
    config["export"] = {
        "out": str(tmp_path / "head"),
        "verifier": "org/tiny",
        "num_speculative_tokens": 3,
    }
    config["eval_k_max"] = 3
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(config))
    head = run_export(path)
    facts = read_facts(head)
    assert [r["k"] for r in facts["offline"]["by_k"]] == [1, 2, 3]
    assert facts["verifier"] == "org/tiny" and "export+eval" in facts["stage_minutes"]
    assert "loss (mean of the first / last" in facts["training"]  # the training run's steps
    assert "nan" not in facts["training"] and "warm-started" not in facts["training"]
    card = (head / "README.md").read_text()
    assert f"specwise draft build {path}" in card and "| 3 |" in card
