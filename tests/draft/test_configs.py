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


def test_an_empty_config_never_exports_into_a_committed_head(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    config = load_build_config(empty)
    assert config.export.out == config.workdir / "head"
    assert not str(config.export.out).startswith("heads/")


def test_an_export_never_replaces_another_builds_head(tmp_path: Path) -> None:
    import json

    from specwise.draft.build import refuse_other_head
    from specwise.errors import SpecwiseError

    head = tmp_path / "head"
    head.mkdir()
    (head / "config.json").write_text("{}")
    (head / "specwise.json").write_text(json.dumps({"name": "smollm2-commerce-eagle3"}))
    refuse_other_head(head, "smollm2-commerce-eagle3")  # its own build: a rebuild
    with pytest.raises(SpecwiseError, match="holds the head 'smollm2-commerce-eagle3', not this"):
        refuse_other_head(head, "my-new-head")
