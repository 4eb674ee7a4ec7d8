"""The YAML a user writes to build a draft head: where the traffic comes from, how to train, where
the head goes. Every field has a default that builds the shipped SmolLM2 commerce head."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from specwise.config import load_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Traffic(_Strict):
    """A workload: a JSONL file of chat requests, or the built-in commerce generator."""

    file: Path | None = None
    commerce_n: int = Field(default=1200, ge=1)
    seed: int = 1
    split: Literal["all", "train", "eval"] = "train"


class DataOptions(_Strict):
    train: Traffic = Field(default_factory=Traffic)
    held_out: Traffic = Field(default_factory=lambda: Traffic(commerce_n=100, seed=2, split="eval"))
    # vllm: a vLLM server regenerates the answers, then one transformers pass reads the features;
    # transformers: one pass does both (the fast path on a CPU, see draft/generate.py).
    engine: Literal["vllm", "transformers"] = "vllm"
    temperature: float = Field(default=0.0, ge=0.0)  # the target regenerates at this temperature
    concurrency: int = Field(default=16, ge=1)  # requests in flight while regenerating
    max_context: int = Field(default=512, ge=16)  # tokens kept before each answer (see data.py)
    # train also on each train row's own prompt part (after the prefix all rows share): the target's
    # logits there are distillation targets too, at no extra cost per window. On commerce traffic
    # the head drafted worse (docs/findings/2026-11-27-domain-eagle3-heads.md)
    prompt_loss: bool = False
    max_new_tokens: int | None = Field(default=None, ge=1)  # caps each request's max_tokens
    batch_size: int = Field(default=8, ge=1)  # sequences per hidden-state forward pass


class TrainOptions(_Strict):
    """speculators' trainer options (`speculators train --help`); `extra_args` passes any other."""

    draft_vocab_size: int = Field(default=4096, ge=16)
    epochs: int = Field(default=8, ge=1)
    max_steps: int | None = Field(default=None, ge=1)
    lr: float = Field(default=3e-4, gt=0)
    optimizer: Literal["adamw", "muon"] = "adamw"
    scheduler_type: Literal["linear", "cosine", "none"] = "cosine"
    warmup_ratio: float = Field(default=0.03, ge=0, le=1)
    ttt_steps: int = Field(default=3, ge=1)
    ttt_step_loss_decay: float = Field(default=0.8, gt=0)  # loss weight of step s: decay^s
    total_seq_len: int = Field(default=2048, ge=64)  # tokens packed into one step's batch
    train_data_ratio: float = Field(default=0.95, gt=0, lt=1)
    hidden_states_dtype: Literal["bfloat16", "float32"] = "bfloat16"
    checkpoint_freq: float = Field(default=1.0, gt=0)
    seed: int = 0
    # a trained head (speculators format, e.g. an exported one) to start from instead of random
    # weights: its draft vocabulary is kept (draft/train.py `warm_start`)
    init_from: Path | None = None
    extra_args: list[str] = Field(default_factory=list)


class ExportOptions(_Strict):
    out: Path | None = None  # default: WORKDIR/head (never a committed head's folder)
    verifier: str | None = None  # the target's name in the head's config (default: `target`)
    num_speculative_tokens: int = Field(default=3, ge=1)


class BuildConfig(_Strict):
    """One draft-head build: target, traffic, training, export, and the offline evaluation depth."""

    name: str = "smollm2-commerce-eagle3"
    target: str = "smollm2"  # a prepared local model name or an HF Llama-family directory
    workdir: Path = Path("runs/draft/smollm2-commerce")
    data: DataOptions = Field(default_factory=DataOptions)
    train: TrainOptions = Field(default_factory=TrainOptions)
    export: ExportOptions = Field(default_factory=ExportOptions)
    eval_k_max: int = Field(default=6, ge=1)
    server_env: dict[str, str] = Field(default_factory=lambda: {"VLLM_CPU_KVCACHE_SPACE": "4"})
    server_args: list[str] = Field(default_factory=lambda: ["--enforce-eager"])

    @model_validator(mode="after")
    def _held_out_differs(self) -> BuildConfig:
        a, b = self.data.train, self.data.held_out
        if a.file is None and b.file is None and (a.seed, a.split) == (b.seed, b.split):
            raise ValueError("data.held_out must differ from data.train (another seed or split)")
        if self.export.out is None:
            self.export.out = self.workdir / "head"
        return self

    @property
    def export_out(self) -> Path:
        assert self.export.out is not None  # set by the validator
        return self.export.out


def load_build_config(path: Path) -> BuildConfig:
    return load_model(path, BuildConfig, "target, data, train, export, …", empty_ok=True)
