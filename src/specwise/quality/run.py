"""`specwise judge`: pair baseline and speculative outputs, check them, judge them, give verdicts.

The pairs come from a sweep's store or bench directories (pairs.py); the judge runs where its
settings say (settings.py, judge_server.py). Writes DIR/quality.json; judge calls are cached in
DIR/judgments.jsonl.

The judge is checked before it may decide anything (verdict.judge_gate), per temperature: its
position consistency over the real pairs of that temperature, and a positive control
(planted.py): degraded twins of that temperature's baseline answers it must tell from the
intact ones.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from specwise import secrets
from specwise.bench import client
from specwise.errors import ServerFault, SpecwiseError
from specwise.quality import exact, planted, stats
from specwise.quality.judge import Cache, Endpoint, JudgeError, counts, identical, judge_pairs
from specwise.quality.judge_server import judge_endpoint, second_judge
from specwise.quality.margin import attach_margins
from specwise.quality.pairs import Group, pairs_from_bench, pairs_from_store, stored_study
from specwise.quality.settings import JudgeSettings, study_settings
from specwise.quality.table import table
from specwise.quality.verdict import (
    MIN_CONTROL,
    Family,
    Gate,
    family_tests,
    holm_family,
    judge_gate,
    verdict,
)
from specwise.workloads.kinds import OUTPUT_CHECKS

CACHE_NAME, REPORT_NAME = "judgments.jsonl", "quality.json"


@dataclass
class JudgeOptions:
    """What to judge and with which settings: `settings` as given (the study's, from `specwise
    run`), else those of the study stored in a sweep's directory, else the defaults; `changes`
    (the options given on the command line) on top."""

    source: Path
    baseline: Path | None = None
    control: Path | None = None
    baseline_arm: str | None = None
    tokenizer: str | None = None
    log_dir: Path | None = None
    settings: JudgeSettings | None = None
    changes: dict[str, Any] = field(default_factory=dict)


def settings_for(options: JudgeOptions) -> JudgeSettings:
    """The settings the run uses (JudgeOptions' rule)."""
    base = options.settings
    if base is None:
        study = stored_study(options.source)
        base = study_settings(study) if study is not None else JudgeSettings()
    if not options.changes:
        return base
    try:
        return JudgeSettings.model_validate(base.model_dump() | options.changes)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        flag = {v: k for k, v in SETTING_FLAGS.items()}.get(field, field)  # the option's name
        name = "--" + flag.replace("_", "-") if flag else "an option"
        why = err["msg"].removeprefix("Value error, ")
        raise SpecwiseError(f"{name}: {why}; fix it and run again.") from None


def tokenizer_fn(name: str | None):
    if not name:
        return None
    from specwise.bench.client import load_token_counter
    from specwise.servers.launch import resolve_model

    tok = load_token_counter(resolve_model(name)).tokenizer
    return lambda text: tok.encode(text, add_special_tokens=False)


def evaluate(groups: list[Group], options: JudgeOptions) -> list[dict[str, Any]]:
    """Margin probes, checks, judge outcomes, the judge's gate per temperature and the verdict
    of every group (Holm over the whole run's tests), as report rows."""
    s = settings_for(options)
    outcomes: list[list[dict[str, Any]] | None] = [None] * len(groups)
    second: list[list[dict[str, Any]]] | None = None
    plants = planted_pairs(groups, s.control_pairs) if s.llm_judge else {}
    judged_plants: dict[float, list[dict[str, Any]]] = {}
    local = s.judge_url is None
    if not s.llm_judge and s.probe_url:
        probe(groups, s.probe_url, s.probe_model or "smollm2", options.tokenizer, s.concurrency)
    if s.llm_judge:
        cache = Cache(options.source / CACHE_NAME)
        try:
            with judge_endpoint(s, options.log_dir or options.source / "logs") as endpoint:
                probe_url = s.probe_url or (endpoint.url if local else None)
                if probe_url:
                    model = s.probe_model or endpoint.model
                    probe(groups, probe_url, model, options.tokenizer, s.concurrency)
                for i, g in enumerate(groups):
                    label = f"judge: {g.arm} T={g.temperature:g}"
                    judged = judge_pairs(g.pairs, endpoint, cache, s.grade, label)
                    outcomes[i] = asyncio.run(judged)
                judged_plants = judge_planted(plants, endpoint, cache)
            second = [
                asyncio.run(judge_pairs(g.pairs, e, cache)) for e in second_judge(s) for g in groups
            ]
        except JudgeError as exc:
            raise SpecwiseError(
                f"{exc}; check --judge-url/--judge-model (verdicts judged so far are cached in "
                f"{options.source / CACHE_NAME})."
            ) from None
    tokenize = tokenizer_fn(options.tokenizer)
    checks = [[exact.check_pair(p, tokenize, OUTPUT_CHECKS) for p in g.pairs] for g in groups]
    gates = {t: gate_for(t, groups, outcomes, len(plants[t]), judged_plants) for t in plants}
    rows = group_rows(groups, checks, outcomes, gates, s.margin)
    for row in rows:
        if row["temperature"] in gates:
            row["judge_gate"]["control_outcomes"] = judged_plants.get(row["temperature"], [])
    for row, judged, other in zip(rows, outcomes, second or [None] * len(rows), strict=True):
        if judged is not None and other is not None:
            row["stats"]["kappa"] = judges_kappa(judged, other)
    return rows


def planted_pairs(groups: list[Group], n: int) -> dict[float, list[exact.Pair]]:
    """The positive control's planted pairs (planted.draw) of every temperature where some
    group's outputs differ, so that the judge is needed there."""
    temperatures = {g.temperature for g in groups if not all(identical(p) for p in g.pairs)}
    return {
        t: planted.draw([p for g in groups if g.temperature == t for p in g.pairs], n)
        for t in sorted(temperatures)
    }


def judge_planted(
    plants: dict[float, list[exact.Pair]], endpoint: Endpoint, cache: Cache
) -> dict[float, list[dict[str, Any]]]:
    """Judge the planted pairs (cached like the real ones); a temperature with fewer than
    MIN_CONTROL of them cannot pass the control, so its pairs are not judged at all."""
    return {
        t: planted.label(
            pairs, asyncio.run(judge_pairs(pairs, endpoint, cache, label=f"judge: control T={t:g}"))
        )
        for t, pairs in plants.items()
        if len(pairs) >= MIN_CONTROL
    }


def gate_for(
    t: float,
    groups: list[Group],
    outcomes: list[list[dict[str, Any]] | None],
    planted_n: int,
    judged_plants: dict[float, list[dict[str, Any]]],
) -> Gate:
    """The judge's gate at temperature t: consistency over every group's outcomes at t, the
    positive control over t's planted pairs."""
    pooled = [
        o for g, out in zip(groups, outcomes, strict=True) if g.temperature == t for o in out or []
    ]
    c = counts(pooled)
    preferred = planted.preferred(judged_plants.get(t, []))
    return judge_gate(c["decided"], c["consistent"], preferred, planted_n)


def judges_kappa(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> float | None:
    """Cohen's κ of two judges' outcomes (win / loss / tie) over the pairs both judged
    consistently (identical, inconsistent and unparsable pairs carry no verdict: left out)."""
    label = {"win": "candidate", "loss": "baseline", "tie": "tie"}
    both = [(a["outcome"], b["outcome"]) for a, b in zip(first, second, strict=True)]
    both = [(label[a], label[b]) for a, b in both if a in label and b in label]
    return stats.cohen_kappa([a for a, _ in both], [b for _, b in both])


def probe(
    groups: list[Group], url: str, model: str, tokenizer: str | None, concurrency: int
) -> int:
    """Logit margins at the first differing token of temperature-0 pairs (see margin.py)."""
    from specwise.bench.client import load_token_counter
    from specwise.servers.launch import resolve_model

    pairs = [p for g in groups if g.temperature == 0 for p in g.pairs]
    if not pairs:
        return 0
    tok = load_token_counter(resolve_model(tokenizer or "smollm2")).tokenizer
    encode = lambda text: tok.encode(text, add_special_tokens=False)  # noqa: E731
    return asyncio.run(attach_margins(pairs, url, model, encode, tok.decode, concurrency))


@dataclass
class Checked:
    """One group with its checks, judge outcomes and what the verdict reads of them."""

    group: Group
    rows: list[dict[str, Any]]
    judged: list[dict[str, Any]] | None
    summary: exact.ExactSummary
    distributions: dict[str, float | None] | None
    counts: dict[str, int] | None


def checked(g: Group, rows: list[dict[str, Any]], judged: list[dict[str, Any]] | None) -> Checked:
    """The exact summary, distribution p-values (T > 0) and judge counts of one group."""
    dist = exact.distribution_tests(rows) if g.temperature > 0 and rows else None
    c = counts(judged) if judged is not None else None
    return Checked(g, rows, judged, exact.exact_summary(rows), dist, c)


def group_rows(
    groups: list[Group],
    checks: list[list[dict[str, Any]]],
    outcomes: list[list[dict[str, Any]] | None],
    gates: dict[float, Gate],
    margin: tuple[float, float],
) -> list[dict[str, Any]]:
    """Every group's row; the tests that can yield "differs" form one Holm family."""
    done = [checked(*parts) for parts in zip(groups, checks, outcomes, strict=True)]
    family = holm_family([group_tests(k, gates.get(k.group.temperature)) for k in done])
    control = next((k.counts for k in done if k.group.control and k.counts), None)
    return [
        group_row(k, gates.get(k.group.temperature), f, control, margin)
        for k, f in zip(done, family, strict=True)
    ]


def group_tests(k: Checked, gate: Gate | None) -> dict[str, float]:
    """The group's p-values that can yield "differs" (verdict.family_tests)."""
    return family_tests(k.group.temperature, k.summary, k.counts, k.distributions, gate)


def group_row(
    k: Checked,
    gate: Gate | None,
    family: Family,
    control: dict[str, int] | None,
    margin: tuple[float, float],
) -> dict[str, Any]:
    g, summary, dist, c = k.group, k.summary, k.distributions, k.counts
    aa = None if g.control else control
    v = verdict(g.temperature, summary, c, dist, aa, gate, family, margin)
    row: dict[str, Any] = {"arm": g.arm, "temperature": g.temperature, "control": g.control}
    row |= {"verdict": v.label, "reason": v.reason, "detail": detail(v.reason, summary, c)}
    row["exact"] = summary.to_dict()
    row |= {"distributions": dist, "judge": c, "pairs": k.rows}
    row["judge_failures"] = [o.get("reason") for o in k.judged or [] if o["outcome"] == "failed"]
    row["judge_gate"] = gate.to_dict() if gate is not None else None
    raw = group_tests(k, gate)
    row["tests"] = {
        name: {"p": p, "holm_p": family.adjusted.get(name), "family": family.size}
        for name, p in raw.items()
    }
    if k.judged is not None and c is not None:
        row |= judge_stats(k.judged, c, margin)
    return row


def judge_stats(
    judged: list[dict[str, Any]], c: dict[str, int], margin: tuple[float, float]
) -> dict[str, Any]:
    """The judge's numbers for quality.json: win rate and interval, sign p, consistency."""
    eq = stats.equivalence(c["win"], c["ties_total"], c["loss"], margin)
    decided = [o for o in judged if o["outcome"] not in ("identical", "unparsable", "failed")]
    consistency = stats.position_consistency(
        [o["first"] for o in decided], [o["second"] for o in decided]
    )
    numbers = {"win_rate": eq.win_rate, "interval": [eq.low, eq.high], "n": eq.n}
    numbers |= {"sign_p": stats.sign_test(c["win"], c["loss"])}
    numbers |= {"position_consistency": consistency, "margin": list(margin)}
    return {"stats": numbers, "outcomes": judged, "grades": _grades(judged)}


def detail(reason: str, e: exact.ExactSummary, c: dict[str, int] | None) -> str:
    """One line for reports: the reason, exact matches, judge counts."""
    if c is None:
        judge = "no judge"
    else:
        judge = f"judge w/t/l {c['win']}/{c['ties_total']}/{c['loss']}"
        judge += f", {c['inconsistent']} inconsistent" if c["inconsistent"] else ""
    return f"{reason}; {e.identical}/{e.pairs} identical; {judge}"


def _grades(judged: list[dict[str, Any]]) -> dict[str, float] | None:
    scored = [o for o in judged if o.get("score_baseline") and o.get("score_candidate")]
    if not scored:
        return None
    base = sum(o["score_baseline"] for o in scored) / len(scored)
    cand = sum(o["score_candidate"] for o in scored) / len(scored)
    better = sum(o["score_candidate"] > o["score_baseline"] for o in scored)
    worse = sum(o["score_candidate"] < o["score_baseline"] for o in scored)
    return {
        "n": len(scored),
        "mean_baseline": base,
        "mean_candidate": cand,
        "sign_p": stats.sign_test(better, worse),
    }


def collect(options: JudgeOptions) -> list[Group]:
    """The groups to evaluate: a sweep store when DIR has one, else bench directories."""
    if (options.source / "results.sqlite").exists():
        return pairs_from_store(options.source, options.baseline_arm)
    if options.baseline is None:
        raise SpecwiseError(
            f"{options.source} holds no results.sqlite; pass a sweep's --out directory, or a "
            "`specwise bench --out` directory with --baseline DIR (the run without speculation)."
        )
    return pairs_from_bench(options.baseline, options.source, options.control)


def run_judge(options: JudgeOptions) -> list[dict[str, Any]]:
    """The `specwise judge` command: evaluate, write DIR/quality.json, print the table."""
    groups = collect(options)
    if not any(g.pairs for g in groups):
        raise SpecwiseError(
            "No request was answered successfully by both arms; check that the runs used the "
            "same workload."
        )
    rows = evaluate(groups, options)
    tmp = options.source / (REPORT_NAME + ".tmp")  # replaced whole: a kill never tears it
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    tmp.replace(options.source / REPORT_NAME)
    console = Console()
    console.width = max(console.width, 150)
    console.print(table(rows))
    failed = [why for r in rows for why in r.get("judge_failures") or []]
    if failed:
        raise ServerFault(
            f"the judge failed on {len(failed)} pair(s) ({failed[0]}); the "
            f"verdicts in {options.source / REPORT_NAME} leave them out. Run `specwise judge "
            f"{options.source}` again to ask for them (judged pairs are cached)."
        )
    return rows


