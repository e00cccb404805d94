"""The default clock: stores, the engine and the web app take a clock so tests can pass theirs."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)
