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
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

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

    argv = speculators_argv(config, target_dir, on_cpu, resume)
    cfg = TrainConfig.resolve(argv)
    _log_metrics_to(config.workdir / "train_metrics.jsonl", spec_cli)
    spec_cli.main(cfg)
    return checkpoint_dir(config)


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
