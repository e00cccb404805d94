"""``report`` (one issue, or the trends since a date) and ``db prune``: what readers did."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.output import bad_option, out, reported
from newsletter.clock import utc_now
from newsletter.model.reports import CampaignReport, Trends
from newsletter.reports.campaign import campaign_report, counts_csv, papers_csv
from newsletter.reports.hygiene import Rules
from newsletter.reports.trends import trends_csv, trends_json
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.prune import EventPruner
from newsletter.store.reports import ReportStore
from newsletter.store.trends import TrendStore


def report(
    issue: Annotated[
        str | None, typer.Argument(help="The issue file, or its date (YYYY-MM-DD).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Trends by day from this date (UTC) to "
                                 "today, instead of one issue.", metavar="YYYY-MM-DD")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object on stdout, for scripts.")
    ] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV on stdout: the figures, whole and by variant.")
    ] = False,
    papers: Annotated[
        bool, typer.Option("--papers", help="With --csv: papers and links instead.")
    ] = False,
) -> None:
    """What readers did with an issue: delivered, opened (by readers; by machines only),
    clicked, per paper and link, unsubscribed and changed preferences through its links;
    or, with --since, the list's trends by day.

    Counts are of readers (deliveries) except clicks; each SES event counts once however
    often it arrives.

    Example: newsletter report 2022-09-07

    Example: newsletter report 2022-09-07 --json

    Example: newsletter report --since 2022-09-01 --csv
    """
    if as_json and as_csv:
        raise bad_option("choose one of --json and --csv")
    if (issue is None) == (since is None):
        raise bad_option("name an issue, or give --since DATE for the trends")
    settings = get_settings()
    if since is not None:
        start = _date(since)
        with reported(), wiring.database(settings, create=False) as db:
            found = TrendStore(db).trends(start, utc_now().date())
        _print_trends(found, as_json, as_csv)
        return
    assert issue is not None
    with reported(), wiring.database(settings, create=False) as db:
        result = campaign_report(issue, CampaignStore(db), ReportStore(db), settings.issues_dir)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False, indent=2) + "\n")
    elif as_csv:
        sys.stdout.write(papers_csv(result) if papers else counts_csv(result))
    else:
        _print_report(result)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise bad_option(f"--since {text}: not a date; write YYYY-MM-DD") from None


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _print_report(r: CampaignReport) -> None:
    t = r.totals
    lines = [
        f"issue {r.issue} ({r.status})",
        f"  recipients        {t.recipients:>9,}",
        f"  sent              {t.sent:>9,}",
        f"  delivered         {t.delivered:>9,}  {_pct(t.delivered, t.sent)} of sent",
        f"  bounced           {t.bounced:>9,}  {_pct(t.bounced, t.sent)}",
        f"  complained        {t.complained:>9,}  {_pct(t.complained, t.sent)}",
        f"  opened            {t.opened_unique:>9,}  {_pct(t.opened_unique, t.delivered)}"
        " of delivered, by readers",
        f"  opened by machine {t.opened_machine:>9,}  only (privacy proxies, scanners)",
        f"  clicked           {t.clicked_unique:>9,}  {_pct(t.clicked_unique, t.delivered)}"
        f" of delivered; {t.clicks_total:,} clicks",
        f"  unsubscribed      {t.unsubscribed:>9,}  through this issue's links",
        f"  preferences       {t.preferences_changed:>9,}  changed",
    ]
    if len(r.by_variant) > 1:
        lines.append("by variant: sent / delivered / opened / clicked / unsubscribed")
        for key, c in sorted(r.by_variant.items()):
            lines.append(f"  {key:<24} {c.sent:>7,} {c.delivered:>7,} {c.opened_unique:>7,} "
                         f"{c.clicked_unique:>7,} {c.unsubscribed:>5,}")
    lines.append('papers: readers / clicks / "More like this" / "Not for me"')
    for p in r.papers:
        lines.append(f"  {p.readers:>7,} {p.clicks:>7,} {p.more_like_this:>5,} {p.not_for_me:>5,}"
                     f"  {p.arxiv_id:<16} {p.title[:60]}")
    if r.links:
        lines.append("other links: readers / clicks")
        for link in r.links:
            lines.append(f"  {link.readers:>7,} {link.clicks:>7,}  {link.kind:<12} {link.key}")
    out.print("\n".join(lines), markup=False)


def _print_trends(found: Trends, as_json: bool, as_csv: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(trends_json(found), ensure_ascii=False, indent=2) + "\n")
        return
    if as_csv:
        sys.stdout.write(trends_csv(found))
        return
    lines = [f"trends {found.since} to {found.until} (UTC)",
             "day         sign-ups confirmed  left(reader bounce complaint inactive)   net"]
    for d in found.days:
        lines.append(f"{d.day}  {d.signups:>8,} {d.confirmations:>9,}  {d.left_reader:>12,} "
                     f"{d.left_bounce:>6,} {d.left_complaint:>9,} {d.left_inactive:>8,}"
                     f"  {d.net:>+6,}")
    lines.append("campaigns: bounce rate / complaint rate / start to last delivery")
    for c in found.campaigns:
        b, x, s = c.bounce_rate, c.complaint_rate, c.send_seconds
        lines.append(
            f"  {c.issue}  {'-' if b is None else f'{b:.2%}':>7} "
            f"{'-' if x is None else f'{x:.3%}':>8}  "
            f"{'unfinished' if s is None else str(dt.timedelta(seconds=round(s)))}"
            + "".join(f"  ! {w}" for w in c.warnings()))
    out.print("\n".join(lines), markup=False)


def prune(
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Keep this many days (default "
                                 "NEWSLETTER_EVENT_RETENTION_DAYS, 30).", metavar="N")
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=100, max=100_000, help="Rows per transaction.",
                          metavar="ROWS")
    ] = 5000,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete SES event rows older than the retention period, in small batches; bounces
    and complaints are kept for good. What the events meant was applied when they came.

    `newsletter worker` does this once an hour by itself.

    Example: newsletter db prune --dry-run
    """
    settings = get_settings()
    keep = days or settings.event_retention_days
    before = utc_now() - dt.timedelta(days=keep)
    with reported(), wiring.database(settings, create=False) as db:
        done = EventPruner(db).prune(before, batch=batch, dry_run=dry_run)
    if dry_run:
        out.print(f"would delete {done.deleted:,} SES events received before "
                  f"{before:%Y-%m-%d %H:%M} UTC; {done.kept:,} bounces and complaints kept",
                  markup=False)
    else:
        out.print(f"deleted {done.deleted:,} SES events received before "
                  f"{before:%Y-%m-%d %H:%M} UTC in {done.batches:,} batches", markup=False)


