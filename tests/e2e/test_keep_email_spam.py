"""The sunset rule's re-engagement email, scored by a real SpamAssassin (local rules only)
as every other email a reader can receive is (``test_spamassassin.py``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from support.emails import WHEN

from newsletter import wiring
from newsletter.reports.hygiene import KeepMailer
from newsletter.settings import get_settings
from newsletter.store.hygiene import Reader

MAX_SCORE = 0.5


def test_keep_me_subscribed_email_scores_at_most_half_a_point() -> None:
    path = shutil.which("spamassassin")
    if path is None:
        if os.environ.get("NEWSLETTER_REQUIRE_SPAMASSASSIN"):
            pytest.fail("SpamAssassin is required but not installed")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin)")
    settings = get_settings()
    mailer = KeepMailer(wiring.renderer(settings), wiring.sender(settings),
                        settings.signing_key(), settings.base_url, 10, 14)
    message = mailer.build(Reader(1, "reader@example.com"), WHEN)
    done = subprocess.run([path, "--local", "--test-mode"], input=message,
                          capture_output=True, check=True, timeout=120)
    out = done.stdout.decode("utf-8", "replace")
    details = out.rpartition("Content analysis details:")[2]
    total = re.search(r"\((-?\d+(?:\.\d+)?) points", details)
    assert total, out[-2000:]
    assert re.search(r"^\s*-?\d+(\.\d+)?\s+[A-Z0-9_]+", details, re.M), "no rules ran"
    assert float(total[1]) <= MAX_SCORE, details
