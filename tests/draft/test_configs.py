"""The build configs under configs/draft: each loads, and each warm start can be had from a fresh
clone — a committed head, or the head another config exports (built first)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from specwise.draft.config import load_build_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "draft").glob("*.yaml"))


@cache
def export_dirs() -> dict[Path, Path]:
    """Each config's export.out, read once for all the parametrized cases."""
    return {p: load_build_config(p).export.out for p in CONFIGS}


def test_there_are_configs() -> None:
    assert (ROOT / "configs" / "draft" / "smollm2-commerce.yaml") in CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_its_warm_start_exists(path: Path) -> None:
    config = load_build_config(path)
    init = config.train.init_from
    if init is None:
        return
    exported = {out for p, out in export_dirs().items() if p != path}
    committed = (ROOT / init / "model.safetensors").exists()
    assert committed or init in exported, (
        f"{path.name}: train.init_from {init} is neither a committed head nor another config's "
        "export.out"
    )


def test_shipped_config_trains_on_the_train_split() -> None:
    config = load_build_config(ROOT / "configs" / "draft" / "smollm2-commerce.yaml")
    assert config.data.train.split == "train"
    assert config.export.out == Path("heads/smollm2-commerce-eagle3")
