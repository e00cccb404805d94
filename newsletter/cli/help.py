"""Help text as people read it: ``ISSUE`` and ``PATH...``, never ``{issue}`` or ``<list[Path]>``.

(Typer ships its own copy of click, so parameters are told apart by ``param_type_name``.)
Typer's plain help puts required arguments in braces and each parameter's Python type in
angle brackets. Every command here is a :class:`Command`, which prints an argument as its
metavar (or its name in capitals) and lets options keep the metavars they declare.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


def _argument_name(param: Any) -> str:
    name = param.metavar or (param.name or "").upper()
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name


class Command(TyperCommand):
    """A command whose usage line and help show arguments by name only."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                help_text = getattr(param, "help", None) or ""
                if param.required:
                    help_text = f"{help_text}  [required]".strip()
                arguments.append((_argument_name(param), help_text))
            else:
                if param.metavar is None and not getattr(param, "is_flag", False):
                    # Named, not typed: "--reason REASON", as options with a metavar read.
                    param.metavar = (param.name or "").upper()
                if (record := param.get_help_record(ctx)) is not None:
                    options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


COMMAND: dict[str, Any] = {"cls": Command}
