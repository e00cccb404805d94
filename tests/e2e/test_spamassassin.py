"""Every email a reader can receive, scored by a real SpamAssassin with network tests off.

``spamassassin -L -t`` (Debian's ``spamassassin``; ``.ci/run`` installs it) runs the
local rules only: no DNS blocklists, no Razor/Pyzor, so the score depends on the message
alone. The rules that fired are printed, so a failing run says what to fix.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from support.emails import CASES, confirmation_message, issue_message

MAX_SCORE = 0.5
# "  0.7 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar ..."
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


@dataclass(frozen=True)
class Report:
    score: float
    rules: list[tuple[float, str, str]]

    def fired(self) -> str:
        return "\n".join(f"{points:5.1f} {name} {text}" for points, name, text in self.rules)


@pytest.fixture(scope="module")
def spamassassin() -> str:
    path = shutil.which("spamassassin")
    if path is None:
        if os.environ.get("NEWSLETTER_REQUIRE_SPAMASSASSIN"):
            pytest.fail("SpamAssassin is required but not installed")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin)")
    return path


def score(spamassassin: str, message: bytes) -> Report:
    """Run SpamAssassin on ``message`` (local tests only) and parse its report."""
    done = subprocess.run(
        [spamassassin, "--local", "--test-mode"],
        input=message, capture_output=True, check=True, timeout=120,
    )
    out = done.stdout.decode("utf-8", "replace")
    details = out.rpartition("Content analysis details:")[2]
    total = re.search(r"\((-?\d+(?:\.\d+)?) points", details)
    assert total, out[-2000:]
    rules = [(float(m[1]), m[2], m[3].strip()) for line in details.splitlines()
             if (m := _RULE.match(line))]
    report = Report(float(total[1]), rules)
    print(f"SpamAssassin: {report.score} points\n{report.fired()}")
    return report


@pytest.mark.parametrize("case", CASES)
def test_every_variant_scores_at_most_half_a_point(spamassassin: str, case: str) -> None:
    """Each variant's message scores <= 0.5 in SpamAssassin, network tests off."""
    report = score(spamassassin, issue_message(case))
    assert report.rules, "SpamAssassin reported no rules at all; is its rule set installed?"
    assert report.score <= MAX_SCORE, f"{case}: {report.score} points\n{report.fired()}"


@pytest.mark.parametrize("language", ["zh", "en", "both"])
def test_confirmation_email_scores_at_most_half_a_point(spamassassin: str, language: str) -> None:
    """The double opt-in email in each language scores <= 0.5 in SpamAssassin."""
    report = score(spamassassin, confirmation_message(language))
    assert report.rules
    assert report.score <= MAX_SCORE, f"{language}: {report.score} points\n{report.fired()}"


def test_white_preheader_would_be_caught(spamassassin: str) -> None:
    """The check can fail: the old white preheader text scores HTML_FONT_LOW_CONTRAST."""
    message = issue_message("en")
    # The body is quoted-printable or base64; decode, break the preheader, re-encode.
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    html_part = next(p for p in parsed.iter_parts() if p.get_content_type() == "text/html")
    assert isinstance(html_part, EmailMessage)
    html = html_part.get_content().replace(
        '<div style="display:none;', '<div style="display:none;color:#ffffff;font-size:1px;', 1
    )
    html_part.set_content(html, subtype="html", charset="utf-8")
    report = score(spamassassin, parsed.as_bytes())
    assert "HTML_FONT_LOW_CONTRAST" in {name for _, name, _ in report.rules}
