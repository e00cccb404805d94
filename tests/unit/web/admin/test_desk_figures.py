"""The overview's costly counts are kept a while and recounted in the background."""

from __future__ import annotations

import threading
from typing import Any

from newsletter.web.admin.dashboard import Figures


def test_figures_are_counted_once_then_served_while_a_recount_runs() -> None:
    """The first call counts; later calls within max_age reuse it; a stale call returns the
    old figures at once and one background recount replaces them."""
    now = [0.0]
    counts: list[int] = []
    release = threading.Event()

    def count() -> dict[str, Any]:
        counts.append(1)
        if len(counts) > 1:
            assert release.wait(5)  # a slow recount: the caller must not wait for it
        return {"n": len(counts)}

    figures = Figures(count, max_age=30, clock=lambda: now[0])
    assert figures.get() == {"n": 1}
    now[0] = 29
    assert figures.get() == {"n": 1} and len(counts) == 1
    now[0] = 31
    assert figures.get() == {"n": 1}  # stale, returned at once
    assert figures.get() == {"n": 1}  # no second recount while one runs
    release.set()
    for _ in range(500):
        if figures.get() == {"n": 2}:
            break
        threading.Event().wait(0.01)
    assert figures.get() == {"n": 2} and len(counts) == 2
