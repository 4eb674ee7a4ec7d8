"""The CPU adaptation of speculators' trainer: the version guard and the names it patches."""

from __future__ import annotations

import pytest

from specwise.draft import cpu
from specwise.errors import SpecwiseError


def test_pinned_version_is_installed() -> None:
    assert cpu.check_version() == cpu.PINNED == "0.9.0"


def test_other_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu, "version", lambda _name: "0.10.0")
    with pytest.raises(SpecwiseError, match=r"written for speculators 0\.9\.0 but 0\.10\.0"):
        cpu.check_version()


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(_name: str) -> str:
        raise cpu.PackageNotFoundError

    monkeypatch.setattr(cpu, "version", missing)
    with pytest.raises(SpecwiseError, match=r"pip install --no-deps speculators==0\.9\.0"):
        cpu.check_version()


def test_patched_names_still_exist_upstream() -> None:
    """If speculators renames what cpu.apply patches, this fails before any training does."""
    import speculators.train.checkpointer as checkpointer
    import speculators.train.cli as cli
    import speculators.train.trainer as trainer

    assert callable(trainer.get_local_rank) and hasattr(trainer._StepTimer, "mark")
    assert callable(cli.maybe_setup_distributed) and callable(checkpointer.get_current_device)
    assert isinstance(cli.Trainer, type)


def test_apply_patches_without_accelerator() -> None:
    import speculators.train.cli as cli
    import speculators.train.trainer as trainer

    assert cpu.apply() is True  # this machine has no accelerator
    assert trainer.get_local_rank() == "cpu"
    assert cli.Trainer.__name__ == "CpuTrainer"
    timer = trainer._StepTimer(enabled=True)
    timer.mark("start")  # upstream would call torch.accelerator.synchronize() here
    assert timer.now() is not None
