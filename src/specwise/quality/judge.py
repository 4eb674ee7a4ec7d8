"""LLM-as-judge through any OpenAI-compatible endpoint: pairwise with the order swapped, optional
single-answer 1–10 grades, a resumable JSONL cache so no comparison is ever judged twice.

Each pair is judged twice: (A = baseline, B = candidate), then (A = candidate, B = baseline).
The candidate wins only if both orders say so; two ties are a tie; a disagreement is recorded
"inconsistent" and carries no information: it is left out of w / t / l and of n, and counted on
its own (a judge that always answers "A" has no w, t or l at all, not a win rate of ½). A verdict
that does not parse after one retry makes the pair "unparsable" (excluded, reported). Pairs with
identical outputs are ties without a call. A call that fails (a timeout: connect, idle and total
limits per call; an HTTP or connection error) makes its pair "failed" (excluded, reported with
the reason); after MAX_FAILURES failed pairs the judge is not asked again in that run and the
remaining pairs fail at once, so a stalled endpoint costs minutes, not hours. Where the
endpoint takes `response_format` json_schema (vLLM, OpenAI) verdicts are constrained to
{"reason": …, "verdict": "A" | "B" | "tie"}; an endpoint that rejects it is asked again in
plain text, and the last `Verdict: X` line is parsed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from specwise import secrets
from specwise.bench import client
from specwise.json_reply import extract_json
from specwise.quality.exact import Pair, normalise

PROMPT_VERSION = "pairwise-v1"
# JudgeSettings.assistant when neither the study nor its workload names one
GENERIC_ASSISTANT = "an AI assistant"
SYSTEM = (
    "You are an impartial judge of {assistant}. Compare "
    "two replies to the same conversation for correctness, following the instructions in the "
    "conversation, and helpfulness. Ignore length and style unless they hurt the answer. The "
    "order of the replies is random: do not prefer a position."
)
ASK_JSON = 'Answer in JSON: {"reason": "<one or two sentences>", "verdict": "A" | "B" | "tie"}.'
ASK_TEXT = (
    "Write one or two sentences comparing them, then a last line that is exactly "
    "`Verdict: A`, `Verdict: B` or `Verdict: tie`."
)
RETRY = "Now reply with only the verdict: `Verdict: A`, `Verdict: B` or `Verdict: tie`."
GRADE_ASK = 'Answer in JSON: {"reason": "<one sentence>", "score": <integer 1 to 10>}.'
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": 400},
        "verdict": {"type": "string", "enum": ["A", "B", "tie"]},
    },
    "required": ["reason", "verdict"],
    "additionalProperties": False,
}
GRADE_SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": 300},
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["reason", "score"],
    "additionalProperties": False,
}
_VERDICT_LINE = re.compile(r"verdict\W{0,4}(A|B|tie)\b", re.IGNORECASE)
_BRACKETS = re.compile(r"\[\[(A|B|tie)\]\]", re.IGNORECASE)


@dataclass
class Endpoint:
    """Where the judge runs and what it is told the replies come from (`assistant`);
    `structured` is switched off when the endpoint rejects it."""

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    structured: bool = True
    max_tokens: int = 256
    concurrency: int = 4
    connect_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0  # between two bytes of the streamed answer
    timeout_s: float = 300.0  # one call in all
    assistant: str | None = None  # None: GENERIC_ASSISTANT

    @property
    def system(self) -> str:
        """The judge's system prompt."""
        return SYSTEM.format(assistant=self.assistant or GENERIC_ASSISTANT)


MAX_FAILURES = 3  # failed pairs after which a run stops asking the judge


def parse_verdict(text: str) -> str | None:
    """ "A", "B" or "tie" from a JSON object's `verdict`, else the last `Verdict: X` line, else
    the last [[X]]; None when none is there."""
    try:
        value = extract_json(text)
        if isinstance(value, dict) and str(value.get("verdict", "")).lower() in ("a", "b", "tie"):
            return _canonical(str(value["verdict"]))
    except ValueError:
        pass
    found = _VERDICT_LINE.findall(text) or _BRACKETS.findall(text)
    return _canonical(found[-1]) if found else None


def _canonical(v: str) -> str:
    return "tie" if v.lower() == "tie" else v.upper()


def parse_score(text: str) -> int | None:
    """The integer `score` (1–10) of a JSON reply, else the last `Score: n`; None otherwise."""
    try:
        value = extract_json(text)
        if isinstance(value, dict) and isinstance(value.get("score"), int):
            return value["score"] if 1 <= value["score"] <= 10 else None
    except ValueError:
        pass
    found = re.findall(r"score\W{0,4}(10|[1-9])\b", text, re.IGNORECASE)
    return int(found[-1]) if found else None


