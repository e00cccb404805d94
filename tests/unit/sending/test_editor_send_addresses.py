"""`send-test` checks every address before it sends anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.delivery import outbox
from support.sending import send_test
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.errors import ConfigurationError, InvalidAddressError
from newsletter.settings import get_settings


@pytest.mark.parametrize("bad", ["me at example", "me@", "@example.org", "mé@example.org"])
def test_a_bad_to_address_is_a_usage_error_and_nothing_is_sent(
    sample_issue_path: Path, tmp_path: Path, bad: str
) -> None:
    """`send-test --to` with an address that is not one exits 2 naming it; nobody, not even
    the good addresses given with it, gets a message."""
    result = CliRunner().invoke(app, [
        "send-test", str(sample_issue_path), "--to", "editor@example.org", "--to", bad,
    ])
    assert result.exit_code == 2, result.output
    assert f"--to {bad!r} is not a valid email address" in result.stderr
    assert "Traceback" not in result.output
    assert outbox(tmp_path / "outbox") == []


def test_the_library_refuses_a_bad_address_before_sending(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """send_test raises InvalidAddressError naming the bad address, and sends to nobody."""
    with pytest.raises(InvalidAddressError) as raised:
        send_test(get_settings(), str(sample_issue_path), ["editor@example.org", "me at example"])
    assert "'me at example' is not a valid email address" in str(raised.value)
    assert outbox(tmp_path / "outbox") == []


def test_a_bad_editor_address_is_a_configuration_error(
    sample_issue_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad address in NEWSLETTER_EDITORS is a ConfigurationError naming the setting; the
    command exits 1 with that one line and sends nothing."""
    monkeypatch.setenv("NEWSLETTER_EDITORS", json.dumps(["chief@example.org", "me at example"]))
    with pytest.raises(ConfigurationError) as raised:
        send_test(get_settings(), str(sample_issue_path))
    assert "NEWSLETTER_EDITORS" in str(raised.value) and "'me at example'" in str(raised.value)
    result = CliRunner().invoke(app, ["send-test", str(sample_issue_path)])
    assert result.exit_code == 1
    assert "NEWSLETTER_EDITORS" in result.stderr and "Traceback" not in result.output
    assert outbox(tmp_path / "outbox") == []


def test_good_addresses_are_sent_to_in_their_normal_form(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """Valid addresses are accepted as before, written in the project's normal form."""
    results = send_test(get_settings(), str(sample_issue_path), [" Editor@Example.ORG "])
    assert [(r.address, r.error) for r in results] == [("editor@example.org", None)]
    assert [m["To"] for m in outbox(tmp_path / "outbox")] == ["editor@example.org"]
