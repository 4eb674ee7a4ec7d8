"""`specwise draft build CONFIG`: data → train → export → offline evaluation, timed, resumable.

Every stage skips what an earlier (interrupted) run finished: answers already regenerated,
hidden-state files already written, training checkpoints (resumed). The facts of the build
(data sizes, stage times, offline acceptance) go to `<head>/specwise.json` and the model card.
"""

from __future__ import annotations

import json
import platform
import time
from math import nan
from pathlib import Path
from statistics import fmean
from typing import Any

from specwise.draft.config import BuildConfig, load_build_config
from specwise.draft.export import export_head, model_card
from specwise.errors import SpecwiseError

FACTS = "specwise.json"


def target_dir_of(config: BuildConfig) -> str:
    from specwise.models import KNOWN_MODELS, prepare_model

    if config.target in KNOWN_MODELS:
        return str(prepare_model(config.target))
    if not (Path(config.target) / "config.json").exists():
        raise SpecwiseError(
            f"Target {config.target!r} is neither a prepared local model nor a model directory; "
            "pass `smollm2` or the path of a Hugging Face Llama-family directory."
        )
    return config.target


def make_data(config: BuildConfig, target_dir: str) -> dict[str, Any]:
    """Answers of the target and its features for the train and held-out traffic."""
    from specwise.draft.hidden import load_target

    if config.data.engine == "vllm":
        answers = _data_with_vllm(config, target_dir)
    else:
        from transformers import AutoTokenizer

        from specwise.draft.data import load_traffic
        from specwise.draft.generate import generate_dataset
        from specwise.draft.hidden import dataset_records, write_dataset

        model, tokenizer = load_target(target_dir), AutoTokenizer.from_pretrained(target_dir)
        answers = {}
        for split, traffic in (("train", config.data.train), ("held_out", config.data.held_out)):
            out = config.workdir / split
            answers[split] = generate_dataset(
                model, tokenizer, load_traffic(traffic), out, config.data.max_context,
                config.data.batch_size, config.data.temperature,
                max_new_cap=config.data.max_new_tokens,
            )  # fmt: skip
            prompt_loss = config.data.prompt_loss and split == "train"  # held out: answers only
            table = dataset_records(answers[split], config.data.max_context, prompt_loss)
            write_dataset(table, out)
    return {
        split: {
            "requests": len(rows),
            "answer_tokens": sum(len(r["output_token_ids"]) for r in rows),
        }
        for split, rows in answers.items()
    }


def _data_with_vllm(config: BuildConfig, target_dir: str) -> dict[str, list[dict[str, Any]]]:
    from specwise.draft.data import regenerate_all
    from specwise.draft.hidden import build_hidden_dataset, load_target

    answers = regenerate_all(config, config.workdir / "logs")
    model = load_target(target_dir)
    for split, rows in answers.items():
        build_hidden_dataset(
            target_dir, rows, config.workdir / split, config.data.max_context,
            config.data.batch_size, model=model,
            prompt_loss=config.data.prompt_loss and split == "train",
        )  # fmt: skip
    return answers


def write_facts(head: Path, facts: dict[str, Any]) -> None:
    """specwise.json (all facts) and README.md (the model card) of an exported head."""
    (head / FACTS).write_text(json.dumps(facts, indent=2) + "\n")
    (head / "README.md").write_text(model_card(card_fields(facts)))


def read_facts(head: Path) -> dict[str, Any]:
    path = head / FACTS
    return json.loads(path.read_text()) if path.exists() else {}


def card_fields(facts: dict[str, Any]) -> dict[str, Any]:
    data = facts.get("data", {})
    train, held = data.get("train", {}), data.get("held_out", {})
    minutes = facts.get("stage_minutes", {})
    total = f"{sum(minutes.values()):.1f} min" if minutes else "n/a"
    stages = ", ".join(f"{k} {v:.1f}" for k, v in minutes.items())
    return {
        "name": facts.get("name", "draft head"),
        "target": facts.get("verifier", "the target"),
        "traffic": facts.get("traffic", "the team's traffic"),
        "head_path": facts.get("head_path", "HEAD_DIR"),
        "draft_vocab": facts.get("draft_vocab_size", "?"),
        "layer_ids": facts.get("layer_ids", "?"),
        "command": facts.get("command", ""),
        "data": f"{train.get('requests', '?')} train answers ({train.get('answer_tokens', '?')} "
        f"answer tokens), {held.get('requests', '?')} held-out answers",
        "training": facts.get("training", ""),
        "machine": facts.get("machine", platform.machine()),
        "build_minutes": f"{total} ({stages})" if stages else total,
        "server": facts.get("server", "vLLM"),
        "offline": facts.get("offline"),
        "measured": facts.get("measured"),
        "notes": facts.get("notes", ""),
    }


def build(config_path: Path) -> Path:
    """The whole build; returns the exported head directory."""
    run_data(config_path)
    run_train(config_path)
    return run_export(config_path, evaluate_offline=True)


def timed(workdir: Path, stage: str, start: float) -> None:
    """Add this stage's minutes to <workdir>/stage_minutes.json (a resumed stage adds up)."""
    path = workdir / "stage_minutes.json"
    minutes = json.loads(path.read_text()) if path.exists() else {}
    minutes[stage] = minutes.get(stage, 0.0) + (time.monotonic() - start) / 60
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(minutes, indent=2) + "\n")


def stage_minutes(workdir: Path) -> dict[str, float]:
    path = workdir / "stage_minutes.json"
    return json.loads(path.read_text()) if path.exists() else {}


