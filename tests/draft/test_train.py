"""speculators' trainer on the tiny target: loss falls, resume continues, two CPU processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from draft_helpers import tiny_config
from safetensors.torch import load_file

from specwise.draft.train import read_metrics, speculators_argv, train
from specwise.errors import SpecwiseError


def train_losses(workdir: Path) -> list[float]:
    return [
        m["train"]["loss"] for m in read_metrics(workdir / "train_metrics.jsonl") if "train" in m
    ]


def steps(workdir: Path) -> list[int]:
    return [m["step"] for m in read_metrics(workdir / "train_metrics.jsonl") if "train" in m]


@pytest.fixture(scope="module")
def trained(tiny_target: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("trained")
    shutil.copytree(tiny_data / "train", workdir / "train")
    train(tiny_config(tiny_target, workdir, epochs=3), str(tiny_target), resume=False)
    return workdir


def test_cpu_flags_and_config(tiny_target: Path, tmp_path: Path) -> None:
    argv = speculators_argv(tiny_config(tiny_target, tmp_path), "T", on_cpu=True, resume=False)
    joined = " ".join(argv)
    assert "--loss-implementation eager --draft-attn-impl sdpa --num-workers 0" in joined
    assert "--no-resume-from-checkpoint" in argv and "--ttt-step-loss-decay 0.8" in joined


def test_short_training_lowers_the_loss(trained: Path) -> None:
    losses = train_losses(trained)
    assert len(losses) >= 6
    assert sum(losses[-2:]) / 2 < 0.8 * sum(losses[:2]) / 2
    assert {p.name for p in (trained / "checkpoints").iterdir()} >= {"0", "1", "2"}


def test_resume_continues_from_the_checkpoint(tiny_target: Path, trained: Path) -> None:
    before = steps(trained)
    first_epoch = (trained / "checkpoints" / "0" / "model.safetensors").stat().st_mtime_ns
    train(tiny_config(tiny_target, trained, epochs=4), str(tiny_target), resume=True)
    after = steps(trained)[len(before) :]
    assert after and min(after) > max(before)  # global step carries on, no epoch redone
    assert (trained / "checkpoints" / "3" / "model.safetensors").exists()
    assert (trained / "checkpoints" / "0" / "model.safetensors").stat().st_mtime_ns == first_epoch


def test_two_cpu_processes_under_torchrun(
    tiny_target: Path, tiny_data: Path, tmp_path: Path
) -> None:
    shutil.copytree(tiny_data / "train", tmp_path / "train")
    config = tiny_config(tiny_target, tmp_path, epochs=1)
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    torchrun = Path(sys.executable).with_name("torchrun")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [str(torchrun), "--nproc-per-node", "2", "-m", "specwise.draft.train", str(path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "world_size=2" in done.stderr + done.stdout or (tmp_path / "checkpoints/0").exists()
    assert (tmp_path / "checkpoints" / "0" / "model.safetensors").exists()
    assert train_losses(tmp_path)  # rank 0 logged its steps


@pytest.fixture(scope="module")
def exported(trained: Path, tiny_target: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained tiny head as `specwise draft export` writes it (no embedding copy)."""
    from specwise.draft.export import export_head

    out = tmp_path_factory.mktemp("exported") / "head"
    return export_head(trained / "checkpoints", out, str(tiny_target))


def test_warm_start_begins_where_the_head_left_off(
    tiny_target: Path, tiny_data: Path, trained: Path, exported: Path, tmp_path: Path
) -> None:
    shutil.copytree(tiny_data / "train", tmp_path / "train")
    config = tiny_config(tiny_target, tmp_path, epochs=1, init_from=str(exported))
    train(config, str(tiny_target), resume=False)
    cold, warm = train_losses(trained), train_losses(tmp_path)
    assert warm and warm[0] < 0.8 * cold[0]  # a random head starts high; this one does not
    assert warm[0] < 1.2 * max(cold[-3:])
    d2t = np.load(tmp_path / "init" / "d2t.npy")
    assert np.array_equal(d2t, load_file(str(exported / "model.safetensors"))["d2t"].numpy())


def test_warm_start_refuses_a_head_that_does_not_fit(
    tiny_target: Path, tiny_data: Path, exported: Path, tmp_path: Path
) -> None:
    shutil.copytree(tiny_data / "train", tmp_path / "train")
    wrong_vocab = tiny_config(tiny_target, tmp_path, draft_vocab_size=32, init_from=str(exported))
    with pytest.raises(SpecwiseError, match=r"set train\.draft_vocab_size to 64"):
        train(wrong_vocab, str(tiny_target), resume=False)
    other = tmp_path / "other-head"
    shutil.copytree(exported, other)
    config = json.loads((other / "config.json").read_text())
    config["norm_before_fc"] = not config.get("norm_before_fc", False)
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(SpecwiseError, match=r"does not fit the head this config builds.*norm_be"):
        train(tiny_config(tiny_target, tmp_path, init_from=str(other)), str(tiny_target), False)
    assert train_losses(tmp_path) == []  # refused before any training step
    assert not list((tmp_path / "checkpoints").glob("*/model.safetensors"))
