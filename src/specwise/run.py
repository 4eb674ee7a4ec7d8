"""`specwise run STUDY.yaml` (the main job) and `specwise sweep STUDY.yaml`.

run = sweep, summary table, quality step (`specwise judge OUT` with the study's `quality`
options), then the report with its cost lines. Both resume: running the same command again
measures only what is missing, and judge verdicts already cached are not asked again.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from specwise import store
from specwise.dry_run import dry_run
from specwise.errors import SpecwiseError
from specwise.progress import wide_console
from specwise.results import load_results, summary_table
from specwise.study import Study, load_study
from specwise.sweep import SweepResult, sweep


def default_out(study: Study) -> Path:
    return Path("runs") / study.name


def sweep_command(study_path: Path, out: Path | None, force: bool, dry: bool) -> None:
    """`specwise sweep`: print the matrix (--dry-run) or measure it and print the summary."""
    if dry:
        dry_run(load_study(study_path), out)
        return
    sweep_study(study_path, out, force)


def sweep_study(study_path: Path, out: Path | None = None, force: bool = False) -> SweepResult:
    """The study read once, swept, its summary table; an error at the end if any configuration
    failed."""
    study = load_study(study_path)
    out = out or default_out(study)
    result = sweep(study, out, force, str(study_path))
    print_summary(out)
    raise_if_failed(result)
    return result


def run_study(study_path: Path, out: Path | None = None, force: bool = False) -> SweepResult:
    """`specwise run`: the study read once, then the sweep and its summary, the quality step and
    the report (written even when some configurations failed: it shows them)."""
    study = load_study(study_path)
    out = out or default_out(study)
    result = sweep(study, out, force, str(study_path))
    print_summary(out)
    quality_step(study, out)
    from specwise.report import write_report

    written = write_report(out)
    print(f"{written.headline}\nreport: {written.html}")
    raise_if_failed(result)
    return result


def quality_step(study: Study, out: Path) -> None:
    """Verdicts per speculative arm × temperature into OUT/quality.json (the report reads it).

    A failing judge does not lose the measurements: the step says why and the report is still
    written (without verdicts); `specwise judge OUT` repeats the step alone."""
    from specwise.quality.run import JudgeOptions, run_judge
    from specwise.quality.settings import study_settings

    if not study.quality.enabled:
        return
    local = study.target == "smollm2" or (Path(study.target) / "tokenizer.json").exists()
    options = JudgeOptions(
        source=out,
        baseline_arm=study.baseline_arm,
        tokenizer=study.target if local else None,
        settings=study_settings(study),
    )
    try:
        run_judge(options)
    except SpecwiseError as exc:
        wide_console().print(
            f"[yellow]quality step not done:[/] {escape(str(exc))} The measurements are kept; "
            f"`specwise judge {out}` runs this step again.",
            highlight=False,
        )


def raise_if_failed(result: SweepResult) -> None:
    if result.failed:
        raise SpecwiseError(
            f"{result.failed} of {result.configurations} configurations failed (reasons above); "
            "fix the cause and run the same command again: finished ones are kept."
        )


def print_summary(out: Path) -> None:
    data = load_results(out)
    title = f"{data.name}: {len(data.rows)} configurations → {store.store_path(out)}"
    wide_console().print(summary_table(data, title))