def describe(
    config: BuildConfig, config_path: Path, target_dir: str, data: dict[str, Any]
) -> dict[str, Any]:
    from specwise.draft.hidden import aux_layer_ids
    from specwise.draft.train import read_metrics

    layers = json.loads((Path(target_dir) / "config.json").read_text())["num_hidden_layers"]
    t = config.train
    steps = [m for m in read_metrics(config.workdir / "train_metrics.jsonl") if "train" in m]
    losses = [m["train"]["loss"] for m in steps if "loss" in m["train"]]
    n = min(10, len(losses))
    first, last = (fmean(losses[:10]), fmean(losses[-10:])) if losses else (nan, nan)
    warm = f"warm-started from {t.init_from}, " if t.init_from is not None else ""
    return {
        "name": config.name,
        "verifier": config.export.verifier or target_dir,
        "traffic": traffic_description(config),
        "head_path": str(config.export_out),
        "draft_vocab_size": t.draft_vocab_size,
        "layer_ids": aux_layer_ids(layers),
        "command": f"specwise draft build {config_path}"
        + (f"  # needs {t.init_from}: build it first (its README.md says how)" if warm else ""),
        "data": data,
        "training": (
            f"speculators 0.9.0 eagle3, {warm}{len(steps)} steps ({t.epochs} epochs, packed "
            f"{t.total_seq_len} tokens/step), {t.optimizer} lr {t.lr} {t.scheduler_type}, "
            f"TTT {t.ttt_steps} steps decay {t.ttt_step_loss_decay}; loss (mean of the first / "
            f"last {n} steps) {first:.4f} → {last:.4f}"
        ),
        "machine": machine(),
    }


def traffic_description(config: BuildConfig) -> str:
    t = config.data.train
    if t.file is not None:
        return f"the requests of {t.file}"
    return f"{t.commerce_n} requests of the commerce workload ({t.split} split, seed {t.seed})"


def machine() -> str:
    import os

    from specwise.draft.cpu import has_accelerator

    device = "an accelerator" if has_accelerator() else "no GPU"
    return f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, {device}"


# One function per `specwise draft` command.


def run_data(config_path: Path) -> dict[str, Any]:
    config = load_build_config(config_path)
    start = time.monotonic()
    data = make_data(config, target_dir_of(config))
    (config.workdir / "data.json").write_text(json.dumps(data, indent=2) + "\n")
    timed(config.workdir, "data", start)
    return data


def run_train(config_path: Path, fresh: bool = False) -> Path:
    from specwise.draft.train import train

    config = load_build_config(config_path)
    start = time.monotonic()
    out = train(config, target_dir_of(config), resume=not fresh)
    timed(config.workdir, "train", start)
    return out


def run_export(
    config_path: Path, checkpoint: Path | None = None, evaluate_offline: bool = True
) -> Path:
    """Export the latest (or given) checkpoint, evaluate it offline, write the model card."""
    from specwise.draft.evaluate import evaluate
    from specwise.draft.train import checkpoint_dir

    config = load_build_config(config_path)
    target_dir = target_dir_of(config)
    start = time.monotonic()
    out, k = config.export_out, config.export.num_speculative_tokens
    refuse_other_head(out, config.name)
    data_file = config.workdir / "data.json"
    data = json.loads(data_file.read_text()) if data_file.exists() else {}
    facts = read_facts(out) | describe(config, config_path, target_dir, data)
    facts.pop("measured", None)  # a new export has not been measured yet
    export_head(checkpoint or checkpoint_dir(config), out, facts["verifier"], k)
    if evaluate_offline and (config.workdir / "held_out" / "dataset_info.json").exists():
        facts["offline"] = evaluate(out, target_dir, config.workdir / "held_out", config.eval_k_max)
    timed(config.workdir, "export+eval", start)
    facts["stage_minutes"] = stage_minutes(config.workdir)
    write_facts(out, facts)
    return out


def refuse_other_head(out: Path, name: str) -> None:
    """Never export over a head another build made (its specwise.json names another build)."""
    other = read_facts(out).get("name") if (out / "config.json").exists() else None
    if other is not None and other != name:
        raise SpecwiseError(
            f"{out} holds the head {other!r}, not this build's ({name!r}); set export.out to "
            "another directory (or name the build after the head it replaces)."
        )


def run_eval(
    head: Path, target: str, data_dir: Path, k_max: int = 6, out_json: Path | None = None
) -> dict[str, Any]:
    """Offline acceptance of any EAGLE-3 head (speculators or research format) on data_dir."""
    import tempfile

    from specwise.draft.evaluate import evaluate, format_table
    from specwise.draft.export import import_research
    from specwise.draft.hidden import aux_layer_ids

    if not (data_dir / "hidden_states").is_dir():
        raise SpecwiseError(
            f"--data {data_dir} holds no hidden_states/; pass the held-out directory that "
            "`specwise draft data` wrote (e.g. WORKDIR/held_out)."
        )
    if not (head / "config.json").is_file():
        raise SpecwiseError(f"{head} has no config.json; pass a draft head directory.")
    config = BuildConfig(target=target)
    target_dir = target_dir_of(config)
    raw = json.loads((head / "config.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        if raw and "speculators_model_type" not in raw:
            layers = json.loads((Path(target_dir) / "config.json").read_text())
            ids = raw.get("eagle_config", {}).get("eagle_aux_hidden_state_layer_ids")
            ids = ids or aux_layer_ids(layers["num_hidden_layers"])
            head = import_research(head, Path(tmp) / "converted", target_dir, ids)
        result = evaluate(head, target_dir, data_dir, k_max)
    print(format_table(result))
    if out_json is not None:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(result, indent=2) + "\n")
    return result
