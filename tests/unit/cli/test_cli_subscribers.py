"""The db, subscribers and suppressions commands, through Typer's CliRunner."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from pathlib import Path

import pytest
from support.env import SAMPLE_ISSUE, TEST_SECRET
from typer.testing import CliRunner, Result

from newsletter.cli.main import app
from newsletter.cli.subscribers import db_app, subscribers_app, suppressions_app
from newsletter.store.db import head_revision
from newsletter.tokens import Purpose, read_token


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_add_list_and_refuse_duplicates() -> None:
    """`subscribers add` stores a subscriber, `list` shows it, a second add fails cleanly."""
    added = run("subscribers", "add", "Ada@Example.org", "--category", "lg", "--category",
                "CV;RO", "--language", "en", "--confirmed")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added ada@example.org (id 1, active)" in added.stdout
    run("subscribers", "add", "grace@example.org")
    listed = run("subscribers", "list")
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["1", "active", "en", "CV,LG,RO", "ada@example.org"]
    assert lines[1].split() == ["2", "pending", "both", "*", "grace@example.org"]
    only = run("subscribers", "list", "--status", "pending")
    assert only.stdout.split() == ["2", "pending", "both", "*", "grace@example.org"]
    again = run("subscribers", "add", "ADA@example.org")
    assert again.exit_code == 1
    assert "ada@example.org is already subscribed" in again.stderr
    assert "Traceback" not in again.output


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("subscribers", "add", "not-an-address"), "is not a valid email address", 1),
        (("subscribers", "add", "a@example.org", "--language", "fr"), "language must be one of",
         2),
        (("subscribers", "add", "a@example.org", "--category", "L1"), "not a category code", 2),
        (("subscribers", "list", "--status", "gone"), "--status must be one of", 2),
        (("subscribers", "import", "missing.csv"), "cannot read missing.csv", 1),
        (("suppressions", "add", "a@example.org", "--reason", "x" * 40), "--reason must be one of",
         2),
    ],
)
def test_bad_input_is_one_line_on_stderr(args: tuple[str, ...], message: str, code: int) -> None:
    """Bad input is one readable line, never a traceback: status 2 for a bad option value."""
    result = run(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_import_reports_bad_rows_and_reruns_harmlessly(tmp_path: Path) -> None:
    """Bad rows go to stderr as FILE:LINE: REASON with exit 1; the good rows are imported."""
    file = tmp_path / "people.csv"
    file.write_text(
        "email,categories,language\n"
        "ada@example.org,LG,zh\n"
        "bad-address,LG,zh\n"
        "grace@example.org,CV|RO,both\n",
        encoding="utf-8",
    )
    first = run("subscribers", "import", str(file))
    assert first.exit_code == 1
    assert f"{file}:3: 'bad-address' is not a valid email address" in first.stderr
    assert first.stdout.strip() == "imported 2, already present 0, suppressed 0, bad 1"
    second = run("subscribers", "import", str(file))
    assert second.stdout.strip() == "imported 0, already present 2, suppressed 0, bad 1"
    clean = tmp_path / "clean.csv"
    clean.write_text("\ufeffemail\nnew@example.org\n", encoding="utf-8")
    third = run("subscribers", "import", str(clean))
    assert third.exit_code == 0
    assert third.stdout.strip() == "imported 1, already present 0, suppressed 0, bad 0"


def test_import_without_header_is_refused() -> None:
    """A file without an email header is refused as a whole, exit status 1."""
    Path("noheader.csv").write_text("ada@example.org,LG,zh\n", encoding="utf-8")
    result = run("subscribers", "import", "noheader.csv")
    assert result.exit_code == 1
    assert "line 1 must be a header" in result.stderr
    assert run("subscribers", "list").stdout == ""


def test_export_to_stdout_and_file_neutralises_formulas(tmp_path: Path) -> None:
    """Export writes CSV to stdout or a file, with formula-looking cells quoted."""
    run("subscribers", "add", "=cmd@example.org", "--confirmed")
    run("subscribers", "add", "plain@example.org")
    rows = list(csv.reader(io.StringIO(run("subscribers", "export").stdout)))
    assert rows[0][:4] == ["email", "categories", "language", "status"]
    assert [row[0] for row in rows[1:]] == ["'=cmd@example.org", "plain@example.org"]
    target = tmp_path / "out.csv"
    result = run("subscribers", "export", str(target), "--status", "active")
    assert result.stdout.strip() == f"exported 1 subscriber(s) to {target}"
    with target.open(newline="", encoding="utf-8") as handle:
        assert [row[0] for row in csv.reader(handle)] == ["email", "'=cmd@example.org"]


def test_remove_erases_and_blocks_re_adding() -> None:
    """`subscribers remove` erases the address; adding or importing it again is refused."""
    run("subscribers", "add", "gone@example.org", "--confirmed")
    removed = run("subscribers", "remove", "gone@example.org")
    assert removed.exit_code == 0 and removed.stdout.startswith("erased")
    assert run("subscribers", "list").stdout == ""
    again = run("subscribers", "add", "gone@example.org")
    assert again.exit_code == 1 and "is suppressed" in again.stderr
    listed = run("suppressions", "list").stdout
    assert "gone@example.org" not in listed
    assert listed.startswith("(erased) sha256:") and "\terased\t" in listed


def test_suppressions_add_list_remove() -> None:
    """Suppressions can be added (updating a subscriber's status), listed and lifted."""
    run("subscribers", "add", "k@example.org", "--confirmed")
    added = run("suppressions", "add", "K@example.org", "--reason", "complained")
    assert added.exit_code == 0
    assert added.stdout.startswith("k@example.org is suppressed (complained)")
    assert "k@example.org  active" not in run("subscribers", "list").stdout
    assert "complained   both" in run("subscribers", "list").stdout
    assert run("suppressions", "list").stdout.startswith("k@example.org\tcomplained\t")
    removed = run("suppressions", "remove", "k@example.org").stdout.strip()
    assert removed == "k@example.org: suppression removed"
    assert run("suppressions", "list").stdout == ""
    not_there = run("suppressions", "remove", "k@example.org").stdout.strip()
    assert not_there == "k@example.org was not suppressed"


def test_db_upgrade_reports_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`db upgrade` prints the revision before and after, then that nothing was left to do."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    first = run("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"upgraded from revision none to {head_revision()}" in first.stdout
    assert f"already at revision {head_revision()}" in run("db", "upgrade").stdout


@pytest.mark.slow
def test_old_postgres_schema_says_what_to_run(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against an un-migrated PostgreSQL, commands say 'run: newsletter db upgrade'."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres_url)
    stale = run("subscribers", "list")
    assert stale.exit_code == 1
    assert "run: newsletter db upgrade" in stale.stderr
    assert run("db", "upgrade").exit_code == 0
    assert run("subscribers", "add", "pg@example.org").exit_code == 0
    assert "pg@example.org" in run("subscribers", "list").stdout


def test_unreachable_database_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that cannot be opened gives one line with the URL, password hidden."""
    monkeypatch.setenv(
        "NEWSLETTER_DATABASE_URL", "postgresql+psycopg://app:hunter2@127.0.0.1:9/nowhere"
    )
    result = run("subscribers", "list")
    assert result.exit_code == 1
    url = "postgresql+psycopg://app:***@127.0.0.1:9/nowhere"
    assert f"NEWSLETTER_DATABASE_URL ({url})" in result.stderr
    assert "hunter2" not in result.output


def test_every_command_documents_an_example() -> None:
    """Each command's --help (its docstring) includes an example."""
    for group in (db_app, subscribers_app, suppressions_app):
        for command in group.registered_commands:
            assert command.callback is not None
            assert "Example: newsletter " in (command.callback.__doc__ or ""), command.name


def test_add_without_confirmed_sends_a_working_confirmation(tmp_path: Path) -> None:
    """Without --confirmed, `subscribers add` mails a confirm link, at most once per 10 min."""
    first = run("subscribers", "add", "lin@example.org", "--category", "CV", "--language", "zh")
    assert first.exit_code == 0, first.output
    assert "lin@example.org is pending: sent a confirmation email" in first.stdout
    sent = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(sent) == 1
    message = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "lin@example.org"
    body = message.get_body(("plain",))
    assert body is not None
    token = re.search(r"https://news\.example\.org/confirm/(\S+)", body.get_content())
    assert token is not None
    assert read_token(TEST_SECRET, Purpose.CONFIRM, token.group(1)) == 1
    again = run("subscribers", "add", "lin@example.org")
    assert "none was sent now" in again.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    listed = run("subscribers", "list", "--status", "pending")
    assert listed.stdout.split() == ["1", "pending", "zh", "CV", "lin@example.org"]


def test_add_refuses_a_suppressed_address() -> None:
    """A suppressed address is neither added nor mailed by `subscribers add`."""
    assert run("suppressions", "add", "gone@example.org").exit_code == 0
    result = run("subscribers", "add", "gone@example.org")
    assert result.exit_code == 1
    assert "is suppressed" in result.stderr


def _issue_with_legend(codes: list[str]) -> str:
    """The sample issue with only ``codes`` in its legend (its papers are LG, CV and CL)."""
    text = SAMPLE_ISSUE.read_text("utf-8")
    start, end = text.index("categories:\n"), text.index("summary:")
    legend = "".join(f"  {code}:\n    zh: 类{code}\n    en: Category {code}\n" for code in codes)
    return text[:start] + "categories:\n" + legend + text[end:]


def test_add_refuses_unknown_category_codes() -> None:
    """`subscribers add --category ZZ` exits 1 naming the unknown and the known codes."""
    result = run("subscribers", "add", "a@example.org", "--category", "LG", "--category",
                 "zz", "--confirmed")  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip() == "unknown category ZZ; known: AS, CL, CV, LG, RO"
    assert run("subscribers", "list").stdout == ""


def test_known_categories_are_those_of_every_issue_file(tmp_path: Path) -> None:
    """Codes from any issue file in NEWSLETTER_ISSUES_DIR are accepted, others refused."""
    issues = tmp_path / "issues"
    issues.mkdir()
    (issues / "2022-09-07.yaml").write_text(_issue_with_legend(["LG", "CV", "CL"]), "utf-8")
    newer = _issue_with_legend(["LG", "CV", "CL", "NE"]).replace("2022-09-07", "2022-09-08")
    (issues / "2022-09-08.yaml").write_text(newer, "utf-8")
    added = run("subscribers", "add", "ne@example.org", "--category", "NE", "--confirmed")
    assert added.exit_code == 0, added.output
    refused = run("subscribers", "add", "ro@example.org", "--category", "RO", "--confirmed")
    assert refused.exit_code == 1
    assert "unknown category RO; known: CL, CV, LG, NE" in refused.stderr


def test_import_treats_unknown_categories_as_bad_rows(tmp_path: Path) -> None:
    """An import row with an unknown code is FILE:LINE: reason and skipped; the rest imported."""
    file = tmp_path / "people.csv"
    file.write_text(
        "email,categories,language\nada@example.org,LG,zh\nzed@example.org,ZZ,en\n"
        "grace@example.org,CV RO,both\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(file))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{file}:3: unknown category ZZ; known: AS, CL, CV, LG, RO"
    ]
    assert result.stdout.strip() == "imported 2, already present 0, suppressed 0, bad 1"
    listed = run("subscribers", "list").stdout
    assert "zed@example.org" not in listed and "grace@example.org" in listed
