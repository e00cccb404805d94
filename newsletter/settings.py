"""Settings, read from ``NEWSLETTER_*`` environment variables and a ``.env`` file.

This is the only module that reads the environment.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from newsletter.errors import ConfigurationError
from newsletter.vocabulary import InDoubtPolicy

# Keys that must never protect a real deployment: documentation examples and the demo's.
KNOWN_DEFAULT_KEYS = frozenset({"", "change-me", "changeme", "secret", "dev", "demo", "insecure"})
MIN_KEY_LENGTH = 16
# A key must look random: at least this many bits by its own character frequencies.
MIN_KEY_BITS = 40
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
    max_send_rate: float = Field(14.0, gt=0)
    send_rate_headroom: float = Field(0.05, ge=0, le=0.9)
    send_concurrency: int = Field(0, ge=0)
    # None: "reconcile" when an event source (SNS topics or an SQS queue) is configured,
    # else "skip"; see chosen_in_doubt_policy().
    in_doubt_policy: InDoubtPolicy | None = None
    issues_dir: Path = Path("issues")
    templates_dir: Path | None = None
    size_warn_bytes: int = Field(90_000, gt=0)
    size_limit_bytes: int = Field(102_000, gt=0)
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
    # Milliseconds each web sign-up takes on the sign-up thread, whatever the address (the
    # time after a sign-up must not tell whether the address is known).
    signup_slot_ms: int = Field(100, ge=0, le=5000)

    @field_validator(
        "editors", "sns_topic_arns", "trusted_proxies", "secret_key_fallbacks", mode="before"
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
        with too little entropy (``aaaaaaaaaaaaaaaa``). The fallbacks are checked too.
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


def key_bits(key: str) -> float:
    """The key's length times the Shannon entropy of its own characters, in bits."""
    counts = Counter(key)
    return sum(n * math.log2(len(key) / n) for n in counts.values())


def _check_key(name: str, key: str) -> None:
    if not key:
        raise ConfigurationError(
            f"{name} is not set; set it to a long random value, e.g. the output of: "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    if key.strip().lower() in KNOWN_DEFAULT_KEYS:
        raise ConfigurationError(
            f"{name} is a well-known example value; anyone could forge unsubscribe and "
            "confirmation links. Set it to a long random value."
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"{name} is {len(key)} characters long; use at least {MIN_KEY_LENGTH} random "
            "characters (32 or more is better)."
        )
    if key_bits(key) < MIN_KEY_BITS:
        raise ConfigurationError(
            f"{name} has too little entropy (about {key_bits(key):.0f} bits; at least "
            f"{MIN_KEY_BITS} needed): it repeats too few characters. Use the output of: "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def get_settings() -> Settings:
    """Read the settings now (no caching: tests and the CLI change the environment).

    Raises :class:`ConfigurationError` with one line per invalid variable.
    """
    try:
        return Settings()
    except (ValidationError, SettingsError) as error:
        raise configuration_error(error) from None


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
