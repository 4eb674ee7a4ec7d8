"""The sweep's progress on the terminal (rich): overall requests with the ETA, the current arm's
(or cell's) configurations, the current configuration's requests, a line per finished one."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from specwise.bench.client import RequestRecord
from specwise.servers.prometheus import Acceptance
from specwise.study import Configuration


def wide_console() -> Console:
    """The terminal's width, or 160 columns where output goes to a file or pipe (not 80)."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


class SweepProgress:
    """Three bars: overall requests (with the ETA), the arm's configurations, and the current
    configuration's requests. Redrawn at most twice a second from the measuring event loop."""

    def __init__(self, console: Console, pending: list[Configuration]) -> None:
        self.console = console
        self.bars = Progress(
            TextColumn("{task.description:<44}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            speed_estimate_period=24 * 3600,  # ETA from the whole sweep so far, starts included
        )
        total = sum(c.requests for c in pending)
        self.overall = self.bars.add_task(f"all: {len(pending)} configurations", total=total)
        self.arm: TaskID | None = None
        self.config: TaskID | None = None
        self.group = "arm"
        self.last_draw = 0.0

    def __enter__(self) -> SweepProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_draw >= 0.5:
            self.last_draw = now
            self.bars.refresh()

    def start_arm(self, name: str, configs: list[Configuration], what: str = "arm") -> None:
        """A new group of configurations: one arm's (sequential) or one cell's (interleaved)."""
        for task in (self.arm, self.config):
            if task is not None:
                self.bars.remove_task(task)
        self.config, self.group = None, what
        starting = ": starting its server" if what == "arm" else ""
        self.arm = self.bars.add_task(f"{what} {name}{starting}", total=len(configs))
        self.draw(force=True)

    def add_configurations(self, configs: list[Configuration]) -> None:
        """Adaptive sampling added a look: more requests to wait for."""
        added = sum(c.requests for c in configs)
        for task, more in ((self.overall, added), (self.arm, len(configs))):
            found = [t for t in self.bars.tasks if t.id == task]
            if found and more:
                self.bars.update(found[0].id, total=(found[0].total or 0) + more)

    def start_configuration(self, config: Configuration, done: int = 0) -> None:
        """The configuration's bar (again, for its next turn: `done` requests so far)."""
        assert self.arm is not None
        if self.group == "arm":
            self.bars.update(self.arm, description=f"arm {config.arm.name}")
        if self.config is not None:
            self.bars.remove_task(self.config)
        self.config = self.bars.add_task(
            f"  {config.arm.name} {config.label}", total=config.requests, completed=done
        )
        self.draw(force=True)

    def record(self, record: RequestRecord) -> None:
        for task in (self.config, self.overall):
            if task is not None:
                self.bars.advance(task)
        self.draw()

    def _end(self, config: Configuration, line: str) -> None:
        if self.arm is not None:
            self.bars.advance(self.arm)
        done = self.bars.tasks[self.overall].completed  # type: ignore[index]
        if self.config is None:  # never started (server missing): count its requests as done
            self.bars.update(self.overall, completed=done + config.requests)
        self.console.print(line, highlight=False)
        self.draw(force=True)

    def finish_configuration(
        self, config: Configuration, summary: dict[str, Any], acc: Acceptance | None
    ) -> None:
        tps = summary.get("output_tokens_per_s") or 0.0
        rate = acc.acceptance_rate if acc is not None else None
        accept = f", acceptance {rate:.3f}" if rate is not None else ""
        self._end(
            config,
            f"done   {config.arm.name} {config.label}: {tps:.1f} output tok/s, "
            f"{summary.get('failed', 0)} errors{accept}",
        )

    def fail_configuration(self, config: Configuration, reason: str) -> None:
        self._end(config, f"FAILED {config.arm.name} {config.label}: {reason}")
