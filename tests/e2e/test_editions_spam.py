"""A reader's own message (issue 21) - a "For you" block spliced in, feedback links under
every paper, a paper limit - scored by a real SpamAssassin with network tests off, as
every other email is (tests/e2e/test_spamassassin.py)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from email.utils import format_datetime

import pytest
from support.env import SAMPLE_ISSUE, TEST_SECRET

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.mail.personal import PersonalRecipient, PersonalTemplate
from newsletter.model.editions import parse_follows
from newsletter.model.follows import Matcher
from newsletter.rendering.for_you_parts import render_for_you
from newsletter.sending.personal import paper_texts
from newsletter.settings import get_settings
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant

pytestmark = pytest.mark.e2e
MAX_SCORE = 0.5
_TOTAL = re.compile(r"\((-?\d+(?:\.\d+)?) points")


@pytest.fixture(scope="module")
def spamassassin() -> str:
    path = shutil.which("spamassassin")
    if path is None:
        if os.environ.get("NEWSLETTER_REQUIRE_SPAMASSASSIN"):
            pytest.fail("SpamAssassin is required but not installed")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin)")
    return path


def personal_message(variant: Variant, follows: str) -> bytes:
    settings = get_settings()
    issue = load_issue(SAMPLE_ISSUE)
    renderer = wiring.renderer(settings)
    rendered = renderer.render(issue, variant)
    chosen = Matcher(paper_texts(issue, variant)).chosen(parse_follows(follows))
    assert chosen, "the follows match no paper: the block would be empty"
    html, text = render_for_you(renderer, issue, variant).block(chosen)
    reader = PersonalRecipient(
        address="reader@example.com", delivery_id="d1.2022-09-07",
        unsubscribe_token=make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, 1),
        preferences_token=make_token(TEST_SECRET, Purpose.PREFERENCES, 1),
        html_block=html, text_block=text)
    template = PersonalTemplate(rendered, wiring.sender(settings), "2022-09-07")
    return template.build(reader, format_datetime(dt.datetime(2022, 9, 7, 6, tzinfo=dt.UTC)))


@pytest.mark.parametrize(("key", "follows"), [
    ("zh:*", "稀疏专家; author:Y Bengio"),
    ("en:*", "gflownets; transformers; affiliation:Google Brain"),
    ("both:*:3", "author:J Dean; transformers"),
])
def test_a_readers_own_message_scores_at_most_half_a_point(
    spamassassin: str, key: str, follows: str,
) -> None:
    """With its For-you block and feedback links, the message scores <= 0.5 points."""
    message = personal_message(Variant.from_key(key), follows)
    done = subprocess.run([spamassassin, "--local", "--test-mode"], input=message,
                          capture_output=True, check=True, timeout=120)
    out = done.stdout.decode("utf-8", "replace")
    details = out.rpartition("Content analysis details:")[2]
    total = _TOTAL.search(details)
    assert total, out[-2000:]
    assert "pts rule" in details, "SpamAssassin reported no rules; is its rule set installed?"
    assert float(total[1]) <= MAX_SCORE, f"{key}: {details}"
