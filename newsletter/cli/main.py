"""The ``newsletter`` command: the root group, its global options, and every command group.

Each command is a thin wrapper over one library call (see the command modules).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from newsletter import __version__
from newsletter.cli.api import api_token_app
from newsletter.cli.delivery import COMMANDS as DELIVERY_COMMANDS
from newsletter.cli.editing import COMMANDS as EDITING_COMMANDS
from newsletter.cli.editing import OPTIONS as EDITING_OPTIONS
from newsletter.cli.editions import COMMANDS as EDITION_COMMANDS
from newsletter.cli.events import events_app
from newsletter.cli.help import COMMAND
from newsletter.cli.issues import COMMANDS as ISSUE_COMMANDS
from newsletter.cli.output import configure_logging, fail, out
from newsletter.cli.papers import papers_app
from newsletter.cli.reports import hygiene, prune, report
from newsletter.cli.site import site
from newsletter.cli.subscribers import db_app, subscribers_app, suppressions_app
from newsletter.cli.web import serve
from newsletter.cli.webhooks import webhooks_app
from newsletter.errors import ConfigurationError


class _Commands(TyperGroup):
    """The root command group: a bad setting is one line per problem, never a traceback.

    Every command, in every sub-group, runs inside :meth:`invoke`, so settings read by any
    of them (``get_settings()`` raises :class:`ConfigurationError`) are reported here once.
    """

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context; not public API
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            raise fail(str(error)) from None


app = typer.Typer(
    cls=_Commands,
    help="Produce and deliver the daily newsletter. Settings come from NEWSLETTER_* "
    "variables or a .env file; see README.md.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: click re-flows each docstring paragraph to the terminal (rich mode keeps
    # the source line breaks and then wraps again) and shows no <bool> after flags.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.print(f"newsletter {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _global(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug detail on stderr.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Produce and deliver the daily newsletter. Settings come from NEWSLETTER_* variables
    or a .env file; see README.md.
    """
    if quiet and verbose:
        raise typer.BadParameter("choose one of --quiet and --verbose", param_hint="--quiet")
    configure_logging(-1 if quiet else 1 if verbose else 0)


_COMMANDS: dict[str, Callable[..., None]] = {
    **ISSUE_COMMANDS, **EDITING_COMMANDS, "serve": serve, "site": site, **DELIVERY_COMMANDS,
    **EDITION_COMMANDS,  # issue 21: newsletter weekly
}
for _name, _command in _COMMANDS.items():
    app.command(_name, **{**COMMAND, **EDITING_OPTIONS.get(_name, {})})(_command)

app.command("report", **COMMAND)(report)
app.command("hygiene", **COMMAND)(hygiene)
db_app.command("prune", **COMMAND)(prune)
app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(suppressions_app, name="suppressions")
app.add_typer(events_app, name="events")
app.add_typer(api_token_app, name="api-token")  # issue 22
app.add_typer(webhooks_app, name="webhooks")  # issue 22
app.add_typer(papers_app, name="papers")  # issue 20


def main() -> None:
    # What the imports made lives as long as the process: moved out of the collector's
    # way, full collections no longer walk it again (issue #23: 13 % less CPU for a
    # 20,000-reader bulk send, `bench/send.py --bulk`).
    gc.freeze()
    app()
