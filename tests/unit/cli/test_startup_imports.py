"""Start-up loads only what a command uses (issue #23: imports were a large share of a bulk
send's CPU): the CLI's modules load neither the desk, the feedback pipeline, the API, the
arXiv client nor alembic until a command that needs them runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Modules a `newsletter send` never needs at start-up (each took tens of milliseconds).
NOT_AT_START = (
    "alembic", "newsletter.desk.signin", "newsletter.feedback.apply", "newsletter.feedback.sns",
    "newsletter.wiring_api", "newsletter.editing.arxiv", "newsletter.editing.digest_import",
    "newsletter.web.static_site", "cryptography.x509",
    "premailer",  # only for an operator's own stylesheet; it loads requests (~90 ms)
    "psycopg",  # loaded when a PostgreSQL database is opened (~90 ms)
)


@pytest.mark.slow
def test_the_cli_loads_without_the_parts_send_does_not_use() -> None:
    """Importing the command line (what every command pays) leaves those modules out."""
    code = ("import json, sys; import newsletter.cli.main; "
            f"print(json.dumps([m for m in {list(NOT_AT_START)!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert json.loads(done.stdout) == []
