"""Settings, read from ``NEWSLETTER_*`` environment variables and a ``.env`` file.

This is the only module that reads the environment.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from newsletter.errors import ConfigurationError
from newsletter.model.keys import MAKE_KEY, guessable_reason
from newsletter.model.site import web_origin
from newsletter.rendering.wording import DEFAULT_TITLE_EN
from newsletter.vocabulary import InDoubtPolicy

# Keys that must never protect a real deployment: documentation examples and the demo's.
KNOWN_DEFAULT_KEYS = frozenset({"", "change-me", "changeme", "secret", "dev", "demo", "insecure"})
MIN_KEY_LENGTH = 16
# NEWSLETTER_DATABASE_URL: SQLite, or PostgreSQL through psycopg 3 (a dependency).
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
SQLITE_EXAMPLE = "sqlite:///newsletter.db"
POSTGRES_EXAMPLE = "postgresql+psycopg://user:password@host/dbname"


class Settings(BaseSettings):
    """Every setting of the system; the README documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///newsletter.db"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("")
    # Older keys, still accepted when reading links already mailed; never used to sign.
    secret_key_fallbacks: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    from_address: str = "AI Digest <digest@news.example.org>"
    reply_to: str | None = None
    list_id: str = "AI Digest <digest.news.example.org>"
    unsubscribe_mailto: str | None = None
    # NoDecode: pydantic-settings would insist on JSON; _split_list also takes "a,b".
    editors: Annotated[list[str], NoDecode] = Field(default_factory=list)
    transport: Literal["ses", "outbox"] | None = None
    outbox_dir: Path = Path("outbox")
    ses_region: str | None = None
    ses_endpoint_url: str | None = None
    ses_configuration_set: str | None = None
    # Campaigns through SES go 50 readers per SendBulkEmail call (issue #23); false: one
    # SendEmail per message, as transactional mail and send-test always do.
    ses_bulk: bool = True
    max_send_rate: float = Field(14.0, gt=0)
    send_rate_headroom: float = Field(0.05, ge=0, le=0.9)
    send_concurrency: int = Field(0, ge=0)
    # None: "reconcile" when an event source (SNS topics or an SQS queue) is configured,
    # else "skip"; see chosen_in_doubt_policy().
    in_doubt_policy: InDoubtPolicy | None = None
    issues_dir: Path = Path("issues")
    templates_dir: Path | None = None
    size_warn_bytes: int = Field(90_000, gt=0)
    # Gmail clips an HTML part over 102 KB as sent (CRLF line ends); the default keeps a
    # 2,000-byte margin under it (issue 18).
    size_limit_bytes: int = Field(100_000, gt=0)
    # The English subject and heading of an issue without title_en ({date}: YYYY-MM-DD).
    title_en: str = DEFAULT_TITLE_EN
    # The sender's postal address, in the footer of every email (CAN-SPAM); `check` warns
    # when it is not set.
    postal_address: str | None = None
    sns_topic_arns: Annotated[list[str], NoDecode] = Field(default_factory=list)
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    # The day an issue belongs to (``send --today``, what counts as a future issue).
    timezone: str = "Asia/Shanghai"
    # Publish issues that were never sent once their date has passed.
    archive_unsent: bool = False
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Lets tests fetch an SNS signing certificate over http from this loopback host:port.
    sns_cert_host_for_tests: str | None = None
    sqs_queue_url: str | None = None
    sqs_endpoint_url: str | None = None
    reconcile_after: int = Field(900, ge=0)
    soft_bounce_limit: int = Field(3, ge=1)
    max_bounce_rate: float = Field(0.04, gt=0, le=1)
    max_complaint_rate: float = Field(0.0008, gt=0, le=1)
    # Issue 25: seconds a delivery's transient SES failures are retried within a run, and
    # how many deliveries in a row may fail (deferred or in doubt) before the run pauses.
    send_retry_seconds: float = Field(15.0, ge=0, le=600)
    send_brake_after: int = Field(10, ge=1)
    # Issue 17: what readers did. SES event rows other than bounces and complaints are
    # pruned after this many days (their effect is rolled up as they are applied).
    event_retention_days: int = Field(30, ge=1)
    # List hygiene, off by default (0): pending sign-ups older than this many days are
    # removed; readers with no open or click in the last ``sunset_after_issues`` issues are
    # asked to stay and unsubscribed ("inactive") ``sunset_grace_days`` later.
    pending_max_days: int = Field(0, ge=0)
    sunset_after_issues: int = Field(0, ge=0)
    sunset_grace_days: int = Field(14, ge=1)
    # -- issue 22: the welcome email, the REST API, sign-up from other sites, webhooks --
    welcome_email: bool = True
    # Origins (scheme://host[:port]) whose pages may post to /api/v1/subscribe.
    embed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_rate_limit: int = Field(600, ge=1)  # requests per token per minute
    webhooks_allow_private: bool = False  # let webhooks reach loopback/private addresses
    webhooks_retry_seconds: float = Field(5.0, gt=0)  # the first retry's delay; doubles
    webhooks_timeout: float = Field(10.0, gt=0)  # seconds an endpoint has to answer

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [web_origin(entry) for entry in value]
    # Milliseconds each web sign-up takes on the sign-up thread, whatever the address (the
    # time after a sign-up must not tell whether the address is known).
    signup_slot_ms: int = Field(100, ge=0, le=5000)

    @field_validator(
        "editors", "sns_topic_arns", "trusted_proxies", "secret_key_fallbacks", "embed_origins",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """A JSON list (``["a", "b"]``) or comma-separated values (``a,b``); blank is empty."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(
                    'not a valid JSON list; write ["a", "b"] or comma-separated values: a,b'
                ) from None
        return [item.strip() for item in value.split(",") if item.strip()]

    @field_validator("title_en")
    @classmethod
    def _title_template(cls, value: str) -> str:
        """A title with at most ``{date}`` in braces (``{{`` and ``}}`` for braces)."""
        try:
            title = value.format(date="2022-09-07")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "may hold {date} (the issue's date) and no other {name}; write {{ and }} "
                "for a brace"
            ) from None
        if not title.strip():
            raise ValueError("is empty; write an English title, e.g. " + DEFAULT_TITLE_EN)
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        """SQLite or PostgreSQL through psycopg 3; the message names the scheme, never the
        rest of the URL (it may hold a password)."""
        found = _URL_SCHEME.match(value.strip())
        if not found:
            raise ValueError(f"must be a database URL, e.g. {SQLITE_EXAMPLE} or {POSTGRES_EXAMPLE}")
        scheme = found.group(1).lower()
        dialect, _, driver = scheme.partition("+")
        if dialect == "sqlite" and driver in ("", "pysqlite"):
            return value
        if dialect in ("postgres", "postgresql"):
            if scheme == "postgresql+psycopg":
                return value
            named = "names no driver" if not driver else f"names the driver {driver!r}"
            raise ValueError(
                f"{scheme}:// {named}; write postgresql+psycopg:// instead (psycopg 3, "
                f"installed with newsletter), e.g. {POSTGRES_EXAMPLE}"
            )
        raise ValueError(
            f"{scheme}:// is not supported: the database must be SQLite ({SQLITE_EXAMPLE}) "
            f"or PostgreSQL ({POSTGRES_EXAMPLE})"
        )

    @field_validator("arxiv_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.strip()
    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Each entry an IP address or a CIDR network (``10.0.0.0/8``, ``::1``)."""
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry[:60]!r} is not an IP address or network; write e.g. "
                    "10.0.0.1,192.168.0.0/16,::1"
                ) from None
        return value
    @field_validator("sns_cert_host_for_tests")
    @classmethod
    def _loopback_only(cls, value: str | None) -> str | None:
        """Only a loopback host:port; the real certificate host is never replaced."""
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"127\.0\.0\.1:\d{1,5}", value.strip()):
            raise ValueError("must be 127.0.0.1:PORT (tests only)")
        return value.strip()

    @field_validator("base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        """Links in every page and email (and the List-Unsubscribe header) are built from it,
        so it must be a whole URL in plain ASCII: an IDN host becomes punycode, a non-ASCII
        path is percent-encoded, and whitespace or control characters are refused."""
        value = value.strip()
        if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError("must not contain spaces or control characters (CR, LF, tab)")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an absolute http:// or https:// URL, e.g. https://news.example.org"
            )
        if parts.query or parts.fragment or value.endswith(("?", "#")):
            raise ValueError("must not have a ?query or #fragment; links are appended to it")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain a user name or password")
        try:
            host = parts.hostname.encode("idna").decode("ascii")
            port = f":{parts.port}" if parts.port is not None else ""
        except (UnicodeError, ValueError):
            raise ValueError("has a host name or port that is not valid") from None
        if not _is_host(host):
            raise ValueError(
                f"has the host {host[:60]!r}, which is no host name or IP address; a host "
                "name is dot-separated labels of letters, digits and inner hyphens"
            )
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal keeps its brackets
        path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
        return f"{parts.scheme}://{host}{port}{path}".rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "must be an IANA time zone name, e.g. Asia/Shanghai or Europe/Berlin"
            ) from None
        return value.strip()

    def zone(self) -> ZoneInfo:
        """``NEWSLETTER_TIMEZONE`` as a time zone."""
        return ZoneInfo(self.timezone)

    def base_path(self) -> str:
        """The path part of ``NEWSLETTER_BASE_URL`` (``/news``), or ``""`` at the root."""
        return urlsplit(self.base_url).path.rstrip("/")

    def signing_key(self) -> str:
        """The key that signs tokens; :class:`ConfigurationError` unless it is safe to use.

        Refused: unset, a well-known example value, shorter than :data:`MIN_KEY_LENGTH`, or
        easy to guess (a common password, words, dates, sequences, repeats: see
        ``model/keys.py``). The fallbacks are checked too.
        """
        key = self.secret_key.get_secret_value()
        _check_key("NEWSLETTER_SECRET_KEY", key)
        for n, fallback in enumerate(self.secret_key_fallbacks, 1):
            _check_key(f"NEWSLETTER_SECRET_KEY_FALLBACKS (key {n})", fallback.get_secret_value())
        return key

    def verification_keys(self) -> list[str]:
        """Older keys still accepted when reading a token (never for signing), checked."""
        self.signing_key()
        return [fallback.get_secret_value() for fallback in self.secret_key_fallbacks]

    def base_url_warning(self) -> str | None:
        """Why the base URL is unfit for real readers, or None.

        RFC 8058 one-click unsubscribe (and mailbox providers' bulk-sender rules) need
        HTTPS; plain HTTP is fine only for a server on this machine.
        """
        parts = urlsplit(self.base_url)
        if parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1"):
            return None
        return (
            f"NEWSLETTER_BASE_URL is {self.base_url}: unsubscribe links must be https:// for "
            "one-click unsubscribe (RFC 8058) to count with Gmail and Yahoo"
        )

    def has_event_source(self) -> bool:
        """Whether SES events reach us (SNS topics for the webhook, or an SQS queue)."""
        return bool(self.sns_topic_arns or self.sqs_queue_url)

    def chosen_in_doubt_policy(self) -> InDoubtPolicy:
        """The configured policy, else "reconcile" with an event source and "skip" without."""
        if self.in_doubt_policy is not None:
            return self.in_doubt_policy
        return "reconcile" if self.has_event_source() else "skip"

    def chosen_transport(self) -> Literal["ses", "outbox"]:
        """SES when configured (explicitly or by a region), else the local outbox."""
        if self.transport is not None:
            return self.transport
        return "ses" if self.ses_region else "outbox"


# One label of a host name: letters, digits, hyphens inside (underscores, which some
# hosts use, too), at most 63 characters.
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _is_host(host: str) -> bool:
    """Whether ``host`` (ASCII, as urlsplit gives it) is an IP address or a host name."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _check_key(name: str, key: str) -> None:
    if not key:
        raise ConfigurationError(
            f"{name} is not set; set it to a long random value, e.g. the output of: {MAKE_KEY}"
        )
    if key.strip().lower() in KNOWN_DEFAULT_KEYS:
        raise ConfigurationError(
            f"{name} is a well-known example value; anyone could forge unsubscribe and "
            f"confirmation links. Set it to the output of: {MAKE_KEY}"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"{name} is {len(key)} characters long; use at least {MIN_KEY_LENGTH} random "
            f"characters (32 or more is better), e.g. the output of: {MAKE_KEY}"
        )
    reason = _guessable(key)
    if reason is not None:
        raise ConfigurationError(
            f"{name} {reason}: one mailed link is enough to try guesses offline and then "
            f"forge links. Use the output of: {MAKE_KEY}"
        )


@functools.lru_cache(maxsize=16)
def _guessable(key: str) -> str | None:
    # The estimate takes milliseconds; commands and tests check the same key many times.
    return guessable_reason(key)


def get_settings() -> Settings:
    """Read the settings: a copy of the last read while the ``NEWSLETTER_*`` variables and
    ``./.env`` are unchanged. Raises :class:`ConfigurationError`, one line per bad variable."""
    dotenv = Path(".env")
    env = sorted((k, v) for k, v in os.environ.items() if k[:11].upper() == "NEWSLETTER_")
    key = repr((env, os.getcwd(), dotenv.is_file() and dotenv.read_bytes()))
    try:  # reading them costs ~20 ms a time
        return _read(key).model_copy()
    except (ValidationError, SettingsError) as error:
        raise configuration_error(error) from None


@functools.lru_cache(maxsize=8)
def _read(_key: str) -> Settings:
    return Settings()  # the key holds all that Settings() reads


# Values never echoed back in an error message.
_SECRET_FIELDS = frozenset({"secret_key", "secret_key_fallbacks", "database_url"})
_SETTINGS_ERROR_FIELD = re.compile(r'field "(\w+)"')


def configuration_error(error: ValidationError | SettingsError) -> ConfigurationError:
    """One line per problem: the variable, the value given and what it must be instead."""
    if isinstance(error, SettingsError):
        # Raised before validation (a value that is not the JSON a field needs); it names
        # the field but not the value.
        found = _SETTINGS_ERROR_FIELD.search(str(error))
        name = f"NEWSLETTER_{found.group(1).upper()}" if found else "a NEWSLETTER_ variable"
        return ConfigurationError(f"{name}: {error}; see the settings table in README.md")
    lines = []
    for problem in error.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else ""
        name = f"NEWSLETTER_{field.upper()}"
        value = "(hidden)" if field in _SECRET_FIELDS else repr(problem["input"])
        # pydantic says "Value error, must be ..." or "Input should be ...".
        message = problem["msg"].removeprefix("Value error, ")
        message = re.sub(r"^Input should\b", "must", message)
        lines.append(f"{name}={value}: {message}")
    return ConfigurationError("\n".join(lines))
