"""Paths, constants and small helpers shared by tests (imported as ``support.env``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ISSUE = ROOT / "issues" / "2022-09-07.yaml"
SES_SIM = ROOT / "tests" / "support" / "ses_sim.py"
TEST_SECRET = "test-secret-key-070e317f7717c7082cd5db78"


@dataclass(frozen=True)
class WebServer:
    """A running ``newsletter serve``: where it listens, its outbox and its database."""

    url: str
    outbox: Path
    database_url: str
    pid: int = 0



def use_loopback_ses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    """Settings choose SES at ``url`` (a server on 127.0.0.1), with dummy credentials only."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "NEWSLETTER_TRANSPORT": "ses", "NEWSLETTER_SES_REGION": "us-east-1",
        "NEWSLETTER_SES_ENDPOINT_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
