"""``api-token``: the REST API's bearer tokens (issue 22). Thin wrappers over the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.api.access import check_name, check_scope
from newsletter.cli.help import COMMAND
from newsletter.cli.output import bad_option, fail, out, reported
from newsletter.errors import ApiError
from newsletter.settings import get_settings
from newsletter.store.api_tokens import ApiTokenStore

api_token_app = typer.Typer(help="Bearer tokens for the REST API under /api/v1/.",
                            no_args_is_help=True)


@contextmanager
def _tokens() -> Iterator[ApiTokenStore]:
    with reported(), wiring.database(get_settings()) as db:
        yield ApiTokenStore(db)


@api_token_app.command("create", **COMMAND)
def create(
    name: Annotated[str, typer.Argument(help="A name for the token (who or what uses it).")],
    scope: Annotated[str, typer.Option(help="read, or write (which includes read).",
                                       metavar="read|write")] = "read",
) -> None:
    """Make a token and print it, alone on the last line. It is shown only now: only its
    hash is kept. Send it as `Authorization: Bearer TOKEN`.

    Example: newsletter api-token create crm-sync --scope write
    """
    try:
        check_name(name)
        check_scope(scope)
    except ApiError as error:
        raise bad_option(str(error)) from None
    with _tokens() as tokens:
        token = tokens.create(name, scope)
    out.print(f"API token {name!r} ({scope}); keep it secret, it is not shown again:",
              markup=False)
    out.print(token, markup=False)


@api_token_app.command("revoke", **COMMAND)
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests with it get 401 from now on.

    Example: newsletter api-token revoke crm-sync
    """
    with _tokens() as tokens:
        revoked = tokens.revoke(name)
    if not revoked:
        raise fail(f"no live token is named {name!r} (see: newsletter api-token list)")
    out.print(f"revoked {name!r}", markup=False)


@api_token_app.command("list", **COMMAND)
def list_tokens() -> None:
    """Every token: name, scope, when made, last use, and whether revoked.

    Example: newsletter api-token list
    """
    with _tokens() as tokens:
        found = tokens.all()
    if not found:
        out.print("no API tokens (make one: newsletter api-token create NAME)", markup=False)
    for token in found:
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
        state = (f"revoked {token.revoked_at.isoformat(timespec='minutes')}"
                 if token.revoked_at else "live")
        out.print(f"{token.name:<24} {token.scope:<5}  created "
                  f"{token.created_at.isoformat(timespec='minutes')}  last used {used}  {state}",
                  markup=False)
