"""Load-aware speculation: a per-batch-size k schedule from a study's verdicts (`specwise tune`).

vLLM takes `num_speculative_tokens_per_batch_size: [[lo, hi, k], ...]` in an arm's
speculative_config: inclusive batch-size ranges, the first starting at 1, k = 0 allowed (no
drafts for that step), every k capped at `num_speculative_tokens` (so that is set to the
schedule's largest k); vllm/v1/spec_decode/dynamic/utils.py, read by the scheduler.

Rule, per method family and temperature, at the measured concurrencies c_1 < … < c_n:
    k_i = the k of the family's arm whose gain at c_i "pays" with the highest lower bound,
          else 0
    batch sizes (c_{i−1}, c_i] → k_i    (c_0 = 0: a batch size takes the k of the next measured
          level at or above it; gains fall with load, so that level's verdict is the cautious one)
    batch sizes > c_n → 0               (never measured: no speculation)
vLLM keys the schedule on the requests scheduled in a step, not on the client's concurrency; a
closed loop at concurrency c schedules at most c (fewer in its tail and while prefills run), so
a measured level bounds the batch sizes it stands for from above.

A family = the arms whose speculative_config is the same but for num_speculative_tokens: the
arms one `num_speculative_tokens: [1, 3, 5]` line expands into (study.per_k).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specwise import store
from specwise.errors import SpecwiseError
from specwise.gains import PAYS, Gain, Interval, gain_text, pair_with_baseline
from specwise.results import StudyData, load_results

SCHEDULE = "num_speculative_tokens_per_batch_size"
UNBOUNDED = 1 << 20  # the last range's end: vLLM stops at its max_num_seqs


@dataclass(frozen=True)
class Level:
    """The k chosen at one measured concurrency and the evidence for it."""

    concurrency: int
    k: int  # 0: no arm of the family pays here
    arm: str | None  # the arm whose k it is
    gain: Interval | None  # that arm's X (or, at k = 0, the family's best X)
    verdict: str


@dataclass(frozen=True)
class Schedule:
    """One family's schedule at one temperature."""

    family: str
    temperature: float
    levels: list[Level]
    source: dict[str, Any]  # the family's first arm as stored (its fields, for the tuned arm)

    @property
    def ranges(self) -> list[list[int]]:
        """[[lo, hi, k], ...]: (c_{i−1}, c_i] → k_i, then (c_n, ∞) → 0; equal neighbours merged."""
        out: list[list[int]] = []
        lo = 1
        for level in self.levels:
            out.append([lo, level.concurrency, level.k])
            lo = level.concurrency + 1
        out.append([lo, UNBOUNDED, 0])
        merged = [out[0]]
        for lo_hi_k in out[1:]:
            if lo_hi_k[2] == merged[-1][2]:
                merged[-1] = [merged[-1][0], lo_hi_k[1], lo_hi_k[2]]
            else:
                merged.append(lo_hi_k)
        return merged

    @property
    def pays_anywhere(self) -> bool:
        return any(level.k > 0 for level in self.levels)

    def speculative_config(self) -> dict[str, Any] | None:
        """The family's speculative_config with the schedule; None if it pays nowhere."""
        if not self.pays_anywhere:
            return None
        spec = dict(self.source.get("speculative_config") or {})
        spec["num_speculative_tokens"] = max(level.k for level in self.levels)
        spec[SCHEDULE] = self.ranges
        return spec

    def arm(self) -> dict[str, Any] | None:
        """The tuned arm for a study YAML: the source arm's fields, the tuned speculation."""
        spec = self.speculative_config()
        if spec is None:
            return None
        mine = ("name", "speculative_config")
        fields = {k: v for k, v in self.source.items() if k not in mine and v not in (None, {}, [])}
        return {"name": f"{self.family}-tuned", **fields, "speculative_config": spec}


def scheduled_k(spec: dict[str, Any], batch_size: int) -> int:
    """The k vLLM drafts at this batch size: the k of the schedule's range that holds it
    (0 past the last range), capped at num_speculative_tokens."""
    cap = int(spec.get("num_speculative_tokens") or 0)
    for lo, hi, k in spec.get(SCHEDULE) or [[1, UNBOUNDED, cap]]:
        if lo <= batch_size <= hi:
            return min(int(k), cap)
    return 0


def family_key(spec: dict[str, Any]) -> str:
    """The speculative_config without its k and schedule, as a canonical string."""
    rest = {k: v for k, v in spec.items() if k not in ("num_speculative_tokens", SCHEDULE)}
    return json.dumps(rest, sort_keys=True, default=str)


def family_name(arm_names: list[str]) -> str:
    """NAME of NAME-k3, NAME-k5 (study.per_k); else the names' common prefix (suffix of
    suffix-cold and suffix-warm), else the first arm's name."""
    stems = {re.sub(r"-k\d+$", "", n) for n in arm_names}
    if len(stems) == 1:
        return stems.pop()
    first, last = min(stems), max(stems)  # the common prefix of all = that of these two
    n = next((i for i, (x, y) in enumerate(zip(first, last, strict=False)) if x != y), len(first))
    return first[:n].rstrip("-_.") or arm_names[0]


