"""`subscribers remove` erases only on purpose; `suppressions add --reason` knows its reasons."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import subscribers as subscribers_cli
from newsletter.cli.main import app


def run(*args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=answer)


def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscribers_cli, "_on_terminal", lambda: True)


def test_removing_an_address_that_is_no_subscriber_is_refused() -> None:
    """A mistyped address is refused with exit 1, saying nothing changed and how to force it;
    its hash is not suppressed."""
    run("subscribers", "add", "ada@example.org", "--confirmed")
    result = run("subscribers", "remove", "adda@example.org")
    assert result.exit_code == 1
    assert "adda@example.org is not a subscriber" in result.stderr
    assert "nothing was changed" in result.stderr and "--force" in result.stderr
    assert result.stdout == ""
    assert run("suppressions", "list").stdout == ""
    again = run("subscribers", "add", "adda@example.org", "--confirmed")
    assert again.exit_code == 0, again.output


def test_force_suppresses_the_hash_of_an_address_that_is_no_subscriber() -> None:
    """With --force an address nobody subscribed is suppressed by hash all the same."""
    result = run("subscribers", "remove", "Stranger@Example.org", "--force")
    assert result.exit_code == 0, result.output
    assert "its hash is now suppressed" in result.stdout
    assert run("suppressions", "list").stdout.startswith("(erased) sha256:")
    assert run("subscribers", "add", "stranger@example.org").exit_code == 1


def test_on_a_terminal_remove_asks_first_and_no_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a terminal, remove names the subscriber and asks; anything but yes erases nothing."""
    on_a_terminal(monkeypatch)
    run("subscribers", "add", "ada@example.org", "--confirmed")
    declined = run("subscribers", "remove", "ada@example.org", answer="n\n")
    assert declined.exit_code == 0, declined.output
    assert "Erase ada@example.org" in declined.stdout
    assert "nothing was changed" in declined.stdout
    assert "ada@example.org" in run("subscribers", "list").stdout
    assert run("suppressions", "list").stdout == ""
    accepted = run("subscribers", "remove", "ada@example.org", answer="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "erased" in accepted.stdout
    assert run("subscribers", "list").stdout == ""


def test_yes_removes_without_asking_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """--yes erases without a question, even on a terminal."""
    on_a_terminal(monkeypatch)
    run("subscribers", "add", "ada@example.org", "--confirmed")
    result = run("subscribers", "remove", "ada@example.org", "--yes")
    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.stdout and result.stdout.startswith("erased")
    assert run("subscribers", "list").stdout == ""


@pytest.mark.parametrize("reason", ["spam", "erased", "Manual", "x" * 40])
def test_suppressions_add_refuses_an_unknown_reason(reason: str) -> None:
    """--reason must be one of the known reasons: exit 2 listing them, nothing suppressed."""
    result = run("suppressions", "add", "a@example.org", "--reason", reason)
    assert result.exit_code == 2
    assert "--reason must be one of manual, unsubscribed, bounced, complained" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert run("suppressions", "list").stdout == ""


@pytest.mark.parametrize("reason", ["manual", "unsubscribed", "bounced", "complained"])
def test_suppressions_add_takes_each_known_reason(reason: str) -> None:
    """Each known reason is accepted and recorded."""
    result = run("suppressions", "add", "a@example.org", "--reason", reason)
    assert result.exit_code == 0, result.output
    assert run("suppressions", "list").stdout.startswith(f"a@example.org\t{reason}\t")
