"""Every CLI command, including ones added later, has --help with an example and is in README."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from support.env import ROOT
from typer.testing import CliRunner

from newsletter.cli.main import app

README = (ROOT / "README.md").read_text("utf-8")


def walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under ``command``, as the words typed after `newsletter`.

    Typer builds on its own copy of click, so groups are recognised by their ``commands``.
    """
    found = [path] if path else []
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            found += walk(sub, (*path, name))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = walk(ROOT)
def lookup(path: tuple[str, ...]) -> Any:
    command: Any = ROOT
    for word in path:
        command = command.commands[word]
    return command


LEAVES = [p for p in COMMANDS if not hasattr(lookup(p), "commands")]


def test_the_walk_finds_the_commands() -> None:
    """The walk sees top-level commands and every command inside each group."""
    assert {("validate",), ("build",), ("preview",)} <= set(COMMANDS)
    for path in COMMANDS:
        for name in getattr(lookup(path), "commands", {}):
            assert (*path, name) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_command_has_help(path: tuple[str, ...]) -> None:
    """`newsletter ... --help` exits 0 and prints a usage line and a description."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="newsletter")
    assert result.exit_code == 0, result.output
    assert f"Usage: newsletter {' '.join(path)}" in " ".join(result.output.split())
    assert (lookup(path).help or "").strip(), "write a docstring: it is the --help text"


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_command_help_has_an_example(path: tuple[str, ...]) -> None:
    """Each command's help shows an example invocation of that very command."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="newsletter")
    flat = " ".join(result.output.split())
    assert re.search(rf"Example: newsletter {re.escape(' '.join(path))}\b", flat), flat


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_command_is_documented_in_readme(path: tuple[str, ...]) -> None:
    """README.md mentions `newsletter <command>` for every command and group."""
    pattern = rf"`newsletter {re.escape(' '.join(path))}(?=[\s`])"
    assert re.search(pattern, README), f"document `newsletter {' '.join(path)}` in README.md"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_shows_no_type_placeholder_for_flags(path: tuple[str, ...]) -> None:
    """Flags take no value, so their help shows no `<bool>` placeholder."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="newsletter")
    assert "<bool>" not in result.output


def test_help_names_option_values_by_meaning() -> None:
    """Options of the delivery and preview commands name their value (EMAIL, PORT), not a type."""
    send_test = " ".join(CliRunner().invoke(app, ["send-test", "--help"]).output.split())
    assert "--to EMAIL" in send_test and "<list[str]>" not in send_test
    preview = " ".join(CliRunner().invoke(app, ["preview", "--help"]).output.split())
    assert "--port PORT" in preview and "<int>" not in preview
