"""Who gets what of an issue (issue 21), in words: papers per email, and the readers a
daily send leaves for their weekly edition or their pause. ``send``'s plan and summary
and ``status`` print these lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter.model.editions import WEEKDAYS
from newsletter.vocabulary import Variant


@dataclass(frozen=True)
class Audience:
    """Readers per paper limit (0: every paper), and those the daily issue waits out."""

    by_limit: dict[int, int] = field(default_factory=dict)
    weekly: dict[int, int] = field(default_factory=dict)
    paused: int = 0

    @classmethod
    def of(cls, by_variant: Mapping[str, int], weekly: Mapping[int, int] | None = None,
           paused: int = 0) -> Audience:
        """From counts per variant key (the plan's or a campaign's deliveries)."""
        limits: dict[int, int] = {}
        for key, n in by_variant.items():
            limit = Variant.from_key(key).max_papers
            limits[limit] = limits.get(limit, 0) + n
        return cls(dict(sorted(limits.items(), key=lambda kv: (kv[0] != 0, -kv[0]))),
                   dict(weekly or {}), paused)

    def lines(self) -> list[str]:
        """One line per paper limit breakdown and per kind of reader left out; none when
        every reader gets every paper and nobody waits."""
        out = []
        if any(self.by_limit.get(limit) for limit in self.by_limit if limit):
            parts = [f"{n:,} every paper" if not limit else f"{n:,} at most {limit}"
                     for limit, n in self.by_limit.items() if n]
            out.append("papers per email: " + ", ".join(parts))
        if self.weekly or self.paused:
            waiting = []
            if self.weekly:
                days = ", ".join(f"{WEEKDAYS[day]} {n:,}" for day, n in self.weekly.items())
                waiting.append(f"{sum(self.weekly.values()):,} weekly readers ({days}) get "
                               "the week's best instead")
            if self.paused:
                waiting.append(f"{self.paused:,} paused")
            out.append("not in this daily send: " + "; ".join(waiting))
        return out
