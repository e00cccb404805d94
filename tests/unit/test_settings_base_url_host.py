"""NEWSLETTER_BASE_URL's host must be a host name or an IP address (issue #24, "Also").

Every link in pages, feeds and emails starts with it; a host with <>,"' in it would be
markup or a broken header everywhere.
"""

from __future__ import annotations

import pytest

from newsletter.errors import ConfigurationError
from newsletter.settings import get_settings


@pytest.mark.parametrize("value", [
    "https://ex<ample.org", "https://exa>mple.org/news", 'https://a"b.example.org',
    "https://a,b.example.org", "https://a'b.example.org", "https://a;b.example.org",
    "https://-bad.example.org", "https://bad-.example.org", "https://a..b.example.org",
    "https://" + "a" * 64 + ".example.org", "https://" + "a." * 130 + "org",
])
def test_a_host_that_is_no_host_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Refused with the variable named and what a host must be."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert str(raised.value).startswith("NEWSLETTER_BASE_URL=")
    assert "host" in str(raised.value)


@pytest.mark.parametrize(("value", "kept"), [
    ("https://news.example.org", "https://news.example.org"),
    ("https://News.Example.org/news/", "https://news.example.org/news"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("http://localhost:8000/x", "http://localhost:8000/x"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
    ("https://my_host.example.org", "https://my_host.example.org"),
])
def test_real_hosts_are_accepted(
    monkeypatch: pytest.MonkeyPatch, value: str, kept: str
) -> None:
    """Host names, IPv4 and IPv6 literals and IDNs (as punycode) pass."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", value)
    assert get_settings().base_url == kept
