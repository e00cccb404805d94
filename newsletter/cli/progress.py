"""Progress of a send: a rich progress bar on a terminal, plain log lines otherwise.

Both take the same calls from the delivery engine's recorder thread: ``advance(status)``
for every recorded outcome and ``note(message)`` for events worth a line of their own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)


class _Base:
    def __init__(self, label: str, total: int, done: int, clock: Callable[[], float]) -> None:
        self.label = label
        self.total = total
        self.done = done
        self.clock = clock
        self.started = clock()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        """Outcomes per second since the start."""
        elapsed = self.clock() - self.started
        return sum(self.counts.values()) / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        left = self.total - self.done
        rate = self.rate
        return left / rate if rate > 0 else None

    def line(self) -> str:
        eta = self.eta()
        return (
            f"{self.label}: {self.done:,}/{self.total:,} done, sent {self.counts['sent']:,}, "
            f"failed {self.counts['failed']:,}, in doubt {self.counts['in_doubt']:,}, "
            f"deferred {self.counts['deferred']:,}, {self.rate:.1f}/s"
            + (f", ETA {_duration(eta)}" if eta is not None else "")
        )


class LogProgress(_Base):
    """A line every ``interval`` seconds (and at the end) through ``write``."""

    def __init__(
        self,
        label: str,
        total: int,
        done: int = 0,
        *,
        write: Callable[[str], None] = print,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(label, total, done, clock)
        self.write = write
        self.interval = interval
        self._last = self.started

    def __enter__(self) -> LogProgress:
        self.write(f"{self.label}: {self.total - self.done:,} of {self.total:,} to go")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.write(self.line())

    def advance(self, status: str) -> None:
        with self._lock:
            self.counts[status] += 1
            if status != "deferred":
                self.done += 1
            now = self.clock()
            if now - self._last >= self.interval:
                self._last = now
                self.write(self.line())

    def note(self, message: str) -> None:
        self.write(f"{self.label}: {message}")


class RichProgress(_Base):
    """A live bar: done of total, sent, failed, rate, ETA."""

    def __init__(
        self,
        label: str,
        total: int,
        done: int = 0,
        *,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(label, total, done, clock)
        self.console = console or Console(stderr=True)
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sent {task.fields[sent]} · failed {task.fields[failed]} · "
                       "{task.fields[rate]:.1f}/s"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bar.start()
        self._task = self._bar.add_task(
            self.label, total=self.total, completed=self.done, sent=0, failed=0, rate=0.0
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def advance(self, status: str) -> None:
        with self._lock:
            self.counts[status] += 1
            if status != "deferred":
                self.done += 1
            if self._task is not None:
                self._bar.update(
                    self._task,
                    completed=self.done,
                    sent=self.counts["sent"],
                    failed=self.counts["failed"],
                    rate=self.rate,
                )

    def note(self, message: str) -> None:
        self._bar.console.print(f"{self.label}: {message}", markup=False, highlight=False)


def make_progress(
    label: str, total: int, done: int, *, tty: bool, write: Callable[[str], None] = print
) -> LogProgress | RichProgress:
    """A bar on a terminal, log lines through ``write`` otherwise."""
    if tty:
        return RichProgress(label, total, done)
    return LogProgress(label, total, done, write=write)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
