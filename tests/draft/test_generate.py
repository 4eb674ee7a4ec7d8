"""One-pass answers + features: equal to plain greedy decoding and to one full forward pass."""

from __future__ import annotations

from pathlib import Path

import torch
from draft_helpers import PREFIX, make_rows

from specwise.draft import generate, hidden
from specwise.workloads.loaders import WorkloadRequest


def greedy(model, prompt: list[int], max_new: int, eos: set[int]) -> list[int]:
    ids, out = list(prompt), []
    with torch.no_grad():
        while len(out) < max_new and not (out and out[-1] in eos):
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            out.append(int(logits.argmax()))
            ids.append(out[-1])
    return out


def test_batch_matches_plain_greedy_and_full_forward(tiny_target: Path) -> None:
    model = hidden.load_target(tiny_target)
    prompts = [r["prompt_token_ids"] for r in make_rows(3)]
    prefix = hidden.common_prefix(prompts)
    cache = generate._repeat(hidden.prefix_state(model, prompts[0][:prefix])[0], 3)
    eos = {7}  # a token the random model may or may not emit: both endings get exercised
    answers, feats = generate.generate_batch(model, cache, prefix, prompts, [5, 9, 3], eos)
    for prompt, answer, f, n in zip(prompts, answers, feats, [5, 9, 3], strict=True):
        assert answer == greedy(model, prompt, n, eos)
        full = torch.tensor([prompt + answer])
        alone = hidden.capture(model, full, torch.ones_like(full), None)[0, prefix:]
        assert f.shape == alone.shape
        torch.testing.assert_close(f, alone, atol=1e-4, rtol=1e-4)


class StubTokenizer:
    """apply_chat_template: the shared prefix then the user's numbers; decode: the ids as text."""

    eos_token_id = 2

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=True, tokenize=True):
        return PREFIX + [int(t) for t in messages[-1]["content"].split()] + [5]

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return " ".join(map(str, ids))


def test_dataset_resumes_and_keeps_request_order(tiny_target: Path, tmp_path: Path) -> None:
    model = hidden.load_target(tiny_target)
    users = [" ".join(str(200 + (i * 7 + j) % 50) for j in range(3 + i)) for i in range(5)]
    requests = [
        WorkloadRequest(id=f"q{i}", messages=[{"role": "user", "content": u}], max_tokens=6)
        for i, u in enumerate(users)
    ]
    first = generate.generate_dataset(model, StubTokenizer(), requests[:3], tmp_path, 4, 2)
    rows = generate.generate_dataset(model, StubTokenizer(), requests, tmp_path, 4, 2)
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(5)] and rows[:3] == first
    assert len((tmp_path / "answers.jsonl").read_text().splitlines()) == 5  # 3 + the 2 new
    from safetensors.torch import load_file

    hs = load_file(str(tmp_path / "hidden_states" / "hs_4.safetensors"))
    n_prompt = len(rows[4]["prompt_token_ids"])
    assert (
        hs["token_ids"].tolist()
        == (rows[4]["prompt_token_ids"] + rows[4]["output_token_ids"])[n_prompt - 4 :]
    )
    assert hs["hidden_states"].shape == (hs["token_ids"].shape[0], 4, 64)


def test_long_window_stores_the_shared_prefix_features(tiny_target: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    model = hidden.load_target(tiny_target)
    requests = [
        WorkloadRequest(id=f"q{i}", messages=[{"role": "user", "content": f"{210 + i} 230"}])
        for i in range(2)
    ]
    rows = generate.generate_dataset(model, StubTokenizer(), requests, tmp_path, 10_000, 2, 0.0, 4)
    for row in rows:
        ids = row["prompt_token_ids"] + row["output_token_ids"]
        hs = load_file(str(tmp_path / "hidden_states" / f"hs_{row['index']}.safetensors"))
        full = torch.tensor([ids])
        alone = hidden.capture(model, full, torch.ones_like(full), None)[0]
        assert hs["token_ids"].tolist() == ids
        torch.testing.assert_close(hs["hidden_states"].float(), alone.float(), atol=0.05, rtol=0.05)
