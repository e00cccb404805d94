"""Issue 21's values: frequency, paper limit and follows, their text form and their limits."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.errors import InvalidPreferencesError
from newsletter.model.editions import (
    MAX_FOLLOWS,
    Follow,
    Frequency,
    ReaderPreferences,
    check_pause,
    parse_follows,
    parse_max_papers,
    parse_preferences,
)

WED = dt.date(2026, 12, 9)


def test_frequencies_read_and_write_the_csv_form() -> None:
    """daily, weekly:MON...SUN and paused:DATE read back to the same text, any case."""
    assert Frequency.parse("") == Frequency() and str(Frequency.parse("DAILY")) == "daily"
    weekly = Frequency.parse("weekly:wed")
    assert (weekly.kind, weekly.weekday, str(weekly)) == ("weekly", 2, "weekly:WED")
    paused = Frequency.parse(" paused:2026-12-09 ")
    assert paused.until == WED and str(paused) == "paused:2026-12-09"
    for bad in ("weekly", "weekly:XYZ", "paused:tomorrow", "monthly", "daily:MON"):
        with pytest.raises(InvalidPreferencesError, match="frequency"):
            Frequency.parse(bad)


def test_a_pause_ends_by_itself_on_its_day() -> None:
    """Paused until Wednesday: no daily issue on Tuesday, daily again from Wednesday; weekly
    readers get only the edition of their weekday."""
    paused = Frequency.parse("paused:2026-12-09")
    assert not paused.gets_daily(WED - dt.timedelta(days=1))
    assert paused.gets_daily(WED) and paused.gets_daily(WED + dt.timedelta(days=3))
    weekly = Frequency.parse("weekly:WED")
    assert not weekly.gets_daily(WED) and weekly.gets_weekly(WED)
    assert not weekly.gets_weekly(WED + dt.timedelta(days=1))
    assert Frequency().gets_daily(WED) and not Frequency().gets_weekly(WED)


def test_a_form_may_not_pause_into_the_past_or_for_years() -> None:
    """The reader's form refuses a pause ending today or earlier, or over a year ahead."""
    check_pause(Frequency.parse("paused:2026-12-10"), WED)
    with pytest.raises(InvalidPreferencesError, match="after today"):
        check_pause(Frequency.parse("paused:2026-12-09"), WED)
    with pytest.raises(InvalidPreferencesError, match="at most a year"):
        check_pause(Frequency.parse("paused:2028-01-01"), WED)


def test_max_papers_is_all_or_a_small_fixed_set() -> None:
    """Empty or "all" is every paper; 10, 5 and 3 are kept; anything else is refused."""
    assert parse_max_papers("") is None and parse_max_papers("All") is None
    assert [parse_max_papers(n) for n in ("10", "5", " 3 ")] == [10, 5, 3]
    for bad in ("4", "0", "-3", "ten", "100"):
        with pytest.raises(InvalidPreferencesError, match="max_papers"):
            parse_max_papers(bad)


def test_follows_read_keywords_authors_and_affiliations() -> None:
    """``;``-separated (also the full-width ；), kinds by prefix, repeats (any case) dropped,
    spaces squeezed, Chinese kept."""
    follows = parse_follows(
        "diffusion; author:Kaiming  He;affiliation: Tsinghua University；扩散模型; DIFFUSION"
    )
    assert follows == (
        Follow("keyword", "diffusion"),
        Follow("author", "Kaiming He"),
        Follow("affiliation", "Tsinghua University"),
        Follow("keyword", "扩散模型"),
    )
    assert str(follows[1]) == "author:Kaiming He"
    assert parse_follows("") == () and parse_follows(" ; ;") == ()


def test_follows_have_limits_and_clear_errors() -> None:
    """Too many, too long, an empty name or a control character: refused, naming why."""
    with pytest.raises(InvalidPreferencesError, match=f"at most {MAX_FOLLOWS}"):
        parse_follows(";".join(f"k{n}" for n in range(MAX_FOLLOWS + 1)))
    with pytest.raises(InvalidPreferencesError, match="longer than 80"):
        parse_follows("x" * 81)
    with pytest.raises(InvalidPreferencesError, match="names nothing"):
        parse_follows("author:  ")
    with pytest.raises(InvalidPreferencesError, match="control character"):
        Follow.parse("a\x07b")


def test_preferences_round_trip_through_their_cells() -> None:
    """The three CSV cells written from preferences read back to the same preferences."""
    prefs = parse_preferences("weekly:FRI", "5", "author:Yann LeCun; 图神经网络; affiliation:MIT")
    again = parse_preferences(str(prefs.frequency), prefs.max_papers_cell(), prefs.follows_cell())
    assert again == prefs and not prefs.is_default
    assert parse_preferences("", "", "") == ReaderPreferences()
    assert ReaderPreferences().is_default