SETTING_FLAGS = {  # `specwise judge` option → JudgeSettings field (the others keep their name)
    "llm": "llm_judge",
    "judge_connect_timeout": "connect_timeout_s",
    "judge_idle_timeout": "idle_timeout_s",
    "judge_timeout": "timeout_s",
}
SOURCE_FLAGS = ("source", "baseline", "control", "baseline_arm", "tokenizer")


def options_from_cli(**cli: Any) -> JudgeOptions:
    """JudgeOptions from the command's raw values: the settings given (not None) become its
    `changes`; bad values are refused before any work."""
    given = {k: v for k, v in cli.items() if k not in SOURCE_FLAGS and v is not None}
    if "margin" in given:
        try:
            low, high = (float(x) for x in given["margin"].split(","))
        except ValueError:
            raise SpecwiseError("--margin takes two numbers like 0.45,0.55.") from None
        if not 0 <= low < 0.5 < high <= 1:
            raise SpecwiseError("--margin must bracket 0.5 inside [0, 1], like 0.45,0.55.")
        given["margin"] = (low, high)
    for name in ("judge_connect_timeout", "judge_idle_timeout", "judge_timeout"):
        seconds = given.get(name)
        if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
            flag = "--" + name.replace("_", "-")
            raise SpecwiseError(f"{flag} must be a positive number of seconds, e.g. 60.")
    for flag in ("judge_url", "judge2_url", "probe_url"):
        if given.get(flag):
            client.checked_url(given[flag], "--" + flag.replace("_", "-"))
    for flag in ("judge_api_key_env", "judge2_api_key_env"):
        secrets.api_key(given.get(flag), "--" + flag.replace("_", "-"))
    changes = {SETTING_FLAGS.get(k, k): v for k, v in given.items()}
    return JudgeOptions(**{k: cli.get(k) for k in SOURCE_FLAGS}, changes=changes)
