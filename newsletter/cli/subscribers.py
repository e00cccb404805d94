"""The ``db``, ``subscribers`` and ``suppressions`` commands: thin wrappers over the store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.help import COMMAND
from newsletter.cli.output import bad_option, err, fail, out, reported
from newsletter.errors import InvalidPreferencesError
from newsletter.issues.categories import available_categories
from newsletter.model.addresses import normalize_email
from newsletter.model.subscribers import check_preferences
from newsletter.settings import get_settings
from newsletter.store import db, dump
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers import admin
from newsletter.subscribers.csv_io import export_subscribers, import_csv, parse_categories
from newsletter.subscribers.workflow import SignupOutcome
from newsletter.vocabulary import SUBSCRIBER_STATUSES, SUPPRESSED_STATUSES, SubscriberStatus

db_app = typer.Typer(help="The database: schema upgrades, export and import.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Add, list, remove, import and export subscribers.")
suppressions_app = typer.Typer(help="Addresses that must never be mailed.")
for _group in (subscribers_app, suppressions_app):
    _group.info.no_args_is_help = True

# What `suppressions add --reason` accepts: an operator's own decision, or one of the statuses
# a subscriber then takes too. ("erased" is what `subscribers remove` records, hash only.)
SUPPRESSION_REASONS: tuple[str, ...] = (
    "manual", *(s for s in SUBSCRIBER_STATUSES if s in SUPPRESSED_STATUSES)
)


def _on_terminal() -> bool:
    """Whether a person can answer a question (standard input is a terminal)."""
    return sys.stdin.isatty()


@contextmanager
def _store() -> Iterator[SubscriberStore]:
    """The store at NEWSLETTER_DATABASE_URL, closed afterwards; errors reported as one line."""
    with reported(), wiring.database(get_settings()) as db:
        yield SubscriberStore(db)


def _status(value: str | None) -> SubscriberStatus | None:
    if value is not None and value not in SUBSCRIBER_STATUSES:
        raise bad_option(f"--status must be one of {', '.join(SUBSCRIBER_STATUSES)}, not {value!r}")
    return value


@db_app.command("upgrade", **COMMAND)
def db_upgrade() -> None:
    """Apply every migration not yet applied to NEWSLETTER_DATABASE_URL.

    SQLite databases also upgrade themselves on first use; PostgreSQL ones need this.
    Example: newsletter db upgrade
    """
    url = get_settings().database_url
    with reported():
        before, after = db.upgrade_database(url)
    if before == after:
        out.print(f"{db.safe_url(url)}: already at revision {after}", markup=False)
    else:
        out.print(
            f"{db.safe_url(url)}: upgraded from revision {before or 'none'} to {after}",
            markup=False,
        )


@db_app.command("export", **COMMAND)
def db_export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON-lines dump.")],
) -> None:
    """Write the whole database (subscribers with their ids and dates, events, every
    suppression, campaigns, deliveries) as versioned JSON lines, for moving it.

    Example: newsletter db export list.jsonl
    """
    with reported(), wiring.database(get_settings()) as db:
        try:
            with file.open("w", encoding="utf-8") as handle:
                counts = dump.export_dump(db, handle)
        except OSError as error:
            raise fail(f"cannot write {file}: {error.strerror}") from None
    out.print(f"exported to {file}: {counts.summary()}", markup=False)


@db_app.command("import", **COMMAND)
def db_import(
    file: Annotated[Path, typer.Argument(help="A dump written by `newsletter db export`.")],
) -> None:
    """Load a dump into the empty database at NEWSLETTER_DATABASE_URL, all or nothing.

    Ids, dates and suppressions (erased and bounced addresses too) arrive as they were, so
    links already mailed keep working. Run `newsletter db upgrade` on the new database first.
    Example: newsletter db import list.jsonl
    """
    with reported(), wiring.database(get_settings()) as db:
        try:
            with file.open(encoding="utf-8") as handle:
                counts = dump.import_dump(db, handle)
        except OSError as error:
            raise fail(f"cannot read {file}: {error.strerror}") from None
    out.print(f"imported from {file}: {counts.summary()}", markup=False)


@subscribers_app.command("add", **COMMAND)
def subscribers_add(
    email: Annotated[str, typer.Argument(help="The address to add.")],
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            metavar="CODE",
            help="A category code, e.g. LG (repeatable); none means all.",
        ),
    ] = None,
    language: Annotated[str, typer.Option(metavar="zh|en|both", help="zh, en or both.")] = "both",
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Active at once (they already agreed).")
    ] = False,
) -> None:
    """Add one subscriber: active with --confirmed, else sent a confirmation email (double opt-in).

    Without --confirmed the address stays pending until its owner follows the link in the
    confirmation email (sent through the configured transport, as web sign-ups are).
    Category codes must be described in some issue file in NEWSLETTER_ISSUES_DIR.
    Example: newsletter subscribers add ada@example.org --category LG --category CV --confirmed
    """
    categories = frozenset().union(*(parse_categories(c) for c in category or ()))
    try:
        check_preferences(categories, language)
    except InvalidPreferencesError as error:
        raise bad_option(str(error)) from None
    with _store() as store:
        settings = get_settings()
        added = admin.add(
            store, lambda: wiring.subscriptions(settings, store), settings.issues_dir,
            email, categories, language, confirmed=confirmed,
        )
    address, outcome = added.address, added.outcome
    if outcome is None:
        out.print(f"added {address} (id {added.subscriber_id}, active)", markup=False)
        return
    if outcome is SignupOutcome.SENT:
        out.print(
            f"{address} is pending: sent a confirmation email; they are subscribed once "
            "they follow its link",
            markup=False,
        )
    elif outcome is SignupOutcome.THROTTLED:
        out.print(
            f"{address} is pending: a confirmation went out less than 10 minutes ago, "
            "so none was sent now",
            markup=False,
        )
    elif outcome is SignupOutcome.ALREADY_ACTIVE:
        raise fail(f"{address} is already subscribed (active); nothing changed")
    else:
        raise fail(
            f"{address} is suppressed (unsubscribed by an operator, bounced or "
            "complained) and is never mailed; see: newsletter suppressions list"
        )


@subscribers_app.command("list", **COMMAND)
def subscribers_list(
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help=f"Only this status: {', '.join(SUBSCRIBER_STATUSES)}."),
    ] = None,
) -> None:
    """Print subscribers, one per line: id, status, language, categories (* = all), email.

    Streams, so it works for any list size.

    Example: newsletter subscribers list --status active
    """
    chosen = _status(status)
    with _store() as store:
        write = sys.stdout.write
        for sub in store.list(chosen):
            cats = ",".join(sorted(sub.categories)) or "*"
            write(f"{sub.id:>8}  {sub.status:<12} {sub.language:<4}  {cats:<14} {sub.email}\n")


@subscribers_app.command("remove", **COMMAND)
def subscribers_remove(
    email: Annotated[str, typer.Argument(help="The address to erase.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Suppress the address's hash even when no "
                           "subscriber has it.")
    ] = False,
) -> None:
    """Erase a subscriber's personal data; keep only a hash that stops it being mailed again.

    This cannot be undone: the address can never be added or imported again. On a terminal
    it asks first (not with --yes). An address that is no subscriber (a typo?) is refused
    and nothing changes, unless --force: then its hash is suppressed all the same.

    Example: newsletter subscribers remove ada@example.org --yes
    """
    with _store() as store:
        address = normalize_email(email)
        subscriber = store.find(address)
        if subscriber is None and not force:
            raise fail(
                f"{address} is not a subscriber; nothing was changed. Check the spelling "
                "(see: newsletter subscribers list), or to suppress this address for good "
                f"all the same: newsletter subscribers remove {address} --force"
            )
        if not yes and _on_terminal():
            who = (f"{address} (id {subscriber.id}, {subscriber.status})" if subscriber
                   else f"{address} (no subscriber)")
            question = (f"Erase {who} for good? Only a hash of the address is kept; it can "
                        "never be added or imported again")
            if not typer.confirm(question, default=False):
                out.print("nothing was changed", markup=False)
                raise typer.Exit(0)
        existed = store.remove(address)
    if existed:
        out.print(
            "erased; the address is kept only as a hash, so it cannot be added or imported again",
            markup=False,
        )
    else:
        out.print(
            "no subscriber had this address; its hash is now suppressed all the same", markup=False
        )


@subscribers_app.command("import", **COMMAND)
def subscribers_import(
    file: Annotated[
        Path, typer.Argument(help="A UTF-8 CSV with a header: email,categories,language.")
    ],
) -> None:
    """Import subscribers from CSV as active; report every bad row as FILE:LINE: REASON.

    A row naming a category code that no issue file in NEWSLETTER_ISSUES_DIR describes is
    a bad row. Addresses already listed are left as they are and suppressed ones are never
    re-activated, so running it twice is harmless. Exit status 1 when any row was bad (the
    good ones are imported all the same).
    Example: newsletter subscribers import samples/subscribers.csv
    """
    try:
        handle = file.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as error:
        raise fail(f"cannot read {file}: {error.strerror}") from None
    known = available_categories(get_settings().issues_dir)
    with handle, _store() as store:
        report = import_csv(store, handle, reason=f"import from {file.name}", known=known)
    for bad in report.bad:
        err.print(f"{file}:{bad.line}: {bad.reason}", markup=False)
    out.print(report.summary(), markup=False)
    if report.bad:
        raise typer.Exit(1)


@subscribers_app.command("export", **COMMAND)
def subscribers_export(
    file: Annotated[
        Path | None, typer.Argument(help="Where to write; standard output if omitted.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help=f"Only this status: {', '.join(SUBSCRIBER_STATUSES)}."),
    ] = None,
) -> None:
    """Write subscribers as CSV; cells a spreadsheet would run as formulas are quoted.

    Example: newsletter subscribers export list.csv --status active
    """
    chosen = _status(status)
    with _store() as store:
        if file is None:
            export_subscribers(store, sys.stdout, chosen)
            return
        try:
            with file.open("w", encoding="utf-8", newline="") as handle:
                count = export_subscribers(store, handle, chosen)
        except OSError as error:
            raise fail(f"cannot write {file}: {error.strerror}") from None
    out.print(f"exported {count} subscriber(s) to {file}", markup=False)


@suppressions_app.command("list", **COMMAND)
def suppressions_list() -> None:
    """Print suppressed addresses: address (or the hash of an erased one), reason, date, detail.

    Example: newsletter suppressions list
    """
    with _store() as store:
        write = sys.stdout.write
        for item in store.suppressions():
            who = item.email or f"(erased) sha256:{item.email_hash[:16]}"
            when = item.created_at.strftime("%Y-%m-%d %H:%M")
            write(f"{who}\t{item.reason}\t{when}\t{item.detail}\n")


@suppressions_app.command("add", **COMMAND)
def suppressions_add(
    email: Annotated[str, typer.Argument(help="The address never to mail.")],
    reason: Annotated[
        str, typer.Option(metavar="REASON", help="Why: manual, or unsubscribed, bounced or "
                          "complained (a subscriber with the address takes that status).")
    ] = "manual",
) -> None:
    """Never mail this address.

    With reason unsubscribed, bounced or complained, a subscriber with this address takes
    that status too.

    Example: newsletter suppressions add someone@example.org --reason complained
    """
    if reason not in SUPPRESSION_REASONS:
        shown = reason if len(reason) <= 40 else reason[:40] + "…"
        raise bad_option(
            f"--reason must be one of {', '.join(SUPPRESSION_REASONS)}, not {shown!r}"
        )
    with _store() as store:
        store.suppress(email, reason, "added with the command line")
    extra = "; a subscriber with it now has that status" if reason in SUPPRESSED_STATUSES else ""
    out.print(f"{normalize_email(email)} is suppressed ({reason}){extra}", markup=False)


@suppressions_app.command("remove", **COMMAND)
def suppressions_remove(
    email: Annotated[str, typer.Argument(help="The address to allow again.")],
) -> None:
    """Allow this address to be mailed again (its subscriber's status is not changed).

    Example: newsletter suppressions remove someone@example.org
    """
    with _store() as store:
        lifted = store.unsuppress(email)
    message = f"{email}: suppression removed" if lifted else f"{email} was not suppressed"
    out.print(message, markup=False)
