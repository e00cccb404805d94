"""Settings: list values in either form, range and URL checks, and one readable line per bad
variable from every command instead of a pydantic traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import SettingsError
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner, Result

from newsletter.cli.main import app
from newsletter.errors import ConfigurationError
from newsletter.settings import Settings, configuration_error, get_settings


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ed@example.com", ["ed@example.com"]),
        ("ed@example.com, ada@example.org ,", ["ed@example.com", "ada@example.org"]),
        ('["ed@example.com", "ada@example.org"]', ["ed@example.com", "ada@example.org"]),
        (' ["ed@example.com"]', ["ed@example.com"]),
        ("", []),
    ],
)
@pytest.mark.parametrize("name", ["EDITORS", "SNS_TOPIC_ARNS"])
def test_list_settings_take_commas_or_json(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: list[str]
) -> None:
    """A list setting is a comma-separated string or a JSON list; blank means empty."""
    monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    assert getattr(get_settings(), name.lower()) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://news.example.org/", "https://news.example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://example.org/digest/", "https://example.org/digest"),
    ],
)
def test_base_url_keeps_its_path_and_drops_a_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    """An absolute http(s) base URL is accepted, with any path, without its final slash."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", given)
    assert get_settings().base_url == expected


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("EDITORS", '["ed@example.com"', "NEWSLETTER_EDITORS='[\"ed@example.com\"': not a "
         'valid JSON list; write ["a", "b"] or comma-separated values: a,b'),
        ("EDITORS", "[1]", "NEWSLETTER_EDITORS=1: must be a valid string"),
        ("MAX_SEND_RATE", "abc", "NEWSLETTER_MAX_SEND_RATE='abc': must be a valid number, "
         "unable to parse string as a number"),
        ("MAX_SEND_RATE", "0", "NEWSLETTER_MAX_SEND_RATE='0': must be greater than 0"),
        ("SEND_RATE_HEADROOM", "0.95",
         "NEWSLETTER_SEND_RATE_HEADROOM='0.95': must be less than or equal to 0.9"),
        ("SEND_RATE_HEADROOM", "-0.1",
         "NEWSLETTER_SEND_RATE_HEADROOM='-0.1': must be greater than or equal to 0"),
        ("SEND_CONCURRENCY", "-1",
         "NEWSLETTER_SEND_CONCURRENCY='-1': must be greater than or equal to 0"),
        ("SIZE_WARN_BYTES", "0", "NEWSLETTER_SIZE_WARN_BYTES='0': must be greater than 0"),
        ("SIZE_LIMIT_BYTES", "-5", "NEWSLETTER_SIZE_LIMIT_BYTES='-5': must be greater than 0"),
        ("TRANSPORT", "smtp", "NEWSLETTER_TRANSPORT='smtp': must be 'ses' or 'outbox'"),
        ("IN_DOUBT_POLICY", "never",
         "NEWSLETTER_IN_DOUBT_POLICY='never': must be 'skip', 'resend' or 'reconcile'"),
        ("BASE_URL", "example.org", "NEWSLETTER_BASE_URL='example.org': must be an absolute "
         "http:// or https:// URL, e.g. https://news.example.org"),
        ("BASE_URL", "ftp://example.org", "NEWSLETTER_BASE_URL='ftp://example.org': must be an "
         "absolute http:// or https:// URL, e.g. https://news.example.org"),
        ("BASE_URL", "https://example.org/?ref=mail", "NEWSLETTER_BASE_URL='https://example.org"
         "/?ref=mail': must not have a ?query or #fragment; links are appended to it"),
        ("BASE_URL", "https://example.org/#top", "NEWSLETTER_BASE_URL='https://example.org/#top'"
         ": must not have a ?query or #fragment; links are appended to it"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    """A bad value raises ConfigurationError: the variable, the value, what it must be."""
    monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert str(raised.value) == line


def test_every_bad_variable_gets_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several bad variables are all reported at once, one line each."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "abc")
    monkeypatch.setenv("NEWSLETTER_TRANSPORT", "smtp")
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("NEWSLETTER_TRANSPORT='smtp'")
    assert lines[1].startswith("NEWSLETTER_MAX_SEND_RATE='abc'")


@pytest.mark.parametrize("field", ["secret_key", "database_url"])
def test_secret_values_are_not_repeated(field: str) -> None:
    """The message for a bad key or database URL (which may hold a password) hides the value."""
    with pytest.raises(ValidationError) as raised:
        Settings(**{field: 123456789})  # type: ignore[arg-type]
    message = str(configuration_error(raised.value))
    assert message.startswith(f"NEWSLETTER_{field.upper()}=(hidden): ")
    assert "123456789" not in message


def test_a_setting_pydantic_settings_cannot_decode_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value pydantic-settings fails to decode before validation still names the variable."""

    class WithMapping(Settings):
        limits: dict[str, int] = Field(default_factory=dict)

    monkeypatch.setenv("NEWSLETTER_LIMITS", "daily=5")
    with pytest.raises(SettingsError) as raised:
        WithMapping()
    message = str(configuration_error(raised.value))
    assert message.startswith("NEWSLETTER_LIMITS: error parsing value for field")
    assert "\n" not in message


COMMANDS = [
    ("send-test", str(SAMPLE_ISSUE)),
    ("send", str(SAMPLE_ISSUE), "--yes"),
    ("status", "2022-09-07"),
    ("worker", "--once"),
    ("serve", "--port", "1"),
    ("preview", str(SAMPLE_ISSUE), "--port", "1"),
    ("build", str(SAMPLE_ISSUE)),
    ("subscribers", "list"),
    ("db", "upgrade"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_reports_bad_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """Any command run with a bad setting prints only the problem lines and exits 1."""
    monkeypatch.setenv("NEWSLETTER_EDITORS", '["ed@example.com",')
    monkeypatch.setenv("NEWSLETTER_IN_DOUBT_POLICY", "never")
    result = run(*args)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.splitlines() == [
        "NEWSLETTER_EDITORS='[\"ed@example.com\",': not a valid JSON list; write "
        '["a", "b"] or comma-separated values: a,b',
        "NEWSLETTER_IN_DOUBT_POLICY='never': must be 'skip', 'resend' or 'reconcile'",
    ]
    assert result.stdout == ""


def test_a_bad_setting_in_dotenv_is_reported_the_same_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bad line in .env is reported by its variable name like an environment variable."""
    (tmp_path / ".env").write_text("NEWSLETTER_MAX_SEND_RATE=fast\n", "utf-8")
    result = run("status", "2022-09-07")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "NEWSLETTER_MAX_SEND_RATE='fast': must be a valid number, unable to parse string as "
        "a number"
    ]


