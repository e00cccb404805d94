"""Settings, read from ``NEWSLETTER_*`` environment variables and a ``.env`` file.

This is the only module that reads the environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from newsletter.errors import ConfigurationError
from newsletter.vocabulary import InDoubtPolicy

# Keys that must never protect a real deployment: documentation examples and the demo's.
KNOWN_DEFAULT_KEYS = frozenset({"", "change-me", "changeme", "secret", "dev", "demo", "insecure"})
MIN_KEY_LENGTH = 16


class Settings(BaseSettings):
    """Every setting of the system; the README documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///newsletter.db"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("")
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
    # Lets tests fetch an SNS signing certificate over http from this loopback host:port.
    sns_cert_host_for_tests: str | None = None
    sqs_queue_url: str | None = None
    sqs_endpoint_url: str | None = None
    reconcile_after: int = Field(900, ge=0)
    soft_bounce_limit: int = Field(3, ge=1)
    max_bounce_rate: float = Field(0.04, gt=0, le=1)
    max_complaint_rate: float = Field(0.0008, gt=0, le=1)

    @field_validator("editors", "sns_topic_arns", mode="before")
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
        """Links in every page and email are built from it, so it must be a whole URL."""
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an absolute http:// or https:// URL, e.g. https://news.example.org"
            )
        if parts.query or parts.fragment or value.strip().endswith(("?", "#")):
            raise ValueError("must not have a ?query or #fragment; links are appended to it")
        return value.strip().rstrip("/")

    def signing_key(self) -> str:
        """The key that signs tokens; :class:`ConfigurationError` unless it is safe to use.

        Refused: unset, a well-known example value, or shorter than :data:`MIN_KEY_LENGTH`.
        """
        key = self.secret_key.get_secret_value()
        if not key:
            raise ConfigurationError(
                "NEWSLETTER_SECRET_KEY is not set; set it to a long random value, e.g. the "
                'output of: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        if key.strip().lower() in KNOWN_DEFAULT_KEYS:
            raise ConfigurationError(
                "NEWSLETTER_SECRET_KEY is a well-known example value; anyone could forge "
                "unsubscribe and confirmation links. Set it to a long random value."
            )
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigurationError(
                f"NEWSLETTER_SECRET_KEY is {len(key)} characters long; use at least "
                f"{MIN_KEY_LENGTH} random characters (32 or more is better)."
            )
        return key

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


def get_settings() -> Settings:
    """Read the settings now (no caching: tests and the CLI change the environment).

    Raises :class:`ConfigurationError` with one line per invalid variable.
    """
    try:
        return Settings()
    except (ValidationError, SettingsError) as error:
        raise configuration_error(error) from None


# Values never echoed back in an error message.
_SECRET_FIELDS = frozenset({"secret_key", "database_url"})
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
