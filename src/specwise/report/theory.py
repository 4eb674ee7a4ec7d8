"""The theoretical check: measured speedup beside the i.i.d. acceptance model.

    E[tokens/step] = (1 − α^(k+1)) / (1 − α)        speedup ≈ E / (k·c + 1)
c (draft step cost / target step cost) is fitted per arm by least squares over its
configurations (cost.fit_draft_cost). The measured speedup compares each speculative arm with
the arm without speculation on the same GPU count, so the check isolates speculation from
hardware.
"""

from __future__ import annotations

from collections import defaultdict

from specwise import cost
from specwise.report.model import StudyData
from specwise.report.tables import Table, series, speedups


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
    """Measured speedup beside E / (k·c + 1), c fitted per arm over its configurations."""
    reference = same_hardware_reference(data)
    sp = speedups(data, reference)
    alpha = series(data.done, lambda r: r.acceptance_rate)
    spec = {r.arm: r for r in data.done if r.speculative and r.k}
    by_arm: dict[str, list[tuple[float, int, float, float]]] = defaultdict(list)  # (T, c, α, S)
    for (arm, t), points in sp.items():
        a = dict(alpha.get((arm, t), []))
        by_arm[arm] += [(t, c, a[c], s) for c, s in points if arm in spec and c in a]
    rows = []
    for arm, points in by_arm.items():
        k = spec[arm].k or 0
        fitted = cost.fit_draft_cost((al, k, s) for _, _, al, s in points)
        for t, c, al, s in points:
            theory = cost.theoretical_speedup(al, k, fitted) if fitted is not None else None
            rows.append(
                {
                    "arm": arm,
                    "method": spec[arm].method,
                    "vs": reference[arm],
                    "k": k,
                    "t": t,
                    "c": c,
                    "alpha": al,
                    "e": cost.expected_tokens_per_step(al, k),
                    "fit_c": fitted,
                    "theory": theory,
                    "measured": s,
                    "ratio": s / theory if theory else None,
                }
            )
    columns = [
        ("arm", "arm", ""),
        ("method", "method", ""),
        ("vs", "vs", ""),
        ("k", "k", "d"),
        ("t", "T", "g"),
        ("c", "concurrency", "d"),
        ("alpha", "α", ".3f"),
        ("e", "E[tok/step] (c = 0 limit)", ".2f"),
        ("fit_c", "fitted c", ".3f"),
        ("theory", "E / (k·c + 1)", ".2f"),
        ("measured", "measured speedup", ".2f"),
        ("ratio", "measured / theory", ".2f"),
    ]
    note = (
        "E = (1 − α^(k+1)) / (1 − α) assumes i.i.d. acceptance; c = draft step cost / target "
        "step cost, least-squares over the arm's configurations. Measured speedup = tok/s vs "
        "the arm without speculation on the same GPU count (column `vs`) at equal concurrency "
        "and temperature. n-gram drafts on few steps, so its α (drafting steps only) overstates "
        "E. Arms with no such reference are left out."
    )
    return Table("Theoretical check", columns, rows, note)