def to_label(verdict: str | None, candidate_is: str) -> str | None:
    """Map a positional verdict to baseline / candidate / tie given where the candidate sat."""
    if verdict is None or verdict == "tie":
        return verdict
    return "candidate" if verdict == candidate_is else "baseline"


def combine(first: str | None, second: str | None) -> str:
    """Outcome of the two orders (first: candidate as B, second: candidate as A): win / loss /
    tie when both orders agree, "inconsistent" when they do not, "unparsable" if either failed."""
    a, b = to_label(first, "B"), to_label(second, "A")
    if a is None or b is None:
        return "unparsable"
    if a != b:
        return "inconsistent"
    return {"candidate": "win", "baseline": "loss", "tie": "tie"}[a]


def answer_text(record: client.RequestRecord) -> str:
    """What the judge sees of an answer: the text, plus tool calls when there are any."""
    calls = [c.get("function") for c in record.tool_calls]
    return record.text + (f"\n[tool calls] {json.dumps(calls)}" if calls else "")


def pairwise_messages(
    system: str, question: str, a: str, b: str, structured: bool
) -> list[dict[str, str]]:
    user = (
        f"[Conversation]\n{question}\n\n[Reply A]\n{a}\n\n[Reply B]\n{b}\n\n"
        f"{ASK_JSON if structured else ASK_TEXT}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def grade_messages(system: str, question: str, answer: str) -> list[dict[str, str]]:
    user = f"[Conversation]\n{question}\n\n[Reply]\n{answer}\n\nGrade the reply. {GRADE_ASK}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class Cache:
    """Append-only JSONL of judge calls keyed by sha256(judge model, prompt version, task,
    system prompt, inputs): a rerun reads it back and never asks the same question twice."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.rows = path, {}
        if path is not None and path.exists():
            text = path.read_text()
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                    self.rows[row["key"]] = row
                except (ValueError, TypeError, KeyError):  # torn by a kill: asked again
                    continue
            if text and not text.endswith("\n"):  # the next row starts on a line of its own
                with path.open("a") as f:
                    f.write("\n")

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256(json.dumps([PROMPT_VERSION, *parts]).encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def put(self, row: dict[str, Any]) -> None:
        self.rows[row["key"]] = row
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")


class Judge:
    """Asks one endpoint, at most `concurrency` calls in flight, through the bench client."""

    def __init__(self, endpoint: Endpoint, cache: Cache, session: Any) -> None:
        self.endpoint, self.cache, self.session = endpoint, cache, session
        self.limit = asyncio.Semaphore(endpoint.concurrency)
        self.calls = 0
        self.failures: list[str] = []  # why each failed pair failed

    async def ask(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        """One completion at temperature 0; structured if the endpoint takes it (an HTTP 400
        to `response_format` switches the endpoint to plain text for good)."""
        e = self.endpoint
        body: dict[str, Any] = {"model": e.model, "messages": messages, "stream": True}
        body |= {"temperature": 0.0, "max_tokens": e.max_tokens}
        if e.structured:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "judgment", "schema": schema, "strict": True},
            }
        async with self.limit:
            if len(self.failures) >= MAX_FAILURES:
                why = f"the judge failed {len(self.failures)} pairs ({self.failures[-1]})"
                raise NotAsked(f"not asked: {why}")
            self.calls += 1
            timeout = aiohttp.ClientTimeout(
                total=e.timeout_s, sock_connect=e.connect_timeout_s, sock_read=e.idle_timeout_s
            )
            record = await client.send(
                self.session,
                e.url.rstrip("/"),
                body,
                "judge",
                headers=client.auth_headers(e.api_key),
                timeout=timeout,
            )
        if "response_format" in body and record.http_status == 400:
            e.structured = False
            messages = [m | {"content": m["content"].replace(ASK_JSON, ASK_TEXT)} for m in messages]
            return await self.ask(messages, schema)
        if not record.ok:
            why = secrets.redact(record.error_message, e.api_key)
            raise JudgeError(f"the judge at {e.url} failed: {why}")
        return record.text

    async def verdict(self, question: str, a: str, b: str) -> dict[str, Any]:
        """One positional verdict (cached); asks once more if the first reply does not parse."""
        e = self.endpoint
        key = self.cache.key(e.model, "pairwise", e.system, question, a, b)
        if (row := self.cache.get(key)) is not None:
            return row
        messages = pairwise_messages(e.system, question, a, b, e.structured)
        raw = await self.ask(messages, VERDICT_SCHEMA)
        if parse_verdict(raw) is None:  # once more, asking for the verdict line alone
            retry = [{"role": "assistant", "content": raw}, {"role": "user", "content": RETRY}]
            raw = await self.ask(messages + retry, VERDICT_SCHEMA)
        row = {"key": key, "task": "pairwise", "verdict": parse_verdict(raw), "raw": raw[:2000]}
        self.cache.put(row)
        return row

    async def grade(self, question: str, answer: str) -> int | None:
        e = self.endpoint
        key = self.cache.key(e.model, "grade", e.system, question, answer)
        if (row := self.cache.get(key)) is None:
            messages = grade_messages(e.system, question, answer)
            raw = await self.ask(messages, GRADE_SCHEMA)
            if parse_score(raw) is None:
                raw = await self.ask(messages, GRADE_SCHEMA)
            row = {"key": key, "task": "grade", "score": parse_score(raw), "raw": raw[:2000]}
            self.cache.put(row)
        return row["score"]

    async def pair(self, pair: Pair, grade: bool = False) -> dict[str, Any]:
        """The outcome of one pair: identical (no call), or the two orders combined."""
        a, b = answer_text(pair.baseline), answer_text(pair.candidate)
        question = pair.question or "(conversation not available)"
        out: dict[str, Any] = {"request_id": pair.request_id, "kind": pair.kind}
        if identical(pair):
            out |= {"outcome": "identical", "first": "tie", "second": "tie"}
            return out | (await self.grades(question, a, b) if grade else {})
        orders = [asyncio.ensure_future(self.verdict(q, x, y)) for q, x, y in
                  ((question, a, b), (question, b, a))]  # fmt: skip
        try:
            first, second = await asyncio.gather(*orders)
            scores = await self.grades(question, a, b) if grade else {}
        except JudgeError as exc:
            for order in orders:  # the other order's call is not waited for
                order.cancel()
            if not isinstance(exc, NotAsked):
                self.failures.append(str(exc))
            return out | {"outcome": "failed", "first": None, "second": None, "reason": str(exc)}
        out |= {"outcome": combine(first["verdict"], second["verdict"])}
        out |= {
            "first": to_label(first["verdict"], "B"),
            "second": to_label(second["verdict"], "A"),
        }
        return out | scores

    async def grades(self, question: str, a: str, b: str) -> dict[str, Any]:
        base, cand = await asyncio.gather(self.grade(question, a), self.grade(question, b))
        return {"score_baseline": base, "score_candidate": cand}


def identical(pair: Pair) -> bool:
    """Same text and same tool calls: a tie that needs no judge."""
    a, b = pair.baseline, pair.candidate
    return a.text == b.text and normalise(a.tool_calls) == normalise(b.tool_calls)


class JudgeError(Exception):
    """The judge endpoint failed (HTTP, connection, timeout), not a verdict problem."""


class NotAsked(JudgeError):
    """A call not made: the judge already failed MAX_FAILURES pairs in this run."""


async def judge_pairs(
    pairs: Sequence[Pair],
    endpoint: Endpoint,
    cache: Cache,
    grade: bool = False,
    label: str | None = None,
) -> list[dict[str, Any]]:
    """Judge every pair (concurrency-limited); results in the pairs' order. With a `label`, a
    progress bar counts the pairs judged."""
    async with client.make_session(endpoint.concurrency) as session:
        judge = Judge(endpoint, cache, session)
        if label is None:
            return list(await asyncio.gather(*(judge.pair(p, grade) for p in pairs)))
        columns = (TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn()) as bar:
            task = bar.add_task(label, total=len(pairs))

            async def one(p: Pair) -> dict[str, Any]:
                out = await judge.pair(p, grade)
                bar.advance(task)
                return out

            return list(await asyncio.gather(*(one(p) for p in pairs)))


def counts(outcomes: Sequence[dict[str, Any]]) -> dict[str, int]:
    """w / t / l for the statistics (ties_total = tie + identical; n = win + ties_total + loss),
    the detail, and for the judge's gate: decided = pairs whose two orders both parsed on
    differing outputs (win + tie + loss + inconsistent), consistent = those whose orders agree.
    Inconsistent, unparsable and failed pairs are in no part of n."""
    keys = ("win", "tie", "loss", "inconsistent", "identical", "unparsable", "failed")
    c = {k: 0 for k in keys}
    for o in outcomes:
        c[o["outcome"]] += 1
    c["ties_total"] = c["tie"] + c["identical"]
    c["n"] = c["win"] + c["ties_total"] + c["loss"]
    c["consistent"] = c["win"] + c["tie"] + c["loss"]
    c["decided"] = c["consistent"] + c["inconsistent"]
    return c
