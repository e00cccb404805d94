"""Every email a reader can receive, scored by a real SpamAssassin with network tests off.

``spamd --local`` (Debian's ``spamassassin``, ``spamd`` and ``spamc``; ``.ci/run``
installs them) runs the local rules only: no DNS blocklists, no Razor/Pyzor, so the score
depends on the message alone. Every variant of the sample issue (each language, every set
of categories a reader can choose), the English-only sample, an imported digest, a
fifty-paper issue, the transactional emails and ``send-test``'s messages are each scored;
the rules that fired are printed (``support.spam_filters``), so a failing run says what
to fix. The same messages go through rspamd in ``test_rspamd.py``.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
from support.spam_filters import Report, SpamAssassin, spamassassin

MAX_SCORE = 0.5
SITE_CONFIG = Path("/etc/spamassassin")  # Debian's site configuration
POSTAL_ADDRESS = "AI Digest, 100 Example Road, Springfield, IL 62701, USA"


@pytest.fixture(scope="module")
def spamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpamAssassin]:
    if shutil.which("spamc") is None or shutil.which("spamassassin") is None:
        if os.environ.get("NEWSLETTER_REQUIRE_SPAMASSASSIN"):
            pytest.fail("SpamAssassin is required but not installed")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin spamc)")
    with spamassassin(tmp_path_factory.mktemp("spamd")) as daemon:
        yield daemon


@pytest.fixture(autouse=True)
def _postal_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a deployment that followed ``check``'s advice: the footer has a postal address."""
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", POSTAL_ADDRESS)


def judged(spamd: SpamAssassin, message: bytes, what: str) -> Report:
    report = spamd.score(message)
    assert report.rules, "SpamAssassin reported no rules at all; is its rule set installed?"
    assert report.score <= MAX_SCORE, f"{what}: {report}"
    return report


# Each issue and language: its variants are scored together, two at a time (spamd runs two
# children), so a hundred messages take half as long; every report is printed.
GROUPS = sorted({case.split(":")[0] for case in ISSUE_MESSAGES})


@pytest.mark.parametrize("group", GROUPS)
def test_every_variant_scores_at_most_half_a_point(spamd: SpamAssassin, group: str) -> None:
    """Each variant's message, as one reader gets it today, scores <= 0.5 points."""
    cases = [case for case in ISSUE_MESSAGES if case.split(":")[0] == group]
    messages = [issue_variant_message(case) for case in cases]
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(spamd.score, messages))
    assert all(report.rules for report in reports), "SpamAssassin reported no rules at all"
    over = [f"{case}: {report}" for case, report in zip(cases, reports, strict=True)
            if report.score > MAX_SCORE]
    assert over == [], "\n".join(over)


@pytest.mark.parametrize("name", TRANSACTIONAL)
def test_transactional_emails_score_at_most_half_a_point(spamd: SpamAssassin, name: str) -> None:
    """The confirmation in each language, the desk's sign-in email and any other
    transactional email (the welcome email, once there is one) score <= 0.5 points."""
    judged(spamd, transactional_message(name), name)


def test_send_test_messages_score_at_most_half_a_point(
    spamd: SpamAssassin, sample_issue_path: Path, tmp_path: Path
) -> None:
    """What ``send-test --all-variants`` sends editors scores as readers' messages do."""
    messages = send_test_messages(sample_issue_path, tmp_path)
    assert len(messages) > 1
    for message in messages:
        judged(spamd, message, "send-test")


def test_white_preheader_would_be_caught(spamd: SpamAssassin) -> None:
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
    report = spamd.score(parsed.as_bytes())
    assert "HTML_FONT_LOW_CONTRAST" in report.names()


def test_a_shouting_subject_would_be_caught(spamd: SpamAssassin) -> None:
    """The check can fail: the old Chinese title with "AI" as its only Latin word, spaces
    and all, fires SUBJ_ALL_CAPS."""
    parsed = email.message_from_bytes(issue_message("zh"), policy=email.policy.default)
    del parsed["Subject"]
    parsed["Subject"] = "AI 前沿论文速递 · 2022-09-07"
    assert "SUBJ_ALL_CAPS" in spamd.score(parsed.as_bytes()).names()


@pytest.mark.parametrize(("case", "unwanted"), [
    ("en", False), ("english-only-issue", False), ("imported-en", False), ("zh", True),
])
def test_english_issues_read_as_english_where_only_english_is_welcome(
    case: str, unwanted: bool, tmp_path: Path
) -> None:
    """With TextCat on and ``ok_languages en`` (as some receivers set), English issues are
    not taken for another language (UNWANTED_LANGUAGE_BODY); a Chinese one is, so the
    check can fail."""
    binary = shutil.which("spamassassin")
    if binary is None or not SITE_CONFIG.is_dir():
        pytest.skip("SpamAssassin is not installed")
    # The site configuration, plus the plugin (a .pre file) and the receiver's languages.
    site = tmp_path / "spamassassin"
    shutil.copytree(SITE_CONFIG, site)
    (site / "textcat.pre").write_text("loadplugin Mail::SpamAssassin::Plugin::TextCat\n")
    (site / "zz_languages.cf").write_text("ok_languages en\n")
    done = subprocess.run(
        [binary, "--local", "--test-mode", f"--siteconfigpath={site}"],
        input=issue_message(case), capture_output=True, check=True, timeout=300,
    )
    details = done.stdout.decode("utf-8", "replace").rpartition("Content analysis details:")[2]
    print(details)
    assert ("UNWANTED_LANGUAGE_BODY" in details) is unwanted, details
