"""Every kind of email a reader can receive, rendered from the sample issue.

The e2e checks (SpamAssassin, rspamd, axe-core, phone widths) run over the same lists, so
a new kind of email is checked by all of them at once:

- ``CASES``: representative variants, for the browser checks;
- ``ISSUE_MESSAGES``: every variant of the sample issue (each language, every set of
  categories a reader can choose), and of the English-only sample, the digest imported
  from ``tests/fixtures`` and a fifty-paper issue, as one reader is sent them;
- ``TRANSACTIONAL``: every transactional email, one per ``templates/email/<name>.mjml.j2``
  that is not an issue: the real builder where one is registered here, sample values for
  the template's variables otherwise (a new template is checked from the day it lands).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import tempfile
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

import jinja2.meta

from newsletter import wiring
from newsletter.desk.signin import DeskConfig, SignIn
from newsletter.editing.digest_import import import_digest
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.mail.message import MessageTemplate, Recipient
from newsletter.model.site import site_name
from newsletter.rendering.renderer import RenderedIssue
from newsletter.rendering.templates import templates_dir
from newsletter.settings import get_settings
from newsletter.subscribers.choices import Choices
from newsletter.subscribers.workflow import ConfirmationMailer
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import LANGUAGES, Variant
from support.env import ROOT, SAMPLE_ISSUE, TEST_SECRET

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


def big_issue(sample: Issue, count: int, abstract_chars: int = 1900) -> Issue:
    """``count`` featured papers with long, realistic abstracts and summaries.

    Built from the sample's real texts: each abstract joins three real abstracts, cut at
    ``abstract_chars`` (arXiv allows 1,920), and each Chinese summary joins three real ones.
    """
    papers = []
    for n in range(count):
        sources = [sample.featured[(n + k) % 5] for k in range(3)]
        first = sources[0]
        papers.append(first.model_copy(update={
            "title": f"{first.title} ({n + 1})",
            "abstract": " ".join(p.abstract for p in sources)[:abstract_chars].rstrip(),
            "summary_zh": "".join(p.summary_zh or "" for p in sources)[:600],
            "url": f"https://arxiv.org/abs/2209.{10000 + n}",
        }))
    return sample.model_copy(update={"featured": papers})


@functools.cache
def imported_digest() -> Issue:
    """The digest in ``tests/fixtures`` as ``newsletter import-digest`` writes it."""
    with tempfile.TemporaryDirectory(prefix="digest-") as folder:
        result = import_digest(ROOT / "tests" / "fixtures" / "digest-2022-09-07.txt",
                               out=Path(folder) / "2022-09-07.yaml")
        return load_issue(result.path)


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
        "imported-en": (imported_digest(), Variant("en")),
        "fifty-both": (big_issue(sample, 50), Variant("both")),
    }


CASES = sorted(cases())


def rendered(name: str) -> RenderedIssue:
    """The case ``name`` as sending renders it (cut to the size limit when it must be)."""
    issue, variant = cases()[name]
    settings = get_settings()
    return wiring.renderer(settings).render(issue, variant, settings.size_limit_bytes)


def now() -> str:
    """The Date of a message sent now (a filter reads an old date as suspicious)."""
    return format_datetime(dt.datetime.now(dt.UTC))


def reader_message(made: RenderedIssue, date: str | None = None) -> bytes:
    """The complete message one reader of ``made`` is sent."""
    settings = get_settings()
    reader = Recipient(
        address="reader@example.com",
        delivery_id="d1.2022-09-07",
        unsubscribe_token=make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, 1),
        preferences_token=make_token(TEST_SECRET, Purpose.PREFERENCES, 1),
    )
    template = MessageTemplate(made, wiring.sender(settings), "2022-09-07")
    return template.build(reader, date or format_datetime(WHEN))


def issue_message(name: str) -> bytes:
    """The complete message one reader of the case ``name`` is sent."""
    return reader_message(rendered(name))


def every_variant(issue: Issue) -> list[Variant]:
    """Each language with every set of the issue's categories a reader can choose (all of
    them is the empty set)."""
    codes = sorted(issue.categories)
    chosen = [frozenset(c) for n in range(len(codes)) for c in itertools.combinations(codes, n)]
    return [Variant(language, categories) for language in LANGUAGES for categories in chosen]


def message_issues() -> dict[str, tuple[Issue, list[Variant]]]:
    """Name -> (issue, the variants judged): all of the sample's (ten papers); the
    English-only sample's, the imported digest's and a fifty-paper issue's per language."""
    sample = load_issue(SAMPLE_ISSUE)
    whole = [Variant(language) for language in LANGUAGES]
    return {
        "sample": (sample, every_variant(sample)),
        "english-only": (english_only(sample), whole),
        "imported": (imported_digest(), whole),
        "fifty": (big_issue(sample, 50), whole),
    }


ISSUE_MESSAGES = [f"{name}/{variant.key}" for name, (_, variants) in message_issues().items()
                  for variant in variants]


def issue_variant_message(case: str) -> bytes:
    """The message for ``ISSUE_MESSAGES`` entry ``case`` ("sample/zh:CV,LG"), dated now."""
    name, _, key = case.partition("/")
    issue, variants = message_issues()[name]
    variant = next(v for v in variants if v.key == key)
    settings = get_settings()
    made = wiring.renderer(settings).render(issue, variant, settings.size_limit_bytes)
    return reader_message(made, now())


