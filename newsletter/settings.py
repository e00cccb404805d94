"""Settings, read from ``NEWSLETTER_*`` environment variables and a ``.env`` file.

This is the only module that reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.errors import ConfigurationError

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
    editors: list[str] = Field(default_factory=list)
    transport: Literal["ses", "outbox"] | None = None
    outbox_dir: Path = Path("outbox")
    ses_region: str | None = None
    ses_endpoint_url: str | None = None
    ses_configuration_set: str | None = None
    max_send_rate: float = 14.0
    send_rate_headroom: float = 0.05
    send_concurrency: int = 0
    in_doubt_policy: Literal["skip", "resend"] = "skip"
    issues_dir: Path = Path("issues")
    templates_dir: Path | None = None
    size_warn_bytes: int = 90_000
    size_limit_bytes: int = 102_000
    sns_topic_arns: list[str] = Field(default_factory=list)

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

    def chosen_transport(self) -> Literal["ses", "outbox"]:
        """SES when configured (explicitly or by a region), else the local outbox."""
        if self.transport is not None:
            return self.transport
        return "ses" if self.ses_region else "outbox"


def get_settings() -> Settings:
    """Read the settings now (no caching: tests and the CLI change the environment)."""
    return Settings()
