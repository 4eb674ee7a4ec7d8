"""Train an EAGLE-3 head with speculators' trainer, configured from specwise's YAML.

The head (speculators 0.9.0, `--speculator-type eagle3`): fc 3H → H over the target features,
one Llama decoder layer over [norm(embed(x)), norm(feature)] (2H), final norm, lm_head over the
draft vocabulary (the `draft_vocab_size` most frequent answer tokens; d2t/t2d map it). Training-
time test unrolls `ttt_steps` steps feeding the head its own hidden states; the loss of step s is
KL(target ‖ draft) weighted by `ttt_step_loss_decay`^s.

One process: `specwise draft train CONFIG` (CPU or one GPU). Several:
`torchrun --nproc-per-node N -m specwise.draft.train CONFIG` (DDP; gloo on CPU). Checkpoints go
to `<workdir>/checkpoints/<epoch>/`; with `resume` a rerun continues from the last one. Metrics
(loss and accuracy per TTT step) are appended to `<workdir>/train_metrics.jsonl`.

`init_from` (a trained head in speculators' format) warm-starts the head: speculators builds it as
usual (the frozen embedding and verifier tensors come from the target), then the head's trained
tensors replace the random ones, and its draft vocabulary (d2t/t2d) replaces the one the new
data's token frequencies would pick.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from specwise.draft import cpu
from specwise.draft.config import BuildConfig, load_build_config
from specwise.errors import SpecwiseError

CPU_ARGS = ["--loss-implementation", "eager", "--draft-attn-impl", "sdpa", "--num-workers", "0"]


def data_path(config: BuildConfig) -> Path:
    return config.workdir / "train"


def checkpoint_dir(config: BuildConfig) -> Path:
    return config.workdir / "checkpoints"


def speculators_argv(config: BuildConfig, target_dir: str, on_cpu: bool, resume: bool) -> list[str]:
    """The `speculators train` command line this config stands for."""
    t = config.train
    argv = [
        "--speculator-type", "eagle3",
        "--verifier-name-or-path", target_dir,
        "--data-path", str(data_path(config)),
        "--save-path", str(checkpoint_dir(config)),
        "--log-dir", str(config.workdir / "logs"),
        "--on-missing", "raise",
        "--draft-vocab-size", str(t.draft_vocab_size),
        "--epochs", str(t.epochs),
        "--lr", str(t.lr),
        "--optimizer", t.optimizer,
        "--scheduler-type", t.scheduler_type,
        "--scheduler-warmup-ratio", str(t.warmup_ratio),
        "--ttt-steps", str(t.ttt_steps),
        "--ttt-step-loss-decay", str(t.ttt_step_loss_decay),
        "--total-seq-len", str(t.total_seq_len),
        "--train-data-ratio", str(t.train_data_ratio),
        "--hidden-states-dtype", t.hidden_states_dtype,
        "--checkpoint-freq", str(t.checkpoint_freq),
        "--seed", str(t.seed),
        "--full-attention-indices", "0",  # one full-attention layer, as vLLM serves it
    ]  # fmt: skip
    if t.max_steps is not None:
        argv += ["--max-steps", str(t.max_steps)]
    if t.init_from is not None:
        d2t, t2d = vocab_files(config)
        argv += ["--d2t-path", str(d2t), "--t2d-path", str(t2d)]
    if not resume:
        argv.append("--no-resume-from-checkpoint")
    if on_cpu:
        argv += CPU_ARGS
    return argv + t.extra_args


def train(config: BuildConfig, target_dir: str, resume: bool = True) -> Path:
    """Run speculators' trainer in this process; return the checkpoint directory."""
    if not (data_path(config) / "token_freq.pt").exists():
        raise SpecwiseError(
            f"No training data in {data_path(config)}; run `specwise draft data` first."
        )
    cpu.check_version()
    on_cpu = cpu.apply()
    import speculators.train.cli as spec_cli
    from speculators.train.config import TrainConfig

    if config.train.init_from is not None:
        head = head_tensors(config.train.init_from, config.train.draft_vocab_size)
        write_vocab(head, *vocab_files(config))
        _warm_start_with(config.train.init_from, head, spec_cli)
    argv = speculators_argv(config, target_dir, on_cpu, resume)
    cfg = TrainConfig.resolve(argv)
    _log_metrics_to(config.workdir / "train_metrics.jsonl", spec_cli)
    spec_cli.main(cfg)
    return checkpoint_dir(config)


def vocab_files(config: BuildConfig) -> tuple[Path, Path]:
    """Where the warm start's draft vocabulary (d2t, t2d) is written for speculators."""
    return config.workdir / "init" / "d2t.npy", config.workdir / "init" / "t2d.npy"


