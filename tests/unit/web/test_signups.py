"""The sign-up queue: bounded, in order, retried through database failures."""

from __future__ import annotations

import threading

from newsletter.errors import DatabaseError
from newsletter.subscribers.choices import Choices
from newsletter.web.signups import SignupQueue

CHOICES = Choices(frozenset(), "both")


def test_a_full_queue_refuses_instead_of_promising() -> None:
    """With the thread busy and the queue full, put() says no (the page answers 503)."""
    release, taken = threading.Event(), threading.Event()
    done: list[str] = []

    def work(address: str, choices: Choices) -> None:
        taken.set()
        release.wait(5)
        done.append(address)

    signups = SignupQueue(work, size=2)
    signups.start()
    try:
        assert signups.put("a@example.org", CHOICES)
        assert taken.wait(5)  # the thread holds "a"; two more fit in the queue
        assert signups.put("b@example.org", CHOICES)
        assert signups.put("c@example.org", CHOICES)
        assert not signups.put("d@example.org", CHOICES)
        release.set()
        assert signups.wait_idle()
        assert done == ["a@example.org", "b@example.org", "c@example.org"]
    finally:
        signups.stop()


def test_database_failures_are_retried_and_refuse_new_sign_ups_meanwhile() -> None:
    """A sign-up meeting a failing database is kept and retried; while it fails, put() says
    no; once the database works the sign-up is done and put() accepts again."""
    failures = [DatabaseError("database error: locked")] * 3
    done: list[str] = []
    failing_seen = threading.Event()

    def work(address: str, choices: Choices) -> None:
        if failures:
            failures.pop()
            failing_seen.set()
            raise DatabaseError("database error: locked")
        done.append(address)

    signups = SignupQueue(work, retry_delays=(0.05,))
    signups.start()
    try:
        assert signups.put("a@example.org", CHOICES)
        assert failing_seen.wait(5)
        assert signups.failing
        assert not signups.put("b@example.org", CHOICES)
        assert signups.wait_idle()
        assert done == ["a@example.org"]
        assert not signups.failing
        assert signups.put("c@example.org", CHOICES)
        assert signups.wait_idle()
        assert done == ["a@example.org", "c@example.org"]
    finally:
        signups.stop()
