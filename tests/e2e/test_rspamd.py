"""Every email a reader can receive, scored by a real rspamd on its content alone.

rspamd (Debian's ``rspamd``; ``.ci/run`` installs it) runs on loopback with a
configuration this test writes (``support.spam_filters``): its own rules and scores, and
only the modules that need no network (no RBLs, DNS, SPF/DKIM/DMARC, fuzzy hashes, neural
networks or maps fetched over HTTP). Its score is then the message's content score. The
same messages as ``test_spamassassin.py``; the rules that fired are printed.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.emails import (
    ISSUE_MESSAGES,
    TRANSACTIONAL,
    issue_message,
    issue_variant_message,
    send_test_messages,
    transactional_message,
)
from support.spam_filters import NETWORK_MODULES, Report, Rspamd, rspamd

MAX_SCORE = 0.5
POSTAL_ADDRESS = "AI Digest, 100 Example Road, Springfield, IL 62701, USA"


@pytest.fixture(scope="module")
def filter_(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rspamd]:
    if shutil.which("rspamd") is None:
        if os.environ.get("NEWSLETTER_REQUIRE_RSPAMD"):
            pytest.fail("rspamd is required but not installed")
        pytest.skip("rspamd is not installed (apt-get install rspamd)")
    with rspamd(tmp_path_factory.mktemp("rspamd")) as daemon:
        yield daemon


@pytest.fixture(autouse=True)
def _postal_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a deployment that followed ``check``'s advice: the footer has a postal address."""
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", POSTAL_ADDRESS)


def judged(filter_: Rspamd, message: bytes, what: str) -> Report:
    report = filter_.score(message)
    assert report.rules, "rspamd reported no rules at all; are its rules loaded?"
    networked = [n for n in report.names() if n.startswith(NETWORK_MODULES)]
    assert networked == [], f"rules that need the network ran: {networked}"
    assert report.score <= MAX_SCORE, f"{what}: {report}"
    return report


@pytest.mark.parametrize("case", ISSUE_MESSAGES)
def test_every_variant_scores_at_most_half_a_point(filter_: Rspamd, case: str) -> None:
    """Each variant's message, as one reader gets it today, scores <= 0.5 points."""
    judged(filter_, issue_variant_message(case), case)


@pytest.mark.parametrize("name", TRANSACTIONAL)
def test_transactional_emails_score_at_most_half_a_point(filter_: Rspamd, name: str) -> None:
    """The confirmation in each language, the desk's sign-in email and any other
    transactional email (the welcome email, once there is one) score <= 0.5 points."""
    judged(filter_, transactional_message(name), name)


def test_send_test_messages_score_at_most_half_a_point(
    filter_: Rspamd, sample_issue_path: Path, tmp_path: Path
) -> None:
    """What ``send-test --all-variants`` sends editors scores as readers' messages do."""
    messages = send_test_messages(sample_issue_path, tmp_path)
    assert len(messages) > 1
    for message in messages:
        judged(filter_, message, "send-test")


def _with(message: bytes, subject: str | None = None, html: str | None = None) -> bytes:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    if subject is not None:
        del parsed["Subject"]
        parsed["Subject"] = subject
    if html is not None:
        part = next(p for p in parsed.iter_parts() if p.get_content_type() == "text/html")
        assert isinstance(part, EmailMessage)
        part.set_content(html, subtype="html", charset="utf-8")
    return parsed.as_bytes()


def test_a_shouting_subject_would_be_caught(filter_: Rspamd) -> None:
    """The check can fail: the old Chinese title, "AI" its only Latin word, is shouting."""
    message = _with(issue_message("zh"), subject="AI 前沿论文速递 · 2022-09-07")
    assert "SUBJ_ALL_CAPS" in filter_.score(message).names()


def test_an_odd_number_of_links_would_be_caught(filter_: Rspamd) -> None:
    """The check can fail: the old second link to a paper's abstract under its title (the
    HTML twice, the text once) fires URI_COUNT_ODD."""
    parsed = email.message_from_bytes(issue_message("zh"), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    part = next(p for p in parsed.iter_parts() if p.get_content_type() == "text/html")
    assert isinstance(part, EmailMessage)
    first = "https://arxiv.org/abs/2209.01947"
    html = part.get_content().replace(
        "arXiv:2209.01947 ·", f'<a href="{first}">arXiv:2209.01947</a> ·', 1)
    assert html.count(f'href="{first}"') == 2
    report = filter_.score(_with(issue_message("zh"), html=html))
    assert "URI_COUNT_ODD" in report.names()
