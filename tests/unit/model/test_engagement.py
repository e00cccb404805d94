"""Which paper or page a click leads to, and which opens machines made."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.model.engagement import Engagement, classify_link, is_machine_open

BASE = "https://news.example.org/digest"
T0 = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("url", "kind", "key"), [
    ("https://arxiv.org/abs/2209.01234", "paper", "2209.01234"),
    ("https://arxiv.org/abs/2209.01234v3", "paper", "2209.01234"),
    ("http://arxiv.org/pdf/2209.01234v2.pdf", "paper", "2209.01234"),
    ("https://arxiv.org/pdf/2209.01234", "paper", "2209.01234"),
    ("https://arxiv.org/html/2209.01234v1/", "paper", "2209.01234"),
    ("https://export.arxiv.org/abs/hep-th/9901001v2", "paper", "hep-th/9901001"),
    ("https://www.arxiv.org/abs/math.GT/0309136", "paper", "math.GT/0309136"),
    ("https://arxiv.org/list/cs.LG/recent", "other", "arxiv.org/list/cs.LG/recent"),
    ("https://arxiv.org.evil.example/abs/2209.01234", "other",
     "arxiv.org.evil.example/abs/2209.01234"),
    (f"{BASE}/preferences/0000000000ab.AbCdEf.sig", "preferences", "preferences"),
    (f"{BASE}/unsubscribe/0000000000ab.AbCdEf.sig", "unsubscribe", "unsubscribe"),
    (f"{BASE}/archive/2022-09-07/?utm=x", "archive", "news.example.org/digest/archive/2022-09-07/"),
    ("https://github.com/org/repo?ref=digest", "other", "github.com/org/repo"),
])
def test_links_are_told_apart_by_paper_and_page(url: str, kind: str, key: str) -> None:
    link = classify_link(url, BASE)
    assert (link.kind, link.key) == (kind, key)


def test_per_reader_tokens_never_become_link_keys() -> None:
    a = classify_link(f"{BASE}/preferences/AAAA", BASE)
    b = classify_link(f"{BASE}/preferences/BBBB", BASE)
    assert a == b


def test_machine_opens_by_flag_timing_and_proxy_agent() -> None:
    second = dt.timedelta(seconds=1)
    assert is_machine_open("anything", T0 + second, T0, flagged=True)
    assert is_machine_open("Mozilla/5.0 (iPhone) Mobile", T0 + second, T0)  # too fast to read
    assert is_machine_open("Mozilla/5.0", T0 + 40 * second, T0)  # Apple's proxy on arrival
    assert not is_machine_open("Mozilla/5.0", T0 + 3600 * second, T0)  # the reader, later
    assert not is_machine_open("Mozilla/5.0 (iPhone) Mobile/15E148", T0 + 40 * second, T0)
    assert not is_machine_open("Mozilla/5.0", T0 + 40 * second, None)  # no delivery time


def test_a_reader_open_takes_the_delivery_out_of_the_machine_only_count() -> None:
    machine = Engagement(machine_opened_at=T0)
    both = Engagement(machine_opened_at=T0, opened_at=T0)
    assert (machine.flags()["opened_machine"], machine.flags()["opened_unique"]) == (1, 0)
    assert (both.flags()["opened_machine"], both.flags()["opened_unique"]) == (0, 1)
