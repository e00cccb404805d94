"""The ``newsletter site`` command: the public archive and feeds as static files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.output import out, reported
from newsletter.clock import utc_now
from newsletter.settings import get_settings


def site(
    out_dir: Annotated[
        Path, typer.Option("--out", help="The folder to write (created if missing).",
                           metavar="DIR")
    ] = Path("site"),
) -> None:
    """Write the archive pages, issue pages and Atom feeds as static files for any web host.

    The weekly editions sent go under weekly/, with their own feed.

    Publishes what `newsletter serve` publishes: sent issues, and with
    NEWSLETTER_ARCHIVE_UNSENT=true unsent ones whose date has passed. Links are built
    from NEWSLETTER_BASE_URL (a path such as https://example.org/news works). Files of an
    earlier build that are no longer part of the site are removed.

    Example: newsletter site --out /var/www/digest
    """
    settings = get_settings()
    with reported():
        from newsletter.store.campaigns import CampaignStore
        from newsletter.web.static_site import build_site
        from newsletter.web.weekly_archive import weekly_sent

        with wiring.database(settings, create=False) as db:
            campaigns = CampaignStore(db)
            sent = campaigns.sent_issue_dates()
            weekly = weekly_sent(campaigns)()
        report = build_site(wiring.site_config(settings), out_dir, sent, utc_now(), weekly)
    out.print(
        f"{report.out}: {report.issues} issue(s), {report.files} files, "
        f"{report.bytes:,} bytes written; {report.removed} stale file(s) removed",
        markup=False,
    )
