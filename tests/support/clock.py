"""The one fake clock of the tests: time moves only when a test says so.

Called, it gives the aware UTC datetime (what stores, the web app and the workflow take);
``seconds()`` gives the same instant as float seconds (for parts that take a
``time.time``- or ``monotonic``-style clock); ``advance`` and ``sleep`` move it, and
``slept`` records every sleep.
"""

from __future__ import annotations

import datetime as dt

START = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self, start: dt.datetime | float = START) -> None:
        self.now = (
            start if isinstance(start, dt.datetime)
            else dt.datetime.fromtimestamp(start, dt.UTC)
        )
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds=seconds)
