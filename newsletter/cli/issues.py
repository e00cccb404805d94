"""Editor commands on issue files: ``validate``, ``build``, ``preview``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.output import bad_option, err, fail, out, reported
from newsletter.cli.web import listen
from newsletter.editing import build as editor
from newsletter.issues.files import expand_paths
from newsletter.settings import get_settings
from newsletter.vocabulary import LANGUAGES, Variant, language_problem


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

    The checks of the file that `check` runs: YAML syntax (FILE:LINE:COLUMN with the usual
    fix), every field, TODOs left and arXiv IDs that cannot exist. A directory means
    every *.yaml file in it.

    Example: newsletter validate issues/2022-09-07.yaml
    """
    with reported():
        paths = expand_paths(paths)
    problems = editor.validate(paths)
    for problem in problems:
        err.print(str(problem), markup=False)
    if problems:
        raise fail(f"{len(problems)} problem(s) found")
    out.print(f"{len(paths)} file(s) valid")


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
        raise bad_option(f"--{language_problem(language)}")
    variant = Variant(language, frozenset(category or ()))
    with reported():
        result = editor.build(path, out_dir, wiring.workbench(get_settings()), variant)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    for ext, file in result.files.items():
        out.print(f"{file}  {file.stat().st_size:>9,} bytes  ({ext})", markup=False)


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

    settings = get_settings()
    previewer = preview_app(path, lambda: wiring.renderer(settings), settings.size_limit_bytes,
                            host, port)
    sock = listen(host, port)
    out.print(f"Previewing {path} at http://{host}:{port}  (Ctrl-C to stop)", markup=False)
    config = uvicorn.Config(previewer, host=host, port=port, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


COMMANDS: dict[str, Callable[..., None]] = {
    "validate": validate, "build": build, "preview": preview,
}
