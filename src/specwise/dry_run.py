"""`specwise sweep --dry-run`: the matrix, each arm's exact server command, the preflight's
findings; nothing is started or written."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from specwise import preflight, store
from specwise.arm_server import display_command
from specwise.errors import SpecwiseError
from specwise.progress import wide_console
from specwise.study import Study, expand


def dry_run(study: Study, out: Path | None = None) -> Table:
    """The matrix (with each configuration's state if OUT has a store), each arm's command and
    the preflight's findings; any problem ends it with exit status 2."""
    checked = preflight.check(study)
    matrix = expand(study)
    done: set[str] = set()
    path = store.store_path(out) if out is not None else None
    if path is not None and path.exists() and not (path.is_file() and path.stat().st_size == 0):
        conn = store.connect(path)  # an empty file (a sweep killed as it made it) holds nothing
        done = store.done_keys(conn)
        conn.close()
    table = Table(title=f"{study.name}: {len(matrix)} configurations", title_justify="left")
    for col in ("#", "arm", "concurrency", "temperature", "repeat", "requests", "state"):
        left = col in ("arm", "state")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for i, c in enumerate(matrix, 1):
        state = "done" if c.key in done else "to measure"
        count = str(c.requests)
        if study.adaptive_sampling:  # the first look, then more up to the cap
            count += f" (auto, ≤ {study.slice_for(c.concurrency)})"
        table.add_row(
            str(i), c.arm.name, str(c.concurrency), f"{c.temperature:g}", str(c.repeat),
            count, state,
        )  # fmt: skip
    console = wide_console()
    console.print(table)
    console.print("Server commands (each arm's port is chosen free at start; 8000 shown):")
    for arm in study.arms:
        console.print(f"[bold]{arm.name}[/]: {display_command(study, arm)}", soft_wrap=True)
    for line in preflight.report(checked):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if checked.problems:
        raise SpecwiseError(
            f"{len(checked.problems)} problem(s) found before anything ran (listed above); fix "
            "them and run again."
        )
    return table
