"""get_settings() reads again whenever what it reads changes: a NEWSLETTER_ variable (in
either case), the ./.env file, or the folder it is run from; each caller gets its own copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.errors import ConfigurationError
from newsletter.settings import get_settings


def test_a_changed_variable_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://one.example.org")
    assert get_settings().base_url == "https://one.example.org"
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://two.example.org")
    assert get_settings().base_url == "https://two.example.org"
    monkeypatch.delenv("NEWSLETTER_BASE_URL")
    assert get_settings().base_url == "http://127.0.0.1:8000"


def test_a_lower_case_variable_counts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().max_send_rate == 14.0
    monkeypatch.setitem(os.environ, "newsletter_max_send_rate", "3")
    assert get_settings().max_send_rate == 3.0


def test_an_edited_dotenv_is_read_again(tmp_path: Path) -> None:
    assert get_settings().postal_address is None
    dotenv = tmp_path / ".env"
    dotenv.write_text("NEWSLETTER_POSTAL_ADDRESS=1 Main St\n", "utf-8")
    assert get_settings().postal_address == "1 Main St"
    dotenv.write_text("NEWSLETTER_POSTAL_ADDRESS=2 Side St\n", "utf-8")
    assert get_settings().postal_address == "2 Side St"
    dotenv.unlink()
    assert get_settings().postal_address is None


def test_another_folder_reads_its_own_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / ".env").write_text(f"NEWSLETTER_POSTAL_ADDRESS={name}\n", "utf-8")
    monkeypatch.chdir(tmp_path / "a")
    assert get_settings().postal_address == "a"
    monkeypatch.chdir(tmp_path / "b")
    assert get_settings().postal_address == "b"


def test_a_bad_value_is_refused_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "0")
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="NEWSLETTER_MAX_SEND_RATE"):
            get_settings()


def test_each_caller_gets_its_own_copy() -> None:
    first, second = get_settings(), get_settings()
    assert first == second
    assert first is not second
    first.title_en = "changed"
    assert get_settings().title_en != "changed"
