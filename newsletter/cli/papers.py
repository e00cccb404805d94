"""``papers`` commands: the paper index behind ``/papers/<ID>`` and ``/search``."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.help import COMMAND
from newsletter.cli.output import out, reported
from newsletter.clock import utc_now
from newsletter.issues.files import fingerprint
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.papers import PaperStore
from newsletter.web.archive import Archive
from newsletter.web.paper_index import reindex

papers_app = typer.Typer(
    help="The paper index behind the paper pages (/papers/ID) and search (/search).",
    no_args_is_help=True,
)


@papers_app.command("reindex", **COMMAND)
def papers_reindex(
    full: Annotated[
        bool, typer.Option("--full", help="Index every issue again, whatever changed (one "
                           "transaction: search answers from the old index meanwhile).")
    ] = False,
) -> None:
    """Bring the paper index up to the published issue files now.

    `newsletter serve` keeps the index current by itself (a changed issue file is indexed
    again within a second of the next request); this is for doing it by hand, say after
    restoring a database or copying issue files in. Issue files whose size or time
    changed since they were indexed are read and indexed again, and issues no longer
    published are dropped; with --full every issue is indexed again.

    Example: newsletter papers reindex --full
    """
    settings = get_settings()
    with reported(), wiring.database(settings, create=False) as db:
        archive = Archive(wiring.site_config(settings), CampaignStore(db).sent_issue_dates,
                          utc_now)
        report = reindex(PaperStore(db), archive, full=full)
        public = len(archive.published().versions)
        folder = archive.site.issues_dir
    out.print(f"paper index: {report.issues} issue(s) indexed, {report.removed} dropped, "
              f"{report.papers} paper(s) written again or removed", markup=False)
    files = len(fingerprint(folder))
    if files > public:
        # Said, so that an index short of issues (or empty) is not a mystery.
        out.print(f"paper index: {files - public} of the {files} issue file(s) in "
                  f"{folder} are not in it: not published yet (an issue is "
                  "public once a campaign sent it, or from its date on with "
                  "NEWSLETTER_ARCHIVE_UNSENT=true) or not valid (`newsletter validate` "
                  "names the problems)", markup=False)
