"""Progress of long work (`mlcost run`, `mlcost fixtures --lines`, `make bench`): live on a terminal, one line per
step otherwise.

On a terminal, rich's live display shows every step started so far (which run, which step, rows so far, elapsed),
the running one with a spinner and its clock ticking, redrawn in place. When stdout is not a terminal (a pipe, a
log file, CI), nothing is drawn while a step runs: each finished step prints one plain line (no carriage return,
no escape code), so a log has one line per step and `grep` works on it.

Callers say when a step starts, how many rows it has so far, and when it ends; they never print progress
themselves.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

# Between two redraws asked for by new row counts (the display's own clock ticks twice a second anyway).
REDRAW_SECONDS = 0.2


@dataclass
class _Step:
    label: str
    started: float
    rows: int | None = None
    task: int | None = None


@dataclass
class Progress:
    """Steps of long work, shown on `stream` (default stdout); `live` defaults to whether it is a terminal."""

    stream: TextIO | None = None
    live: bool | None = None
    _steps: dict[str, _Step] = field(default_factory=dict)
    _display: Any = None  # a rich.progress.Progress, created on the first live step
    _drawn: float = 0.0
    _broken: bool = False

    def __post_init__(self) -> None:
        if self.stream is None:
            self.stream = sys.stdout
        if self.live is None:
            isatty = getattr(self.stream, "isatty", None)
            self.live = bool(isatty and isatty())

    # --- what callers say -------------------------------------------------------------------------------------

    def start(self, key: str, label: str) -> None:
        """A step begins (`key` identifies it to `rows` and `finish`; `label` is what a person reads)."""
        step = _Step(label=label, started=time.monotonic())
        self._steps[key] = step
        if self.live:
            display = self._live_display()
            # Labels are text, not rich markup: "daily_tables [0b2bbfd9] ..." would lose its run id as a tag.
            step.task = display.add_task(_escape(label), total=None, rows="", mark="")
            # Drawn now, not at the next tick: a step shorter than the refresh interval is seen too.
            self._redraw()

    def rows(self, key: str, rows: int) -> None:
        """The step has `rows` rows so far (shown live on a terminal; the last count goes on the step's line)."""
        step = self._steps.get(key)
        if step is None:
            return
        first = step.rows is None
        step.rows = rows
        if self.live and step.task is not None:
            self._display.update(step.task, rows=f"{rows:,} rows")
            # A step's first count is drawn at once; later ones at most every REDRAW_SECONDS (a daily step
            # reports once per day, hundreds of times in a run).
            if first or time.monotonic() - self._drawn >= REDRAW_SECONDS:
                self._redraw()

    def finish(self, key: str, *, rows: int | None = None, line: str | None = None, ok: bool = True) -> None:
        """The step ended: one line for it (`line`, else its label, rows and elapsed seconds)."""
        step = self._steps.pop(key, None)
        if step is None:
            return
        if rows is not None:
            step.rows = rows
        elapsed = time.monotonic() - step.started
        text = line or self.describe(step.label, step.rows, elapsed, ok)
        if self.live and step.task is not None:
            display = self._display
            display.update(
                step.task,
                description=_escape(text),
                rows="",
                mark="[green]✓[/]" if ok else "[red]✗[/]",
                total=1,
                completed=1,
            )
            display.stop_task(step.task)
        else:
            self._print(text)

    def note(self, text: str) -> None:
        """A line that is not a step (a heading, a warning), printed above the live display on a terminal."""
        if self.live and self._display is not None:
            self._display.console.print(text, markup=False, highlight=False)
        else:
            self._print(text)

    def close(self) -> None:
        """Stop drawing (steps still open are left as they were); call it before printing anything else.

        Raises BrokenPipeError if the reader of the lines went away meanwhile (`mlcost run | head -1`): the steps
        went on (a progress line is not worth failing a Dagster step for), and the command now stops as a Unix
        tool does when its reader is gone.
        """
        if self._display is not None:
            self._display.stop()
            self._display = None
        if self._broken:
            self._broken = False
            raise BrokenPipeError("the reader of the progress lines went away")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(BrokenPipeError):  # the exception already on its way says more
            self.close()

    def _print(self, text: str) -> None:
        # Called from inside Dagster's event handling: a closed pipe must not raise there.
        if self._broken:
            return
        try:
            print(text, file=self.stream, flush=True)
        except BrokenPipeError:
            self._broken = True

    @staticmethod
    def describe(label: str, rows: int | None, seconds: float, ok: bool = True) -> str:
        counted = f", {rows:,} rows" if rows is not None else ""
        return f"{label}: {'done' if ok else 'FAILED'} in {seconds:.1f} s{counted}"

    # --- the terminal display ---------------------------------------------------------------------------------

    def _redraw(self) -> None:
        self._display.refresh()
        self._drawn = time.monotonic()

    def _live_display(self):
        if self._display is None:
            from rich.console import Console
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(file=self.stream, force_terminal=True)
            self._display = RichProgress(
                TextColumn("{task.fields[mark]}"),
                SpinnerColumn(finished_text=""),
                TextColumn("{task.description}"),
                TextColumn("{task.fields[rows]}"),
                TimeElapsedColumn(),
                console=console,
                # Twice a second is enough for a clock in seconds, and costs nothing next to the work.
                refresh_per_second=2,
            )
            self._display.start()
        return self._display


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
