"""NEWSLETTER_DATABASE_URL: a database we do not support is a configuration error, not a
traceback, and a PostgreSQL URL without our driver says which one to write."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app as cli_app
from newsletter.errors import ConfigurationError
from newsletter.settings import get_settings


def settings_error(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    return str(raised.value)


@pytest.mark.parametrize(
    "url", ["mysql://app:hunter2@db.example.org/news", "mysql+pymysql://app@db/news",
            "mariadb://app@db/news", "mssql+pyodbc://app@db/news", "oracle://app@db/news"]
)
def test_an_unsupported_database_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """A MySQL (or other) URL is one line naming the setting and SQLite and PostgreSQL."""
    message = settings_error(monkeypatch, url)
    assert message.startswith("NEWSLETTER_DATABASE_URL=(hidden): ")
    assert "\n" not in message
    assert "SQLite" in message and "PostgreSQL" in message
    assert "sqlite:///" in message and "postgresql+psycopg://" in message
    assert "hunter2" not in message  # the URL may hold a password: never echoed


@pytest.mark.parametrize(
    "url", ["postgres://app:hunter2@db.example.org/news", "postgresql://app:hunter2@db/news",
            "POSTGRESQL://app@db/news", "postgresql+psycopg2://app:hunter2@db/news",
            "postgresql+asyncpg://app@db/news"]
)
def test_postgresql_without_our_driver_suggests_psycopg(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """``postgres://``, ``postgresql://`` or another driver: write ``postgresql+psycopg://``."""
    message = settings_error(monkeypatch, url)
    assert message.startswith("NEWSLETTER_DATABASE_URL=(hidden): ")
    assert "postgresql+psycopg://" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("url", ["newsletter.db", "", "sqlite:newsletter.db", "://x"])
def test_a_value_that_is_not_a_database_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """A bare file name or a value without ``scheme://`` shows what a URL looks like."""
    message = settings_error(monkeypatch, url)
    assert message.startswith("NEWSLETTER_DATABASE_URL=(hidden): ")
    assert "sqlite:///" in message


@pytest.mark.parametrize(
    "url", ["sqlite:///newsletter.db", "sqlite:////srv/news/newsletter.db", "sqlite://",
            "sqlite+pysqlite:///x.db", "postgresql+psycopg://app:pw@db.example.org:5432/news",
            "postgresql+psycopg://app@/news?host=/run/postgresql"]
)
def test_sqlite_and_postgresql_with_psycopg_are_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """The URLs the README documents are read unchanged."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    assert get_settings().database_url == url


def test_a_mysql_url_stops_a_command_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """``newsletter subscribers list`` with a MySQL URL exits 1 with the reason, no traceback."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", "mysql://app:hunter2@db.example.org/news")
    result = CliRunner().invoke(cli_app, ["subscribers", "list"])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("NEWSLETTER_DATABASE_URL=(hidden): ")
    assert "SQLite" in line and "PostgreSQL" in line
    assert "hunter2" not in result.output
    assert isinstance(result.exception, SystemExit)  # handled, not a traceback
