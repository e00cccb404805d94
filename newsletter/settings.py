"""Settings, read from ``NEWSLETTER_*`` environment variables and a ``.env`` file.

This is the only module that reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Keys that must never protect a real deployment: documentation examples and the demo's.
KNOWN_DEFAULT_KEYS = frozenset({"", "change-me", "changeme", "secret", "dev", "demo", "insecure"})


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

    def chosen_transport(self) -> Literal["ses", "outbox"]:
        """SES when configured (explicitly or by a region), else the local outbox."""
        if self.transport is not None:
            return self.transport
        return "ses" if self.ses_region else "outbox"


def get_settings() -> Settings:
    """Read the settings now (no caching: tests and the CLI change the environment)."""
    return Settings()
