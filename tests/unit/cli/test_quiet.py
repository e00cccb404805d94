"""--quiet hides notes: only warnings and errors reach stderr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.delivery import subscribe
from typer.testing import CliRunner

from newsletter.cli.main import app

NOTE = "no SES event source is configured"


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_quiet_send_does_not_print_the_exactly_once_note(sample_issue_path: Path) -> None:
    """The in-doubt policy note shows on a plain send and not with -q."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 3)
    quiet = CliRunner().invoke(app, ["-q", "send", str(sample_issue_path), "--yes"])
    assert quiet.exit_code == 0, quiet.output
    assert NOTE not in quiet.stderr
    again = CliRunner().invoke(app, ["send", str(sample_issue_path), "--yes"])
    assert again.exit_code == 0, again.output
    assert NOTE in again.stderr
