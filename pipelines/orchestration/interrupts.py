"""SIGTERM and Ctrl-C (SIGINT) stop `mlcost run` between or inside its Dagster runs, never silently.

Dagster's in-process execution replaces the SIGINT/SIGTERM handlers while a run executes and raises the
interrupt only at its checkpoints (inside a step's code); a signal that arrives in Dagster's own bookkeeping after
the last step is forgotten when the run ends, and the run is reported a success (issue 21: 3 of 12 SIGTERMs at
~4 s were ignored). So, besides our handler, the signal is recorded on a wakeup file descriptor: Python's C-level
handler writes each caught signal's number there whichever Python handler is installed, and `raise_if_received`
reads it after every run. docs/reliability.md says what an interrupt leaves behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_wakeup: dict[str, int | None] = {"read": None}


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt: not an error, a request to stop
    """`mlcost run` was asked to stop (SIGTERM or SIGINT). A BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        self.signum = signum
        self.during: str | None = (
            None  # the Dagster job that was running, if any (set by pipelines.orchestration.runner)
        )
        self.finished: list[str] = []  # the jobs that had finished
        super().__init__(signal.Signals(signum).name)

    def describe(self) -> str:
        """One line for the terminal: what was stopped and what it leaves (docs/reliability.md, "Interrupts")."""
        where = f" during {self.during}" if self.during else ""
        done = f" (finished: {', '.join(self.finished)})" if self.finished else ""
        return (
            f"stopped by {signal.Signals(self.signum).name}{where}{done}; a step that finished is published whole, "
            "the interrupted step published nothing; run `mlcost run` again to complete"
        )

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # the shell's convention: 143 for SIGTERM, 130 for SIGINT


def _handler(signum: int, frame) -> None:
    raise Interrupted(signum)


def install() -> None:
    """Stop on SIGTERM/SIGINT from now on (main thread only), and record them even while Dagster handles them."""
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    _wakeup["read"] = read
    for signum in STOP_SIGNALS:
        signal.signal(signum, _handler)


def raise_if_received() -> None:
    """Raise Interrupted if SIGTERM or SIGINT arrived since the last call, even if a Dagster handler took it."""
    read = _wakeup["read"]
    if read is None:
        return
    received = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(read, 512):
            received += chunk
    for signum in STOP_SIGNALS:
        if signum in received:
            raise Interrupted(signum)


def stop_request(exc: BaseException) -> Interrupted | None:
    """The Interrupted behind `exc` (in its chain, or a signal received meanwhile), else None."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        if isinstance(err, Interrupted):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    try:
        raise_if_received()
    except Interrupted as received:
        return received
    return None


@contextlib.contextmanager
def deferred():
    """Hold SIGTERM/SIGINT while a block that must not stop half way runs (a publish's renames), then deliver
    them to whichever handler was installed (ours, Dagster's, or the default). Main thread only (else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if held:
            signal.raise_signal(held[0])
