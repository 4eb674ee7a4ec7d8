"""The draft trainer on one GPU, unchanged: the tiny-target training of tests/draft on CUDA.

Run on a GPU machine from the repository root (speculators and its dependencies installed):

    PYTHONPATH=src:tests/draft python benchmarks/draft/one_gpu.py --out gpu_check.json

Builds the tests' tiny random Llama target and its hidden-state data, trains 3 epochs with
`specwise.draft.train.train` (the same call as `specwise draft train`), resumes one more epoch,
evaluates offline, and records where the tensors lived (CUDA memory used), the losses and the
offline acceptance. Exits non-zero if the loss did not fall or the GPU was not used.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from draft_helpers import make_rows, save_tiny_target, tiny_config

from specwise.draft.evaluate import evaluate
from specwise.draft.export import export_head
from specwise.draft.hidden import build_hidden_dataset
from specwise.draft.train import checkpoint_dir, read_metrics, train


def losses(workdir: Path) -> list[float]:
    rows = read_metrics(workdir / "train_metrics.jsonl")
    return [m["train"]["loss"] for m in rows if "train" in m]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--loss-implementation", default=None, help="speculators' (eager|fused)")
    args = parser.parse_args()
    extra = ["--mask-token-id", "0"]
    if args.loss_implementation:
        extra += ["--loss-implementation", args.loss_implementation]
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = save_tiny_target(root / "target")
        work = root / "work"
        build_hidden_dataset(target, make_rows(24), work / "train", 8, 4)
        build_hidden_dataset(target, make_rows(6, seed=9), work / "held_out", 8, 4)
        train(tiny_config(target, work, epochs=3, extra_args=extra), str(target), resume=False)
        first = losses(work)
        train(tiny_config(target, work, epochs=4, extra_args=extra), str(target), resume=True)
        every = losses(work)
        head = root / "head"
        export_head(checkpoint_dir(tiny_config(target, work)), head, str(target), 3)
        offline = evaluate(head, target, work / "held_out", k_max=3)
    result = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "speculators_args": extra,
        "cuda_max_memory_allocated_mb": torch.cuda.max_memory_allocated() / 2**20,
        "train_steps_first_run": len(first),
        "loss_first_two": first[:2],
        "loss_last_two": first[-2:],
        "steps_after_resume": len(every) - len(first),
        "offline_k3": offline["by_k"][-1],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if result["cuda_max_memory_allocated_mb"] <= 0:
        raise SystemExit("training never allocated CUDA memory")
    if sum(first[-2:]) >= 0.8 * sum(first[:2]):
        raise SystemExit("the loss did not fall")


if __name__ == "__main__":
    main()