def hygiene(
    apply: Annotated[
        bool, typer.Option("--apply", help="Do it (the default is a dry run that only "
                           "names who would be affected).")
    ] = False,
    pending_days: Annotated[
        int | None, typer.Option("--pending-days", min=1, help="Remove sign-ups pending "
                                 "longer (default NEWSLETTER_PENDING_MAX_DAYS).", metavar="N")
    ] = None,
    sunset_issues: Annotated[
        int | None, typer.Option("--sunset-issues", min=1, help="Ask readers with no open "
                                 "or click in this many issues (default "
                                 "NEWSLETTER_SUNSET_AFTER_ISSUES).", metavar="N")
    ] = None,
    grace_days: Annotated[
        int | None, typer.Option("--grace-days", min=1, help="Unsubscribe (\"inactive\") "
                                 "those asked this long ago who did not press \"Keep me "
                                 "subscribed\" (default NEWSLETTER_SUNSET_GRACE_DAYS, 14).",
                                 metavar="N")
    ] = None,
) -> None:
    """List hygiene (off unless configured or asked for): remove stale pending sign-ups;
    email readers who opened and clicked nothing in the last N issues one "Keep me
    subscribed" button, and unsubscribe those who did not press it in time.

    Without --apply nothing changes: the readers each rule would touch are listed. The
    sunset rule runs only when those issues recorded opens or clicks (SES tracking on).

    Example: newsletter hygiene --sunset-issues 10

    Example: newsletter hygiene --pending-days 30 --apply
    """
    settings = get_settings()
    rules = Rules(pending_days if pending_days is not None else settings.pending_max_days,
                  sunset_issues if sunset_issues is not None else settings.sunset_after_issues,
                  grace_days or settings.sunset_grace_days)
    if not (rules.pending_days or rules.sunset_issues):
        raise bad_option("list hygiene is off: set NEWSLETTER_PENDING_MAX_DAYS or "
                         "NEWSLETTER_SUNSET_AFTER_ISSUES, or give --pending-days or "
                         "--sunset-issues")
    with reported(), wiring.database(settings, create=False) as db:
        work = wiring.hygiene(settings, db, rules, sending=apply)
        plan = work.plan()
        if apply:
            work.apply(plan)
    verb = ("removed", "asked to stay", "unsubscribed (inactive)") if apply else (
        "would remove", "would ask to stay", "would unsubscribe (inactive)")
    lines = [*plan.notes]
    for label, readers in zip(verb, (plan.pending, plan.ask, plan.unsubscribe), strict=True):
        lines.append(f"{label}: {len(readers):,}")
        lines.extend(f"  {r.email}" for r in readers)
    if not apply:
        lines.append("dry run: nothing changed; add --apply to do it")
    out.print("\n".join(lines), markup=False)
