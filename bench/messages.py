"""Benchmark: per-recipient message building, fast path against ``EmailMessage``.

For each language variant of the sample issue (zh, en, both) the issue is rendered once,
then messages are built for distinct recipients (own address, delivery id and tokens) by
``MessageTemplate.build`` and by ``build_reference_message``, side by side in one process
on one core. Tokens are made before the clock starts: signing is part of the delivery
loop, not of message building, and costs the same for both variants. A third column
times the fast path with both tokens signed per message, as the delivery engine does.

Targets (issue #4): at least 5,000 messages/s on the fast path, at least 20x faster
than ``EmailMessage``. Prints PASS/FAIL per target and always exits 0.

    .venv/bin/python bench/messages.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.mail.message import MessageTemplate, Recipient, Sender, build_reference_message
from newsletter.rendering.renderer import RenderedIssue
from newsletter.settings import Settings
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "issues" / "2022-09-07.yaml"
SECRET = "bench-secret-key-d16bb18bbb62a2f8d659657d"
FAST_TARGET = 5_000.0
RATIO_TARGET = 20.0


def recipients(count: int) -> list[Recipient]:
    """``count`` distinct recipients with real signed tokens."""
    return [
        Recipient(
            address=f"reader{i}@example.com",
            delivery_id=f"2022-09-07.{i}",
            unsubscribe_token=make_token(SECRET, Purpose.UNSUBSCRIBE, i),
            preferences_token=make_token(SECRET, Purpose.PREFERENCES, i),
        )
        for i in range(1, count + 1)
    ]


def rate(build: Callable[[Recipient], bytes], people: list[Recipient]) -> tuple[float, int]:
    """Messages per second building one message for each of ``people``, and total bytes."""
    start = time.perf_counter()
    size = 0
    for person in people:
        size += len(build(person))
    return len(people) / (time.perf_counter() - start), size


def signed(person: Recipient, index: int) -> Recipient:
    """``person`` with both tokens signed now."""
    return Recipient(
        person.address,
        person.delivery_id,
        make_token(SECRET, Purpose.UNSUBSCRIBE, index),
        make_token(SECRET, Purpose.PREFERENCES, index),
    )


def measure(
    rendered: RenderedIssue, sender: Sender, people: list[Recipient], reference_count: int
) -> tuple[float, float, float, int]:
    """(fast, fast with signing, reference msg/s, bytes per message) for one variant."""
    date = format_datetime(dt.datetime(2022, 9, 7, 8, 0, tzinfo=dt.UTC))
    template = MessageTemplate(rendered, sender, "2022-09-07")
    # Warm up both paths (imports, regex compilation, header registry caches).
    for person in people[:50]:
        template.build(person, date)
        build_reference_message(rendered, sender, "2022-09-07", person, date)
    fast, size = rate(lambda p: template.build(p, date), people)
    with_tokens, _ = rate(lambda p: template.build(signed(p, 7), date), people)
    slow, _ = rate(
        lambda p: build_reference_message(rendered, sender, "2022-09-07", p, date),
        people[:reference_count],
    )
    return fast, with_tokens, slow, size // len(people)


def pin_to_one_core() -> str:
    """Pin this process to one CPU where the OS allows it; say what happened."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    args = parser.parse_args(argv)
    fast_count, reference_count = (5_000, 300) if args.quick else (30_000, 1_500)

    settings = Settings(secret_key=SECRET, base_url="https://news.example.org")
    sender = wiring.sender(settings)
    renderer = wiring.renderer(settings)
    issue = load_issue(SAMPLE)
    people = recipients(fast_count)
    print(f"message building, sample issue {SAMPLE.name}, one process {pin_to_one_core()}")
    print(f"fast path: {fast_count:,} messages per variant; EmailMessage: {reference_count:,}")
    print(f"{'variant':<10}{'bytes/msg':>10}{'fast msg/s':>12}{'+ signing':>11}"
          f"{'EmailMessage msg/s':>20}{'speed-up':>10}")
    results: list[tuple[str, float, float]] = []
    for language in ("zh", "en", "both"):
        rendered = renderer.render(issue, Variant(language))
        fast, with_tokens, slow, size = measure(rendered, sender, people, reference_count)
        results.append((language, fast, slow))
        print(f"{language:<10}{size:>10,}{fast:>12,.0f}{with_tokens:>11,.0f}{slow:>20,.0f}"
              f"{fast / slow:>9.1f}x")
    for language, fast, slow in results:
        verdict = "PASS" if fast >= FAST_TARGET else "FAIL"
        print(f"{verdict} {language}: fast path {fast:,.0f} msg/s (target >= {FAST_TARGET:,.0f})")
        verdict = "PASS" if fast / slow >= RATIO_TARGET else "FAIL"
        print(f"{verdict} {language}: {fast / slow:.1f}x EmailMessage "
              f"(target >= {RATIO_TARGET:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
