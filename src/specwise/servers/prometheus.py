"""Scrape a server's /metrics, snapshot the speculative-decoding counters, diff two snapshots.

Acceptance is always measured over a window (after warm-up → after the last measured request),
never over the server's lifetime:
    acceptance rate      α  = Δaccepted / Δdraft_tokens
    mean accept. length  AL = 1 + Δaccepted / Δdrafts          (counts only steps that drafted)
    per-position rate    αᵢ = Δaccepted_at_pos[i] / Δdrafts
    tokens per step (all steps) = Δgenerated / steps,
        steps = max(Δgenerated − Δaccepted, Δdrafts + requests)
        (every request's first token comes from a step that verified no draft; max_tokens or
        EOS cutting a last step's accepted tokens makes Δgenerated − Δaccepted undercount)
A server without the counters yields None ("not available"), never zeros.
"""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from dataclasses import asdict, dataclass

from prometheus_client.parser import text_string_to_metric_families

from specwise.errors import SpecwiseError

DRAFTS = "vllm:spec_decode_num_drafts_total"
DRAFT_TOKENS = "vllm:spec_decode_num_draft_tokens_total"
ACCEPTED = "vllm:spec_decode_num_accepted_tokens_total"
ACCEPTED_PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos_total"
GENERATED = "vllm:generation_tokens_total"
CACHE_QUERIES = "vllm:prefix_cache_queries_total"  # prompt tokens looked up in the prefix cache
CACHE_HITS = "vllm:prefix_cache_hits_total"  # of those, tokens found cached


def scrape(base_url: str, api_key: str | None = None, timeout_s: float = 10.0) -> str:
    """GET {base_url}/metrics and return the Prometheus text."""
    request = urllib.request.Request(base_url.rstrip("/") + "/metrics")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            kind = response.headers.get_content_type()
            body = response.read()
    except (OSError, ValueError) as exc:
        raise SpecwiseError(
            f"Could not read {base_url}/metrics ({type(exc).__name__}); check that the server "
            "is running and exposes Prometheus metrics."
        ) from None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = None
    if text is None or kind == "text/html":
        raise SpecwiseError(
            f"{base_url}/metrics answered {kind}{' that is not UTF-8' if text is None else ''}, "
            "not Prometheus text (a proxy or login page?); point --url at the server itself."
        )
    return text


def sample_sums(text: str) -> dict[tuple[str, str | None], float]:
    """Sum every sample over its label sets (engines, model names), keyed by (name, position)."""
    sums: dict[tuple[str, str | None], float] = defaultdict(float)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                sums[(sample.name, sample.labels.get("position"))] += sample.value
    except (ValueError, TypeError, IndexError) as exc:
        raise SpecwiseError(f"/metrics is not Prometheus text ({exc})") from None
    return sums


@dataclass(frozen=True)
class SpecCounters:
    """A snapshot of vLLM's cumulative spec-decode counters (summed over engines)."""

    drafts: int
    draft_tokens: int
    accepted: int
    accepted_per_position: tuple[int, ...]
    generated: int | None = None  # vllm:generation_tokens_total, when the server exports it


def spec_counters(text: str) -> SpecCounters | None:
    """Parse the spec-decode counters from metrics text; None if the server has none."""
    sums = sample_sums(text)
    if (DRAFTS, None) not in sums:
        return None
    positions = sorted(int(p) for name, p in sums if name == ACCEPTED_PER_POS and p is not None)
    per_pos = tuple(round(sums[(ACCEPTED_PER_POS, str(p))]) for p in positions)
    generated = sums.get((GENERATED, None))
    return SpecCounters(
        drafts=round(sums[(DRAFTS, None)]),
        draft_tokens=round(sums.get((DRAFT_TOKENS, None), 0.0)),
        accepted=round(sums.get((ACCEPTED, None), 0.0)),
        accepted_per_position=per_pos,
        generated=None if generated is None else round(generated),
    )


def snapshot(base_url: str, api_key: str | None = None) -> SpecCounters | None:
    return spec_counters(scrape(base_url, api_key))


@dataclass(frozen=True)
class CacheCounters:
    """vLLM's cumulative prefix-cache counters, in prompt tokens."""

    queries: int
    hits: int


def cache_counters(text: str) -> CacheCounters | None:
    """The prefix-cache counters from metrics text; None if the server has none."""
    sums = sample_sums(text)
    if (CACHE_QUERIES, None) not in sums:
        return None
    return CacheCounters(round(sums[(CACHE_QUERIES, None)]), round(sums.get((CACHE_HITS, None), 0)))