def confirmation_message(language: str, when: dt.datetime = WHEN) -> bytes:
    """The double opt-in email for a reader of ``language`` who chose every category."""
    settings = get_settings()
    mailer = ConfirmationMailer(wiring.renderer(settings), wiring.sender(settings))
    choices = Choices(frozenset(), language)  # type: ignore[arg-type]
    confirm = f"{settings.base_url}/confirm/{make_token(TEST_SECRET, Purpose.CONFIRM, 1)}"
    return mailer.build("reader@example.com", confirm, choices, when)


def welcome_message(language: str, when: dt.datetime | None = None) -> bytes:
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
    return mailer.build(reader, links, when or dt.datetime.now(dt.UTC))


def keep_message() -> bytes:
    """The sunset rule's re-engagement email (issue 17), as `newsletter hygiene` sends it."""
    from newsletter.reports.hygiene import KeepMailer
    from newsletter.store.hygiene import Reader

    settings = get_settings()
    mailer = KeepMailer(wiring.renderer(settings), wiring.sender(settings), TEST_SECRET,
                        settings.base_url, issues=5, grace_days=14)
    return mailer.build(Reader(1, "reader@example.com"), dt.datetime.now(dt.UTC))


def sign_in_message() -> bytes:
    """The desk's sign-in email to an editor, as the desk builds it."""
    settings = get_settings()
    config = DeskConfig(editors=frozenset(), base_url=settings.base_url, secret=TEST_SECRET)
    desk = SignIn(config, None, wiring.renderer(settings),  # type: ignore[arg-type]
                  wiring.sender(settings), lambda: None,  # type: ignore[arg-type,return-value]
                  lambda: dt.datetime.now(dt.UTC))
    return desk.email("editor@example.com", "s" * 43)


# name -> builder of the message, for the transactional emails whose builder we know.
BUILDERS: dict[str, Callable[[], bytes]] = {
    "confirm-zh": lambda: confirmation_message("zh", dt.datetime.now(dt.UTC)),
    "confirm-en": lambda: confirmation_message("en", dt.datetime.now(dt.UTC)),
    "confirm-both": lambda: confirmation_message("both", dt.datetime.now(dt.UTC)),
    "sign_in": sign_in_message,
    "welcome-zh": lambda: welcome_message("zh"),
    "welcome-en": lambda: welcome_message("en"),
    "welcome-both": lambda: welcome_message("both"),
    "keep": keep_message,
}
NOT_TRANSACTIONAL = {"issue", "parts"}


def transactional_names() -> list[str]:
    """One name per transactional template (``confirm`` in each language)."""
    found = sorted(p.name.removesuffix(".mjml.j2")
                   for p in (templates_dir() / "email").glob("*.mjml.j2"))
    names: list[str] = []
    for name in found:
        if name in NOT_TRANSACTIONAL or name.startswith("_"):  # _name: a partial
            continue
        known = [key for key in BUILDERS if key == name or key.startswith(f"{name}-")]
        names += known or [name]
    return names


TRANSACTIONAL = transactional_names()


def _sample_value(name: str, base_url: str) -> object:
    """A plausible value for a template variable nobody told us about, by its name."""
    if name.endswith("_url"):
        return f"{base_url}/{name.removesuffix('_url').replace('_', '-')}/sample"
    if name.startswith(("show_", "is_", "has_")):
        return True
    if name.endswith(("_days", "_minutes", "_hours", "_count")):
        return 7
    if name == "lang":
        return "en"
    if name == "subject":
        return f"{site_name(get_settings().from_address)}: a note about your subscription"
    return "Thank you for reading our daily digest of papers from arXiv."


def generic_message(name: str) -> bytes:
    """The email ``templates/email/<name>`` rendered with sample values for its variables."""
    settings = get_settings()
    renderer = wiring.renderer(settings)
    needed: set[str] = set()
    for suffix in ("mjml.j2", "txt.j2"):
        source = (templates_dir() / "email" / f"{name}.{suffix}").read_text("utf-8")
        needed |= jinja2.meta.find_undeclared_variables(renderer.env.parse(source))
    context = {var: _sample_value(var, settings.base_url) for var in needed}
    context.setdefault("subject", _sample_value("subject", settings.base_url))
    html, text = renderer.render_email(name, context)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = settings.from_address
    msg["To"] = "reader@example.com"
    msg["Subject"] = str(context["subject"])
    msg["Date"] = now()
    msg["Message-ID"] = make_msgid(domain="news.example.org")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg.as_bytes()


def send_test_messages(issue_path: Path, folder: Path) -> list[bytes]:
    """What ``newsletter send-test --all-variants`` sends an editor, with readers of every
    kind subscribed (the messages land in ``folder/outbox``, the test's outbox)."""
    from typer.testing import CliRunner

    from newsletter.cli.main import app
    from support.delivery import subscribe

    subscribe(get_settings().database_url, 12)
    result = CliRunner().invoke(app, ["send-test", str(issue_path), "--to", "editor@example.com",
                                      "--all-variants"])
    assert result.exit_code == 0, result.output
    return [path.read_bytes() for path in sorted((folder / "outbox").glob("*.eml"))]


def transactional_message(name: str) -> bytes:
    """The ``TRANSACTIONAL`` email ``name`` as a reader (or editor) gets it, dated now."""
    return BUILDERS[name]() if name in BUILDERS else generic_message(name)
