"""Run speculators' EAGLE-3 trainer on a machine without an accelerator.

speculators 0.9.0 assumes a GPU (or other torch accelerator) in these places, all adapted here
and nowhere else:
1. `Trainer` moves the model and every batch to `local_rank` (the int 0, i.e. cuda:0);
2. `Trainer` picks the autocast device from the current accelerator, falling back to "cuda";
3. `_StepTimer` calls `torch.accelerator.synchronize()` on every logged step;
4. the checkpointer loads resumed weights and optimizer state onto `get_current_device()`,
   which falls back to "cuda:0";
5. `maybe_setup_distributed` (torchrun) raises "No accelerator found" instead of using gloo.
`apply()` patches these by name for the pinned version only; with an accelerator present it
changes nothing, so the same command trains on a GPU unchanged. On CPU also pass
`--loss-implementation eager --draft-attn-impl sdpa --num-workers 0` (no Triton, no flex
attention; spawned loader workers only cost memory on 2 cores).
"""

from __future__ import annotations

import os
import time
from importlib.metadata import PackageNotFoundError, version

from specwise.errors import SpecwiseError

PINNED = "0.9.0"
INSTALL = f"pip install --no-deps speculators=={PINNED} hs-connectors=={PINNED}"
_applied = False


def check_version() -> str:
    """The installed speculators version; raise unless it is the one these patches were made for."""
    try:
        found = version("speculators")
    except PackageNotFoundError:
        raise SpecwiseError(
            f"The package speculators is not installed; run `make setup` or `{INSTALL}`."
        ) from None
    if found != PINNED:
        raise SpecwiseError(
            f"specwise's CPU adaptation is written for speculators {PINNED} but {found} is "
            f"installed; run `{INSTALL}` (or re-check src/specwise/draft/cpu.py against {found})."
        )
    return found


def has_accelerator() -> bool:
    import torch

    return torch.accelerator.is_available()


def apply(force: bool = False) -> bool:
    """Patch speculators for CPU training; True if patched (no accelerator, or `force`)."""
    global _applied
    check_version()
    if _applied or not (force or not has_accelerator()):
        return _applied
    import speculators.train.checkpointer as checkpointer
    import speculators.train.cli as cli
    import speculators.train.trainer as trainer

    trainer.get_local_rank = lambda: "cpu"  # 1: model.to / batch.to("cpu")
    trainer._StepTimer = _make_step_timer(trainer._StepTimer)  # 3
    cli.Trainer = _make_trainer(trainer.Trainer)  # 2
    checkpointer.get_current_device = lambda: "cpu"  # 4
    cli.maybe_setup_distributed = _setup_distributed_gloo  # 5
    _applied = True
    return True


def _make_trainer(base: type) -> type:
    class CpuTrainer(base):  # type: ignore[misc, valid-type]
        """speculators' Trainer with autocast on the CPU (bf16 autocast is supported there)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.device_type = "cpu"

    return CpuTrainer


def _make_step_timer(base: type) -> type:
    class CpuStepTimer(base):  # type: ignore[misc, valid-type]
        """The step timer without accelerator synchronisation (CPU work is synchronous)."""

        def mark(self, name: str) -> None:
            if self.enabled:
                self._marks[name] = time.perf_counter()

        def now(self) -> float | None:
            return time.perf_counter() if self.enabled else None

    return CpuStepTimer


def _setup_distributed_gloo(sp_size: int = 1) -> None:
    """torchrun on CPU: a gloo process group and speculators' topology state, as upstream does."""
    import torch.distributed as dist
    from speculators.train import distributed as topo

    topo._local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    topo._is_distributed = "LOCAL_RANK" in os.environ
    if not topo._is_distributed:
        return
    dist.init_process_group("gloo")
    topo._rank = dist.get_rank()
    topo._world_size = dist.get_world_size()
    topo._init_sp_process_groups(topo._rank, topo._world_size, sp_size)
