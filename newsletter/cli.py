"""The ``newsletter`` command. Each command is a thin wrapper over one library call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from newsletter import editor
from newsletter.cli_delivery import COMMANDS as DELIVERY_COMMANDS
from newsletter.cli_subscribers import db_app, subscribers_app, suppressions_app
from newsletter.cli_web import serve
from newsletter.errors import NewsletterError
from newsletter.render import LANGUAGES, Variant
from newsletter.settings import get_settings

app = typer.Typer(
    help="Produce and deliver the daily newsletter. Settings come from NEWSLETTER_* "
    "variables or a .env file; see README.md.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# soft_wrap: never insert line breaks, so FILE:LINE: messages stay one line each in pipes.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(code)


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Issue files (issues/YYYY-MM-DD.yaml).")],
) -> None:
    """Check issue files and report every problem as FILE:LINE: FIELD: MESSAGE.

    Example: newsletter validate issues/2022-09-07.yaml
    """
    problems = editor.validate(paths)
    for problem in problems:
        err.print(str(problem), markup=False)
    if problems:
        raise fail(f"{len(problems)} problem(s) found")
    out.print(f"{len(paths)} file(s) valid")


@app.command()
def build(
    path: Annotated[Path, typer.Argument(help="The issue file to build.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the files.")] = Path(
        "build"
    ),
    language: Annotated[str, typer.Option(help="Variant language: zh, en or both.")] = "both",
    category: Annotated[
        list[str] | None, typer.Option(help="Only these categories (repeatable).")
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
    path: Annotated[Path, typer.Argument(help="The issue file to preview.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the rendered issue at http://HOST:PORT; re-render when its files change.

    The page switches between HTML, plaintext and a phone-width view.
    Example: newsletter preview issues/2022-09-07.yaml
    """
    import uvicorn

    from newsletter.preview import preview_app

    out.print(f"Previewing {path} at http://{host}:{port}  (Ctrl-C to stop)", markup=False)
    uvicorn.run(preview_app(path, get_settings()), host=host, port=port, log_level="warning")


app.command()(serve)


app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(suppressions_app, name="suppressions")


for _name, _command in DELIVERY_COMMANDS.items():
    app.command(_name)(_command)


def main() -> None:
    app()
