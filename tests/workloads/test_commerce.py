import json

import jsonschema
import pytest

from specwise.errors import SpecwiseError
from specwise.workloads.commerce import (
    KINDS,
    MAX_TOKENS,
    check_search_params,
    generate,
    parse_weights,
    system_prompt,
    write_commerce,
)
from specwise.workloads.commerce_data import FIRST_NAMES, SEARCH_SCHEMA, TOOLS
from specwise.workloads.loaders import load_jsonl
from specwise.workloads.stats import duplicates, overlap

TOOL_PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


@pytest.fixture(scope="module")
def seed1():
    return generate(600, seed=1)


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = write_commerce(tmp_path / "a.jsonl", 400, seed=1)
    b = write_commerce(tmp_path / "b.jsonl", 400, seed=1)
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_text().splitlines()) == 400


def test_seeds_share_few_requests(seed1):
    shares = overlap(seed1, generate(600, seed=2))
    assert shares["request"] < 0.05
    assert shares["conversation"] < 0.10  # ignoring the per-customer session block
    assert duplicates(seed1) == 0


def test_train_and_eval_are_disjoint():
    train, evals = generate(500, seed=1, split="train"), generate(500, seed=1, split="eval")
    assert overlap(train, evals) == {"request": 0.0, "conversation": 0.0, "last_user": 0.0}
    ids = {r.extra["customer_id"] for r in train}
    assert ids.isdisjoint(r.extra["customer_id"] for r in evals)
    assert first_names(train) <= set(FIRST_NAMES[0::2])
    assert first_names(evals) <= set(FIRST_NAMES[1::2])


def first_names(requests):
    return {r.messages[0]["content"].rsplit("\nCustomer: ", 1)[1].split()[0] for r in requests}


def test_every_request_starts_with_the_shared_system_prompt(seed1):
    prompt = system_prompt()
    assert len(prompt) > 6000  # a long shared prefix: policy + tools + schema
    for r in seed1:
        assert r.messages[0]["role"] == "system"
        assert r.messages[0]["content"].startswith(prompt)
        assert r.messages[-1]["role"] in ("user", "tool")
        assert all(isinstance(m["content"], str) for m in r.messages)


def test_kinds_max_tokens_and_expected_answers(seed1):
    assert {r.kind for r in seed1} == set(KINDS)
    assert any(len(r.messages) > 4 for r in seed1)  # multi-turn with tool results
    assert any(m["role"] == "tool" for r in seed1 for m in r.messages)
    for r in seed1:
        assert r.max_tokens == MAX_TOKENS[r.kind]
        expected = r.extra["expected"]
        if r.kind == "search_params":
            assert r.extra["schema"] == "SearchParams"
            jsonschema.validate(json.loads(expected), SEARCH_SCHEMA)
        elif r.kind == "tool_call":
            call = json.loads(expected)
            assert call["tool"] == r.extra["expected_tool"]
            assert call["arguments"] == r.extra["expected_arguments"]
            jsonschema.validate(call["arguments"], TOOL_PARAMS[call["tool"]])
        else:
            assert not expected.startswith("{") and len(expected.split()) >= 8


def test_weights_select_kinds():
    only_search = generate(50, seed=3, weights="search_params=1")
    assert {r.kind for r in only_search} == {"search_params"}
    assert parse_weights(None)["tool_call"] == pytest.approx(0.4)
    assert parse_weights({"answer": 2})["search_params"] == 0


@pytest.mark.parametrize("bad", ["search=1", "tool_call=x", "answer=-1,tool_call=1", "answer=0"])
def test_bad_weights_say_how_to_write_them(bad):
    with pytest.raises(SpecwiseError, match=r"^Weights"):
        parse_weights(bad)


def test_bad_split_and_n():
    with pytest.raises(SpecwiseError, match="train"):
        generate(5, seed=1, split="test")
    with pytest.raises(SpecwiseError, match="at least 1"):
        generate(0, seed=1)


def test_openai_tools_are_optional():
    plain = generate(20, seed=4)
    with_tools = generate(20, seed=4, openai_tools=True)
    assert all(r.tools is None for r in plain)
    assert all((r.tools is not None) == (r.kind != "search_params") for r in with_tools)


def test_written_file_loads_back_unchanged(tmp_path):
    path = write_commerce(tmp_path / "w.jsonl", 30, seed=5)
    loaded = load_jsonl(path)
    assert [r.to_json() for r in loaded] == [r.to_json() for r in generate(30, seed=5)]


def test_check_search_params():
    good = '{"category": "backpacks", "keywords": "daypack", "sort": "rating"}'
    assert check_search_params(good) == {"strict_json": True, "json": True, "valid": True}
    fenced = f"Here you go:\n```json\n{good}\n```"
    assert check_search_params(fenced) == {"strict_json": False, "json": True, "valid": True}
    wrong = '{"category": "toys", "keywords": "kite", "sort": "rating"}'
    assert check_search_params(wrong)["valid"] is False
    assert check_search_params("I found some backpacks!") == {
        "strict_json": False,
        "json": False,
        "valid": False,
    }