def cache_hit_rate(before: CacheCounters | None, after: CacheCounters | None) -> float | None:
    """Prefix-cache hit rate over a window = Δhits / Δqueries (prompt tokens); None if unknown."""
    if before is None or after is None or after.queries <= before.queries:
        return None
    return (after.hits - before.hits) / (after.queries - before.queries)


@dataclass(frozen=True)
class Acceptance:
    """Spec-decode counters accumulated over one measurement window, and the rates they give."""

    drafts: int
    draft_tokens: int
    accepted: int
    accepted_per_position: tuple[int, ...]
    generated: int | None
    requests: int = 0  # measured requests in the window (each had a first step without draft)

    @property
    def acceptance_rate(self) -> float | None:
        """α = accepted / drafted tokens."""
        return self.accepted / self.draft_tokens if self.draft_tokens else None

    @property
    def acceptance_length(self) -> float | None:
        """AL = 1 + accepted / drafts (steps that drafted only)."""
        return 1 + self.accepted / self.drafts if self.drafts else None

    @property
    def per_position_rates(self) -> tuple[float, ...] | None:
        """αᵢ = accepted_at_pos[i] / drafts."""
        if not self.drafts:
            return None
        return tuple(a / self.drafts for a in self.accepted_per_position)

    @property
    def steps(self) -> int | None:
        """Target steps that emitted tokens = max(generated − accepted, drafts + requests)."""
        if not self.generated:
            return None
        return max(self.generated - self.accepted, self.drafts + self.requests)

    @property
    def tokens_per_step(self) -> float | None:
        """Tokens per target step over all steps = generated / steps (never above AL)."""
        steps = self.steps
        return self.generated / steps if self.generated and steps else None

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {
            "acceptance_rate": self.acceptance_rate,
            "acceptance_length": self.acceptance_length,
            "per_position_rates": self.per_position_rates,
            "steps": self.steps,
            "tokens_per_step": self.tokens_per_step,
        }


def sum_acceptance(accs: list[Acceptance | None]) -> Acceptance | None:
    """The counters of several windows summed (a run's blocks, a cell's repeats); None if any
    window has none."""
    if not accs or any(a is None for a in accs):
        return None
    have = [a for a in accs if a is not None]
    n = max(len(a.accepted_per_position) for a in have)
    pos = [sum((a.accepted_per_position + (0,) * n)[i] for a in have) for i in range(n)]
    generated = [a.generated for a in have]
    return Acceptance(
        drafts=sum(a.drafts for a in have),
        draft_tokens=sum(a.draft_tokens for a in have),
        accepted=sum(a.accepted for a in have),
        accepted_per_position=tuple(pos),
        generated=None if None in generated else sum(g or 0 for g in generated),
        requests=sum(a.requests for a in have),
    )


def acceptance_from_dict(d: dict[str, object] | None, requests: int = 0) -> Acceptance | None:
    """The Acceptance a store or summary.json holds (its counters; rates are recomputed)."""
    if not d or d.get("drafts") is None:
        return None
    generated = d.get("generated")
    return Acceptance(
        drafts=int(d["drafts"]),  # type: ignore[call-overload]
        draft_tokens=int(d["draft_tokens"]),  # type: ignore[call-overload]
        accepted=int(d["accepted"]),  # type: ignore[call-overload]
        accepted_per_position=tuple(int(x) for x in d.get("accepted_per_position") or ()),  # type: ignore[attr-defined]
        generated=None if generated is None else int(generated),  # type: ignore[call-overload]
        requests=int(d.get("requests") or requests),  # type: ignore[call-overload]
    )


def acceptance_between(
    before: SpecCounters | None, after: SpecCounters | None, requests: int = 0
) -> Acceptance | None:
    """Counters accumulated between two snapshots; None when the server has no spec counters."""
    if before is None or after is None:
        return None
    n = max(len(before.accepted_per_position), len(after.accepted_per_position))
    pad = (0,) * n
    after_pos = (after.accepted_per_position + pad)[:n]
    before_pos = (before.accepted_per_position + pad)[:n]
    per_pos = tuple(a - b for a, b in zip(after_pos, before_pos, strict=True))
    generated = None
    if before.generated is not None and after.generated is not None:
        generated = after.generated - before.generated
    delta = Acceptance(
        drafts=after.drafts - before.drafts,
        draft_tokens=after.draft_tokens - before.draft_tokens,
        accepted=after.accepted - before.accepted,
        accepted_per_position=per_pos,
        generated=generated,
        requests=requests,
    )
    if any(v < 0 for v in (delta.drafts, delta.draft_tokens, delta.accepted, *per_pos)):
        raise SpecwiseError(
            "The server's spec-decode counters went backwards between two snapshots, so it was "
            "restarted mid-run; measure this configuration again."
        )
    return delta