def families(arms: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Family name → its speculative arms with a fixed k (arms with a schedule left out)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for arm in arms:
        spec = arm.get("speculative_config") or {}
        if spec and SCHEDULE not in spec and isinstance(spec.get("num_speculative_tokens"), int):
            grouped[family_key(spec)].append(arm)
    return {family_name([a["name"] for a in group]): group for group in grouped.values()}


def level(concurrency: int, found: list[Gain], k_of: dict[str, int]) -> Level:
    """The k at one concurrency: the paying arm with the highest lower bound, else 0."""
    paying = [g for g in found if g.verdict == PAYS and g.throughput is not None]
    if paying:
        best = max(paying, key=lambda g: g.throughput.low)  # type: ignore[union-attr]
        return Level(concurrency, k_of[best.arm], best.arm, best.throughput, best.verdict)
    measured = [g for g in found if g.throughput is not None]
    best = max(measured, key=lambda g: g.throughput.estimate) if measured else None  # type: ignore[union-attr]
    return Level(
        concurrency,
        0,
        None,
        best.throughput if best else None,
        best.verdict if best else "not measured",
    )


def schedules(data: StudyData, arms: list[dict[str, Any]] | None = None) -> list[Schedule]:
    """Every family's schedule at every temperature the study measured (see the module doc);
    `arms`: the arm fields (default: the study's stored arms)."""
    found = pair_with_baseline(data)
    out = []
    for name, group in families(list(data.arms.values()) if arms is None else arms).items():
        k_of = {a["name"]: a["speculative_config"]["num_speculative_tokens"] for a in group}
        mine = [g for g in found if g.arm in k_of]
        for t in sorted({g.temperature for g in mine}):
            levels = [
                level(c, [g for g in mine if g.temperature == t and g.concurrency == c], k_of)
                for c in sorted({g.concurrency for g in mine if g.temperature == t})
            ]
            out.append(Schedule(name, t, levels, group[0]))
    return out


def stored_spec(out: Path) -> dict[str, Any]:
    conn = store.open_existing(out)
    try:
        row = store.stored_study(conn)
    finally:
        conn.close()
    if row is None:
        raise SpecwiseError(f"{out} holds no study; pass the --out directory of a sweep.")
    return dict(json.loads(row["spec"]))


def fresh_skip(spec: dict[str, Any]) -> int | None:
    """`workload.skip` for a later study on the same workload that sends none of this one's
    requests: its own skip + every request it drew; None if the spec does not load."""
    from specwise.study import Study

    try:
        study = Study.model_validate(spec)
    except ValueError:
        return None
    return study.workload.skip + study.requests_needed


def tune(out: Path) -> list[Schedule]:
    """The schedules of a sweep's results dir."""
    return schedules(load_results(out))


def schedule_text(s: Schedule) -> str:
    """A few lines: the evidence per level, then the schedule vLLM takes."""
    lines = [f"{s.family} at T = {s.temperature:g}:"]
    for lv in s.levels:
        why = f"{lv.arm} {gain_text(lv.gain)} {lv.verdict}" if lv.arm else (
            f"nothing pays (best {gain_text(lv.gain)} {lv.verdict})"
        )  # fmt: skip
        lines.append(f"  c = {lv.concurrency}: k = {lv.k}  ({why})")
    if s.pays_anywhere:
        lines.append(f"  {SCHEDULE}: {json.dumps(s.ranges)}")
    else:
        lines.append("  pays at no measured concurrency: serve it without speculation")
    return "\n".join(lines)


def tune_command(out: Path, arms_out: Path | None = None) -> str:
    """`specwise tune`: every schedule as text; with `arms_out`, the tuned arms as a YAML list
    to paste under a study's `arms:` (measure them on fresh draws, not the tuned-on ones)."""
    found = tune(out)
    if not found:
        raise SpecwiseError(
            f"{out} has no speculative arm with a fixed num_speculative_tokens measured against "
            "the baseline; tune a study that measured one."
        )
    if arms_out is not None:
        import yaml

        # a family has one schedule per temperature: several = one tuned arm per temperature
        several_t = {s.family for s in found if sum(x.family == s.family for x in found) > 1}
        tuned = []
        for s in found:
            if (arm := s.arm()) is not None:
                if s.family in several_t:
                    arm["name"] += f"-t{s.temperature:g}"
                tuned.append(arm)
        skip = fresh_skip(stored_spec(out))
        fresh = (
            f"; measure them with `workload: {{skip: {skip}}}` (draws it never sent)"
            if skip
            else ""
        )
        header = f"# tuned by `specwise tune {out}`: the per-batch-size k of each family{fresh}\n"
        arms_out.write_text(header + yaml.safe_dump(tuned, sort_keys=False))
    return "\n".join(schedule_text(s) for s in found)
