"""The theoretical check: why a speculative arm's speedup is what it is.

Per speculative arm and cell, against the arm without speculation on the same GPU count:
    tokens per step (all steps) from the server's counters: generated / steps, with
        steps = max(generated − accepted, drafts + requests)   (prometheus.Acceptance.steps)
    α (i.i.d.) solved from the measured AL:  (1 − α^(k+1)) / (1 − α) = AL   (cost.iid_alpha)
    r = step cost ratio = (TPOT_arm × tokens per step) / TPOT_reference,
        TPOT ratio from the paired requests (gains)                           (measured)
    predicted speedup = tokens per step / r                                  (decode only)
beside the measured paired throughput ratio X. Measured below predicted = prefill and TTFT
(not in TPOT) cost the arm more than the reference; tokens per step far below AL = the
method drafts on few steps (n-gram). Nothing is fitted.
"""

from __future__ import annotations

from collections import defaultdict

from specwise import cost
from specwise.gains import pair_with_baseline
from specwise.report.tables import Table
from specwise.results import StudyData, pooled_acceptance

STEP_SOURCE = "vLLM /metrics: steps = max(generated − accepted, drafts + requests)"


def same_hardware_reference(data: StudyData) -> dict[str, str]:
    """{speculative arm: the arm without speculation on the same GPU count} (the baseline when
    it qualifies): the theoretical check compares speculation, not hardware."""
    plain: dict[int, list[str]] = defaultdict(list)
    for r in data.done:
        if not r.speculative and r.arm not in plain[r.gpus]:
            plain[r.gpus].append(r.arm)
    out = {}
    for r in data.done:
        refs = plain.get(r.gpus, [])
        if r.speculative and refs:
            out[r.arm] = data.baseline if data.baseline in refs else refs[0]
    return out


def theory_table(data: StudyData) -> Table:
    """Predicted (tokens per step / measured step cost) beside the measured speedup."""
    reference = same_hardware_reference(data)
    spec = {r.arm: r for r in data.done if r.speculative and r.k}
    rows = []
    for g in pair_with_baseline(data, reference):
        if g.arm not in spec or g.throughput is None:
            continue
        k = spec[g.arm].k or 0
        fixed_k = spec[g.arm].method != "suffix"  # suffix drafts 0..k tokens a step
        cell = [
            r
            for r in data.done
            if (r.arm, r.concurrency, r.temperature) == (g.arm, g.concurrency, g.temperature)
        ]
        acc = pooled_acceptance(cell)
        al = acc.acceptance_length if acc else None
        tps = acc.tokens_per_step if acc else None
        r = None
        if tps and g.tpot is not None:
            r = cost.step_cost_ratio(g.tpot.estimate, tps, 1.0)
        predicted = cost.predicted_speedup(tps, r) if tps and r else None
        rows.append(
            {
                "arm": g.arm, "method": spec[g.arm].method, "vs": g.baseline, "k": k,
                "t": g.temperature, "c": g.concurrency,
                "alpha": acc.acceptance_rate if acc else None,
                "al": al,
                "alpha_iid": cost.iid_alpha(al, k) if al and fixed_k else None,
                "tps": tps, "r": r, "predicted": predicted, "measured": g.throughput,
                "ratio": g.throughput.estimate / predicted if predicted else None,
            }
        )  # fmt: skip
    columns = [
        ("arm", "arm", ""),
        ("method", "method", ""),
        ("vs", "vs", ""),
        ("k", "k", "d"),
        ("t", "T", "g"),
        ("c", "concurrency", "d"),
        ("alpha", "α (accepted / drafted)", ".3f"),
        ("al", "AL", ".2f"),
        ("alpha_iid", "α i.i.d. (from AL)", ".3f"),
        ("tps", "tokens / step (all)", ".2f"),
        ("r", "step cost r", ".2f"),
        ("predicted", "predicted = tok/step ÷ r", ".2f"),
        ("measured", "measured X [CI]", "x"),
        ("ratio", "measured / predicted", ".2f"),
    ]
    note = (
        f"Steps: {STEP_SOURCE}. α i.i.d. solves (1 − α^(k+1)) / (1 − α) = AL. r = (TPOT ratio "
        "of the paired requests) × tokens per step: a speculative step's time over a plain "
        "decode step's, measured. Predicted = tokens per step / r counts decode only; the "
        "measured X also pays prefill (TTFT). Reference = the arm without speculation on the "
        "same GPU count (column `vs`); arms with none are left out. Nothing is fitted. Suffix "
        "decoding drafts a varying number of tokens (k = its most), so its i.i.d. α is n/a."
    )
    return Table("Theoretical check", columns, rows, note)
