"""The welcome email (issue 22) judged as receivers judge it: SpamAssassin (local rules)
scores it at most half a point, and axe-core in Chromium finds no serious accessibility
problem, in each language."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
from email.message import EmailMessage
from typing import Any

import pytest
from support.axe import AxeUnavailable, axe_source
from support.emails import welcome_message

pytestmark = pytest.mark.e2e

LANGUAGES = ("zh", "en", "both")
MAX_SCORE = 0.5


def html_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]


@pytest.mark.parametrize("language", LANGUAGES)
def test_spamassassin_scores_it_at_most_half_a_point(language: str) -> None:
    path = shutil.which("spamassassin")
    if path is None:
        if os.environ.get("NEWSLETTER_REQUIRE_SPAMASSASSIN"):
            pytest.fail("SpamAssassin is required but not installed")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin)")
    done = subprocess.run([path, "--local", "--test-mode"], input=welcome_message(language),
                          capture_output=True, check=True, timeout=120)
    details = done.stdout.decode("utf-8", "replace").rpartition("Content analysis details:")[2]
    total = re.search(r"\((-?\d+(?:\.\d+)?) points", details)
    assert total, details[-2000:]
    assert re.search(r"^\s*-?\d+\.\d\s+[A-Z0-9_]+\s", details, re.M), "no rule ran at all"
    assert float(total[1]) <= MAX_SCORE, details


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_no_serious_violations(browser: Any, language: str) -> None:
    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.fail(str(err))
    context = browser.new_context(viewport={"width": 600, "height": 800})
    try:
        page = context.new_page()
        page.route("**/*", lambda route: route.abort())
        page.set_content(html_of(welcome_message(language)), wait_until="load")
        page.add_script_tag(content=axe)
        result = page.evaluate("async () => await axe.run(document)")
        assert result["passes"], "axe ran no check"
        serious = [(v["id"], [n["html"][:120] for n in v["nodes"][:3]])
                   for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], language
    finally:
        context.close()
