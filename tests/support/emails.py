"""Every kind of email a reader can receive, rendered from the sample issue.

The e2e checks (SpamAssassin, axe-core, phone widths) run over the same list, so a new
kind of email is checked by all of them at once.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.mail.message import MessageTemplate, Recipient
from newsletter.rendering.renderer import RenderedIssue
from newsletter.settings import get_settings
from newsletter.subscribers.choices import Choices
from newsletter.subscribers.workflow import ConfirmationMailer
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant
from support.env import SAMPLE_ISSUE, TEST_SECRET

WHEN = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)


def english_only(issue: Issue) -> Issue:
    """The sample as an English-only newsletter: no Chinese field at all."""
    return issue.model_copy(update={
        "title": issue.title_en, "title_en": None, "attribution": None, "summary": None,
        "summary_en": "Offline options, sparse experts, GFlowNets and seven more papers.",
        "footer": issue.footer_en, "footer_en": None,
        "featured": [p.model_copy(update={"title_zh": None, "summary_zh": None})
                     for p in issue.featured],
        "notable": [p.model_copy(update={"title_zh": None}) for p in issue.notable],
    })


def cases() -> dict[str, tuple[Issue, Variant]]:
    """Name -> (issue, variant): each language, chosen categories, no summary, English-only."""
    sample = load_issue(SAMPLE_ISSUE)
    return {
        "zh": (sample, Variant("zh")),
        "en": (sample, Variant("en")),
        "both": (sample, Variant("both")),
        "both-CL": (sample, Variant("both", frozenset({"CL"}))),
        "zh-CV-notable-only": (sample, Variant("zh", frozenset({"CV"}))),
        "en-RO-no-paper": (sample, Variant("en", frozenset({"RO"}))),
        "english-only-issue": (english_only(sample), Variant("en")),
    }


CASES = sorted(cases())


def rendered(name: str) -> RenderedIssue:
    issue, variant = cases()[name]
    return wiring.renderer(get_settings()).render(issue, variant)


def issue_message(name: str) -> bytes:
    """The complete message one reader of the case ``name`` is sent."""
    settings = get_settings()
    reader = Recipient(
        address="reader@example.com",
        delivery_id="d1.2022-09-07",
        unsubscribe_token=make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, 1),
        preferences_token=make_token(TEST_SECRET, Purpose.PREFERENCES, 1),
    )
    template = MessageTemplate(rendered(name), wiring.sender(settings), "2022-09-07")
    return template.build(reader, format_datetime(WHEN))


def confirmation_message(language: str) -> bytes:
    """The double opt-in email for a reader of ``language`` who chose every category."""
    settings = get_settings()
    mailer = ConfirmationMailer(wiring.renderer(settings), wiring.sender(settings))
    choices = Choices(frozenset(), language)  # type: ignore[arg-type]
    confirm = f"{settings.base_url}/confirm/{make_token(TEST_SECRET, Purpose.CONFIRM, 1)}"
    return mailer.build("reader@example.com", confirm, choices, WHEN)


def welcome_message(language: str) -> bytes:
    """The welcome email (issue 22) for a reader of ``language``, after an issue went out."""
    from newsletter.model.subscribers import Subscriber
    from newsletter.subscribers.welcome import WelcomeLinks, WelcomeMailer

    settings = get_settings()
    base = settings.base_url
    mailer = WelcomeMailer(wiring.renderer(settings), wiring.sender(settings))
    reader = Subscriber(1, "reader@example.com", "active", frozenset(), language,  # type: ignore[arg-type]
                        "web", WHEN, WHEN, WHEN, WHEN)
    links = WelcomeLinks(
        preferences=f"{base}/preferences/{make_token(TEST_SECRET, Purpose.PREFERENCES, 1)}",
        unsubscribe=f"{base}/unsubscribe/{make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, 1)}",
        archive=f"{base}/archive/", latest_issue=f"{base}/issues/2022-09-07",
    )
    return mailer.build(reader, links, WHEN)
