"""CLI rough edges a new user meets: database advice, validating a directory, an idle worker,
a port already in use."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner, Result

from newsletter.cli.main import app
from newsletter.cli.web import listen
from newsletter.store.db import describe, make_engine


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def failure(url: str, statement: str) -> SQLAlchemyError:
    """The error a real database gives for ``statement``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    except SQLAlchemyError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{statement!r} did not fail")


def test_a_missing_table_suggests_db_upgrade(empty_database_url: str) -> None:
    """A query on a table the schema lacks suggests `newsletter db upgrade`."""
    url = empty_database_url
    message = str(describe(failure(url, "SELECT id FROM campaigns"), url))
    assert message.startswith("database error: ")
    assert "campaigns" in message
    assert message.endswith("the schema is out of date; run: newsletter db upgrade")


def test_an_unreachable_server_suggests_checking_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection refused names the URL setting and the server, not `db upgrade`."""
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"postgresql+psycopg://nobody@127.0.0.1:{port}/x")
    result = run("status", "2022-09-07")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("database error: ") and "refused" in line
    assert line.endswith(
        f"check NEWSLETTER_DATABASE_URL (postgresql+psycopg://nobody@127.0.0.1:{port}/x) "
        "and that the database server is running"
    )
    assert "db upgrade" not in line


def test_another_statement_error_gives_no_upgrade_advice() -> None:
    """A failing statement that is not about the schema only points at the database URL."""
    message = str(describe(failure("sqlite://", "SELEC 1"), "sqlite://"))
    assert message.endswith("syntax error; check NEWSLETTER_DATABASE_URL (sqlite://)")


@pytest.fixture
def issues(tmp_path: Path) -> Path:
    """A folder with the sample issue, two copies under wrong dates, and a non-issue file."""
    folder = tmp_path / "issues"
    folder.mkdir()
    for name in ("2022-09-08.yaml", "2022-09-07.yaml", "2022-09-06.yaml"):
        shutil.copy(SAMPLE_ISSUE, folder / name)
    (folder / "notes.txt").write_text("not: [an issue", "utf-8")
    return folder


def test_validate_checks_every_yaml_file_in_a_directory(issues: Path) -> None:
    """`validate DIR` checks each *.yaml inside, in name order, and reports the bad ones."""
    result = run("validate", str(issues))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and lines[-1] == "2 problem(s) found"
    assert lines[0].startswith(f"{issues / '2022-09-06.yaml'}:")
    assert lines[1].startswith(f"{issues / '2022-09-08.yaml'}:")
    for name in ("2022-09-06.yaml", "2022-09-08.yaml"):
        (issues / name).unlink()
    valid = run("validate", str(issues), str(SAMPLE_ISSUE))
    assert valid.exit_code == 0, valid.output
    assert valid.stdout.strip() == "2 file(s) valid"


def test_validate_refuses_a_directory_without_issues(tmp_path: Path) -> None:
    """A directory with no *.yaml file is an error, not "0 file(s) valid"."""
    (tmp_path / "empty").mkdir()
    result = run("validate", str(tmp_path / "empty"))
    assert result.exit_code == 1
    expected = f"{tmp_path / 'empty'}: no issue files (*.yaml) in this directory"
    assert result.stderr.strip() == expected


def test_worker_once_says_when_there_is_nothing_to_send() -> None:
    """`worker --once` with no campaign sending prints one line and exits 0."""
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert result.stdout == "no campaign to send\n"
    only = run("worker", "--once", "--issue", "2022-09-07")
    assert only.stdout == "no campaign to send for 2022-09-07\n"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize("command", [["serve"], ["preview", str(SAMPLE_ISSUE)]])
def test_a_port_in_use_is_one_line_before_anything_else(
    taken_port: int, command: list[str]
) -> None:
    """`serve`/`preview` on a taken port print one clear line and exit 1, not "Serving at"."""
    result = run(*command, "--port", str(taken_port))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"cannot listen on 127.0.0.1:{taken_port}: Address already in use; "
        "choose another --port"
    ]


def test_listen_hands_over_a_listening_socket() -> None:
    """On a free port `listen` returns a socket that already accepts connections."""
    sock = listen("127.0.0.1", 0)
    with sock, socket.create_connection(sock.getsockname(), timeout=5):
        accepted, _ = sock.accept()
        accepted.close()
