"""A tiny random Llama target and its hidden-state datasets: the draft pipeline without a server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # draft_helpers (pytest uses importlib mode)

from draft_helpers import make_rows, save_tiny_target


@pytest.fixture(scope="session")
def tiny_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_target(tmp_path_factory.mktemp("tiny-target"))


@pytest.fixture(scope="session")
def tiny_data(tiny_target: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workdir with train/ and held_out/ hidden-state datasets of the tiny target."""
    from specwise.draft.hidden import build_hidden_dataset

    workdir = tmp_path_factory.mktemp("draft-work")
    build_hidden_dataset(tiny_target, make_rows(24), workdir / "train", 8, 4)
    build_hidden_dataset(tiny_target, make_rows(6, seed=9), workdir / "held_out", 8, 4)
    return workdir