@pytest.mark.slow
def test_zero_send_rate_is_refused_before_any_snapshot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """MAX_SEND_RATE=0 stops `send` before it creates a campaign; with a rate it sends."""
    assert run("subscribers", "add", "ada@example.org", "--confirmed").exit_code == 0
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "0")
    refused = run("send", str(SAMPLE_ISSUE), "--yes")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "NEWSLETTER_MAX_SEND_RATE='0': must be greater than 0"
    monkeypatch.delenv("NEWSLETTER_MAX_SEND_RATE")
    status = run("status", "2022-09-07")
    assert status.exit_code == 1 and "no campaign for 2022-09-07" in status.stderr
    assert not list((tmp_path / "outbox").glob("*.eml"))
    sent = run("send", str(SAMPLE_ISSUE), "--yes")
    assert sent.exit_code == 0, sent.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


@pytest.mark.parametrize(
    ("base_url", "warned"),
    [
        ("https://news.example.org", False),
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000/newsletter", False),
        ("http://news.example.org", True),
    ],
)
def test_plain_http_base_url_is_warned_about_unless_local(base_url: str, warned: bool) -> None:
    """One-click unsubscribe needs https; only a server on this machine may use http."""
    warning = Settings(base_url=base_url).base_url_warning()
    assert (warning is not None) == warned
    if warned:
        assert warning is not None and "https://" in warning and "RFC 8058" in warning


@pytest.mark.parametrize(
    "value",
    [
        "https://news.example.org\r\nBcc: victim@example.com",
        "https://news.example.org/\nBcc: victim@example.com",
        "https://news.example.org/a\tb",
        "https://news.example.org/a b",
        "https://news.example.org/\x7f",
    ],
)
def test_base_url_with_control_characters_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A base URL with a line break, tab, space or control character cannot reach a header."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert str(raised.value).startswith("NEWSLETTER_BASE_URL=")
    assert "must not contain spaces or control characters" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_non_ascii_base_url_becomes_punycode_and_builds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An IDN host becomes punycode and a non-ASCII path is percent-encoded; build works."""
    from email import message_from_bytes

    from newsletter import wiring
    from newsletter.editing.build import build

    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://Bücher.example/新闻/")
    settings = get_settings()
    assert settings.base_url == "https://xn--bcher-kva.example/%E6%96%B0%E9%97%BB"
    result = build(SAMPLE_ISSUE, tmp_path / "out", wiring.workbench(settings))
    message = message_from_bytes(result.files["eml"].read_bytes())
    assert str(message["List-Unsubscribe"]).startswith(
        "<https://xn--bcher-kva.example/%E6%96%B0%E9%97%BB/unsubscribe/"
    )
