"""The README's reverse-proxy examples send HSTS (issue #24, "Also"): browsers then never
try plain HTTP for the site again, so no network can strip a reader's links to http."""

from __future__ import annotations

import re

import pytest
from support.env import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def block(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)
    assert found, f"no {language} example in README.md"
    return "\n".join(found)


@pytest.mark.parametrize("language", ["nginx", "caddyfile"])
def test_the_proxy_example_sends_hsts_for_at_least_a_year(language: str) -> None:
    """Strict-Transport-Security with max-age of a year or more, in each example."""
    match = re.search(r"Strict-Transport-Security\W+max-age=(\d+)", block(language))
    assert match is not None, block(language)
    assert int(match.group(1)) >= 365 * 24 * 3600


def test_the_nginx_example_sends_it_on_every_answer_and_redirects_http() -> None:
    """nginx adds headers to 2xx/3xx only unless told `always`; plain HTTP is redirected."""
    nginx = block("nginx")
    assert re.search(r"add_header Strict-Transport-Security .* always;", nginx)
    assert "listen 80;" in nginx and "return 301 https://" in nginx
