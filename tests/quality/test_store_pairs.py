"""pairs_from_store: runs pair with the baseline arm's run of the same T / concurrency / repeat;
every configuration has its own requests, so there is no A/A control between baseline runs."""

from __future__ import annotations

import json

from specwise import store
from specwise import study as study_mod
from specwise.bench.client import RequestRecord
from specwise.quality import exact
from specwise.quality.run import JudgeOptions, pairs_from_store, run_judge
from specwise.workloads.commerce import generate

SPEC = {
    "name": "t",
    "arms": [{"name": "baseline"}, {"name": "ngram", "speculative_config": {"method": "ngram"}}],
    "concurrency": [1],
    "temperature": [0, 0.5],
    "requests": 3,
    "repeats": 2,
}


def save(conn, position, arm, temperature, repeat, texts):
    run = {"key": f"{arm}-{temperature}-{repeat}", "position": position, "arm": arm}
    run |= {"concurrency": 1, "temperature": temperature, "repeat": repeat, "status": "done"}
    run["requests"] = len(texts)
    records = [
        RequestRecord(request_id=rid, ok=True, text=t, extra={"index": i}).to_dict()
        for i, (rid, t) in enumerate(texts)
    ]
    store.save_run(conn, run, records, {})


def study_ids(study: study_mod.Study, n: int) -> list[str]:
    """The ids of the study's first n workload requests (its commerce generator)."""
    w = study.workload
    return [r.id for r in generate(n, w.seed, w.split, w.weights)]


def test_pairs_and_verdicts_from_a_store(tmp_path):
    study = study_mod.Study.model_validate(SPEC)
    ids = study_ids(study, 9)
    conn = store.connect(store.store_path(tmp_path))
    store.bind_study(conn, "t", "h", json.loads(study.model_dump_json()), set())
    cells = [[(i, f"answer {i}") for i in ids[k : k + 3]] for k in (0, 3, 6)]  # disjoint
    save(conn, 0, "baseline", 0.0, 0, cells[0])
    save(conn, 1, "baseline", 0.0, 1, cells[1])
    save(conn, 2, "ngram", 0.0, 0, [*cells[0][:2], (ids[2], "answer")])  # one truncated
    save(conn, 3, "ngram", 0.0, 1, cells[1])
    save(conn, 4, "baseline", 0.5, 0, cells[2])
    save(conn, 5, "ngram", 0.5, 0, cells[2])
    conn.close()
    groups = {(g.arm, g.temperature): g for g in pairs_from_store(tmp_path)}
    assert set(groups) == {("ngram", 0.0), ("ngram", 0.5)}  # no A/A control from the store
    assert len(groups[("ngram", 0.0)].pairs) == 6  # two repeats × three requests
    assert {p.request_id for p in groups[("ngram", 0.0)].pairs} == set(ids[:6])
    assert groups[("ngram", 0.0)].pairs[0].kind is not None  # the workload came back
    rows = run_judge(JudgeOptions(source=tmp_path, changes={"llm_judge": False}))
    by = {(r["arm"], r["temperature"]): r for r in rows}
    assert set(by) == {("ngram", 0.0), ("ngram", 0.5)}
    assert by[("ngram", 0.0)]["exact"]["classes"] == {"identical": 5, "truncated": 1}
    assert by[("ngram", 0.0)]["verdict"] == "not shown equivalent"  # 1/6 changed: Wilson low .03
    assert by[("ngram", 0.5)]["verdict"] == "equivalent"  # identical samples
    assert not any(r["control"] for r in rows)
    assert (tmp_path / "quality.json").exists()


def test_groups_never_share_baseline_records(tmp_path):
    """Margin probes annotate records; two arms paired with one baseline run must not see each
    other's annotations (they once turned identical answers into 'truncated')."""
    spec = SPEC | {"temperature": [0], "repeats": 1}
    spec["arms"] = [*SPEC["arms"], {"name": "eagle3", "speculative_config": {"method": "eagle3"}}]
    study = study_mod.Study.model_validate(spec)
    ids = study_ids(study, 3)
    conn = store.connect(store.store_path(tmp_path))
    store.bind_study(conn, "t", "h", json.loads(study.model_dump_json()), set())
    texts = [(i, f"answer {i}") for i in ids]
    for position, arm in enumerate(("baseline", "ngram", "eagle3")):
        save(conn, position, arm, 0.0, 0, texts)
    conn.close()
    groups = {g.arm: g for g in pairs_from_store(tmp_path)}
    ngram, eagle = groups["ngram"].pairs[0], groups["eagle3"].pairs[0]
    assert ngram.baseline is not eagle.baseline
    ngram.baseline.extra["tokens"] = ["answer", " 0"]  # what a probe of the ngram pair writes
    assert "tokens" not in eagle.baseline.extra
    assert exact.classify("same", "same", ["same"], None)[0] == "identical"
