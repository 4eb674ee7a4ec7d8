import json

import pytest

from specwise.errors import SpecwiseError
from specwise.workloads.loaders import load_json_array, load_jsonl, load_prompts, load_workload

DIALOGUE = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "price of X?"},
    {"role": "assistant", "content": "$5."},
]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def jsonl(tmp_path, *objs, name="w.jsonl"):
    return write(tmp_path, name, "".join(json.dumps(o) + "\n" for o in objs))


def test_jsonl_keeps_open_requests_and_extra_keys(tmp_path):
    obj = {"id": "r1", "messages": DIALOGUE[:4], "max_tokens": 9, "kind": "answer", "note": 1}
    (r,) = load_jsonl(jsonl(tmp_path, obj))
    assert r.to_json() == obj
    assert r.extra == {"note": 1}


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = write(
        tmp_path, "bad.jsonl", '{"messages": [{"role": "user", "content": "a"}]}\n\n{oops\n'
    )
    with pytest.raises(SpecwiseError, match=r"bad\.jsonl:3: .*fix or remove that line"):
        load_jsonl(path)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "JSON object"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "positive"),
        ({"messages": [{"role": "user", "content": "x"}], "tools": {}}, "tools"),
        ({"conversations": [{"from": "robot", "value": "x"}]}, "robot"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "no user turn"),
    ],
)
def test_invalid_records_name_the_line(tmp_path, obj, message):
    ok = {"messages": [{"role": "user", "content": "fine"}]}
    path = jsonl(tmp_path, ok, obj)
    with pytest.raises(SpecwiseError, match=rf"w\.jsonl:2: .*{message}"):
        load_jsonl(path)


def test_missing_empty_and_unknown_files(tmp_path):
    with pytest.raises(SpecwiseError, match="does not exist"):
        load_workload(tmp_path / "nope.jsonl")
    with pytest.raises(SpecwiseError, match="holds no requests"):
        load_jsonl(write(tmp_path, "empty.jsonl", "\n\n"))
    with pytest.raises(SpecwiseError, match=r"\.jsonl, \.json or \.txt"):
        load_workload(write(tmp_path, "w.csv", "a,b\n"))
    with pytest.raises(SpecwiseError, match="last, every"):
        load_workload(jsonl(tmp_path, {"prompt": "x"}), turns="all")  # type: ignore[arg-type]


def test_last_turn_option_predicts_the_final_assistant_reply(tmp_path):
    obj = {"id": "d", "messages": DIALOGUE, "kind": "answer", "max_tokens": 20, "tag": "t"}
    (r,) = load_jsonl(jsonl(tmp_path, obj))
    assert r.id == "d"
    assert r.messages == DIALOGUE[:4]
    assert (r.kind, r.max_tokens) == ("answer", 20)
    assert r.extra == {"tag": "t", "expected": "$5."}


def test_every_turn_option_makes_one_request_per_assistant_turn(tmp_path):
    path = jsonl(tmp_path, {"id": "d", "messages": DIALOGUE, "kind": "answer"})
    first, last = load_workload(path, turns="every")
    assert (first.id, first.messages, first.extra) == ("d-t2", DIALOGUE[:2], {"expected": "Hello!"})
    assert first.kind is None
    assert (last.id, last.messages, last.kind) == ("d", DIALOGUE[:4], "answer")
    assert last.extra["expected"] == "$5."


def test_every_turn_on_an_open_conversation_keeps_it_last(tmp_path):
    path = jsonl(tmp_path, {"id": "o", "messages": DIALOGUE[:4]})
    requests = load_workload(path, turns="every")
    assert [r.id for r in requests] == ["o-t2", "o"]
    assert requests[1].messages == DIALOGUE[:4]


SHAREGPT = """[
  {"id": "a", "system": "Be brief.",
   "conversations": [
     {"from": "human", "value": "hi"},
     {"from": "gpt", "value": "Hello!"},
     {"from": "human", "value": "price of X?"},
     {"from": "gpt", "value": "$5."}
   ]},
  {"conversations": [{"from": "human", "value": "where is my order?"},
                     {"from": "function_call", "value": "{\\"tool\\": \\"status\\"}"},
                     {"from": "observation", "value": "shipped"},
                     {"from": "gpt", "value": "It shipped."}]}
]
"""


def test_sharegpt_json_converts_roles_and_turns(tmp_path):
    path = write(tmp_path, "share.json", SHAREGPT)
    a, b = load_workload(path)
    assert a.id == "a" and a.messages == DIALOGUE[:4] and a.extra == {"expected": "$5."}
    assert [m["role"] for m in b.messages] == ["user", "assistant", "tool"]
    assert b.id == "share-1"
    every = load_json_array(path, turns="every")
    assert [r.id for r in every] == ["a-t2", "a", "share-1-t1", "share-1"]
    assert every[2].extra == {"expected": '{"tool": "status"}'}


def test_sharegpt_lines_in_jsonl(tmp_path):
    record = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}
    (r,) = load_jsonl(jsonl(tmp_path, record))
    assert r.messages == [{"role": "user", "content": "hi"}] and r.extra == {"expected": "yo"}


def test_sharegpt_bad_item_names_its_line(tmp_path):
    text = SHAREGPT.replace('"from": "observation"', '"from": "oracle"')
    with pytest.raises(SpecwiseError, match=r"share\.json:9: item 1: .*oracle"):
        load_workload(write(tmp_path, "share.json", text))


def test_json_syntax_errors_name_the_line(tmp_path):
    text = SHAREGPT.replace('"value": "$5."}', '"value": "$5."')
    with pytest.raises(SpecwiseError, match=r"share\.json:8: "):
        load_workload(write(tmp_path, "share.json", text))
    with pytest.raises(SpecwiseError, match=r"x\.json:1: expected a JSON array"):
        load_workload(write(tmp_path, "x.json", '{"a": 1}'))
    with pytest.raises(SpecwiseError, match=r"y\.json:2: expected `,` or `\]`"):
        load_workload(write(tmp_path, "y.json", '["a"\n "b"]'))


def test_plain_prompt_lists(tmp_path):
    txt = load_prompts(write(tmp_path, "p.txt", "first prompt\n\nsecond prompt\n"))
    assert [r.messages[0]["content"] for r in txt] == ["first prompt", "second prompt"]
    assert [r.id for r in txt] == ["p-1", "p-3"]
    arr = load_workload(write(tmp_path, "p.json", '["one", "two"]'))
    assert [r.messages for r in arr] == [
        [{"role": "user", "content": "one"}],
        [{"role": "user", "content": "two"}],
    ]
    (prompt,) = load_jsonl(jsonl(tmp_path, {"prompt": "three", "max_tokens": 4}))
    assert prompt.messages == [{"role": "user", "content": "three"}] and prompt.max_tokens == 4