def head_tensors(head: Path, draft_vocab_size: int) -> dict[str, torch.Tensor]:
    """A trained head's tensors, checked to be an EAGLE-3 head of this draft vocabulary size."""
    path = head / "model.safetensors"
    if not path.exists():
        raise SpecwiseError(
            f"train.init_from: {path} does not exist; point it at a head directory "
            "(an exported head or a speculators checkpoint)."
        )
    tensors = load_file(str(path))
    if "d2t" not in tensors or "t2d" not in tensors:
        raise SpecwiseError(f"train.init_from: {path} has no d2t/t2d; is it an EAGLE-3 head?")
    if tensors["d2t"].shape[0] != draft_vocab_size:
        raise SpecwiseError(
            f"train.init_from: {head} drafts over {tensors['d2t'].shape[0]} tokens; set "
            f"train.draft_vocab_size to {tensors['d2t'].shape[0]} (it is {draft_vocab_size})."
        )
    return tensors


def write_vocab(tensors: dict[str, torch.Tensor], d2t: Path, t2d: Path) -> None:
    d2t.parent.mkdir(parents=True, exist_ok=True)
    np.save(d2t, tensors["d2t"].numpy())
    np.save(t2d, tensors["t2d"].numpy())


# config fields that change what a head's tensors compute without changing their shapes
SHAPE_FREE_FIELDS = (
    "norm_before_fc", "norm_before_residual", "norm_output", "fc_norm",
    "eagle_aux_hidden_state_layer_ids",
)  # fmt: skip


def warm_start(
    model: torch.nn.Module, tensors: dict[str, torch.Tensor], head_config: dict[str, Any]
) -> list[str]:
    """Copy the head's tensors into the freshly built model; every one must fit, and the fields
    that shapes do not show must agree. Returns the names copied (the model's other tensors —
    embedding, verifier head — stay as built)."""
    differ = [
        f"{k} {head_config[k]} vs {getattr(model.config, k, None)}"
        for k in SHAPE_FREE_FIELDS
        if k in head_config and head_config[k] != getattr(model.config, k, None)
    ]
    state = model.state_dict()
    unfit = [
        f"{name} {tuple(t.shape)} vs {tuple(state[name].shape) if name in state else 'missing'}"
        for name, t in tensors.items()
        if name not in state or state[name].shape != t.shape
    ] + differ
    if unfit:
        raise SpecwiseError(
            "train.init_from does not fit the head this config builds (" + "; ".join(unfit[:3])
            + "); use a head of the same target and shape."
        )  # fmt: skip
    with torch.no_grad():
        for name, t in tensors.items():
            state[name].copy_(t)
    return sorted(tensors)


def _warm_start_with(head: Path, tensors: dict[str, torch.Tensor], spec_cli: Any) -> None:
    """Make speculators' `build_draft_model` return the head with the trained tensors in it."""
    original = getattr(spec_cli.build_draft_model, "__wrapped__", spec_cli.build_draft_model)

    def build(*args: Any, **kwargs: Any) -> torch.nn.Module:
        model = original(*args, **kwargs)
        names = warm_start(model, tensors, json.loads((head / "config.json").read_text()))
        logging.getLogger(__name__).info("warm start: %d tensors from init_from", len(names))
        return model

    build.__wrapped__ = original  # type: ignore[attr-defined]
    spec_cli.build_draft_model = build


class _JsonlMetrics(logging.Handler):
    """Appends each metrics record of speculators' `speculators.metrics` logger as one line."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):
            line = {"step": getattr(record, "step", None), **record.msg}
            with self.path.open("a") as f:
                f.write(json.dumps(line, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def _log_metrics_to(path: Path, spec_cli: Any) -> None:
    """Attach the JSONL handler after speculators configures its loggers (it resets them)."""
    original = spec_cli.setup_metric_logger

    def setup(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        logger = logging.getLogger("speculators.metrics")
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _JsonlMetrics)]
        if os.environ.get("RANK", "0") == "0":  # torchrun's global rank; not yet initialised
            logger.addHandler(_JsonlMetrics(path))

    spec_cli.setup_metric_logger = setup


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> None:
    """`python -m specwise.draft.train CONFIG.yaml [--fresh]` (what torchrun launches)."""
    from specwise.models import KNOWN_MODELS, prepare_model

    args = sys.argv[1:] if argv is None else argv
    config = load_build_config(Path(args[0]))
    target = config.target
    target_dir = str(prepare_model(target)) if target in KNOWN_MODELS else target
    train(config, target_dir, resume="--fresh" not in args)


if __name__ == "__main__":
    main()
