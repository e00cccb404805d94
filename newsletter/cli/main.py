"""The ``newsletter`` command. Each command is a thin wrapper over one library call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from newsletter.cli.delivery import COMMANDS as DELIVERY_COMMANDS
from newsletter.cli.events import events_app
from newsletter.cli.output import err, fail, out
from newsletter.cli.subscribers import db_app, subscribers_app, suppressions_app
from newsletter.cli.web import listen, serve
from newsletter.errors import ConfigurationError, NewsletterError
from newsletter.issues import build as editor
from newsletter.rendering.renderer import LANGUAGES, Variant
from newsletter.settings import get_settings


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
)


def _issue_files(paths: list[Path]) -> list[Path]:
    """The files named, with each directory replaced by its ``*.yaml`` files, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.yaml"))
            if not found:
                raise fail(f"{path}: no issue files (*.yaml) in this directory")
            files += found
        else:
            files.append(path)
    return files


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Issue files (issues/YYYY-MM-DD.yaml), or directories of them.",
            metavar="PATH...",
        ),
    ],
) -> None:
    """Check issue files and report every problem as FILE:LINE: FIELD: MESSAGE.

    A directory means every *.yaml file in it.

    Example: newsletter validate issues/2022-09-07.yaml
    """
    paths = _issue_files(paths)
    problems = editor.validate(paths)
    for problem in problems:
        err.print(str(problem), markup=False)
    if problems:
        raise fail(f"{len(problems)} problem(s) found")
    out.print(f"{len(paths)} file(s) valid")


@app.command()
def build(
    path: Annotated[Path, typer.Argument(help="The issue file to build.", metavar="FILE")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write the files.", metavar="DIR")
    ] = Path("build"),
    language: Annotated[
        str, typer.Option(help="Variant language: zh, en or both.", metavar="LANG")
    ] = "both",
    category: Annotated[
        list[str] | None,
        typer.Option(help="Only these categories (repeatable).", metavar="CODE"),
    ] = None,
) -> None:
    """Render an issue to OUT/<date>.html, .txt and .eml (a complete sample message).

    Example: newsletter build issues/2022-09-07.yaml --out build
    """
    if language not in LANGUAGES:
        raise fail(f"--language must be one of {', '.join(LANGUAGES)}, not {language!r}", 2)
    variant = Variant(language, frozenset(category or ()))
    try:
        result = editor.build(path, out_dir, get_settings(), variant)
    except NewsletterError as error:
        raise fail(str(error)) from None
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    for ext, file in result.files.items():
        out.print(f"{file}  {file.stat().st_size:>9,} bytes  ({ext})", markup=False)


@app.command()
def preview(
    path: Annotated[Path, typer.Argument(help="The issue file to preview.", metavar="FILE")],
    host: Annotated[str, typer.Option(help="Interface to listen on.", metavar="HOST")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", metavar="PORT")] = 8000,
) -> None:
    """Serve the rendered issue at http://HOST:PORT; re-render when its files change.

    The page switches between HTML, plaintext and a phone-width view.

    Example: newsletter preview issues/2022-09-07.yaml
    """
    import uvicorn

    from newsletter.web.preview import preview_app

    previewer = preview_app(path, get_settings())
    sock = listen(host, port)
    out.print(f"Previewing {path} at http://{host}:{port}  (Ctrl-C to stop)", markup=False)
    config = uvicorn.Config(previewer, host=host, port=port, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


app.command()(serve)


app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(suppressions_app, name="suppressions")
app.add_typer(events_app, name="events")


for _name, _command in DELIVERY_COMMANDS.items():
    app.command(_name)(_command)


def main() -> None:
    app()
