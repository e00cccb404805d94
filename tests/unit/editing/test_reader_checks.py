"""`newsletter check` warns about what readers would see (issue 18): a subject spam
filters read as shouting, Chinese where English readers would see it, a footer about
images the email does not have, and no postal address."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.env import SAMPLE_ISSUE

from newsletter import wiring
from newsletter.editing.preflight import IssueSource, Report, preflight
from newsletter.settings import get_settings

SAMPLE = SAMPLE_ISSUE.read_text("utf-8")
ADDRESS = "100 Example Road, Springfield"


@pytest.fixture(autouse=True)
def _address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", ADDRESS)


def check(text: str) -> Report:
    folder = Path("issues")
    folder.mkdir(exist_ok=True)
    path = folder / "2022-09-07.yaml"
    path.write_text(text, "utf-8")
    settings = get_settings()
    return preflight(IssueSource.read(path), wiring.renderer(settings),
                     wiring.preflight_config(settings))


def reader_warnings(report: Report) -> list[str]:
    """Warnings other than the sample's unused categories."""
    return [f"{f.where}: {f.message}" for f in report.warnings
            if not f.message.startswith("categories.") or "English" in f.message]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def test_the_sample_reads_well_to_every_reader() -> None:
    """The committed sample, with a postal address set, has none of these warnings."""
    assert reader_warnings(check(SAMPLE)) == []


def test_a_shouting_title_is_a_warning_at_its_line() -> None:
    """"AI" as the only Latin word among Han characters reads as all capitals."""
    text = SAMPLE.replace("title: arXiv AI 前沿论文速递", "title: AI 前沿论文速递")
    [warning] = reader_warnings(check(text))
    assert warning.startswith(f"issues/2022-09-07.yaml:{line_of(text, 'title: AI')}: title: ")
    assert "SUBJ_ALL_CAPS" in warning and "arXiv" in warning
    shouting_en = SAMPLE.replace("title_en: AI Paper Digest", "title_en: AI PAPER DIGEST")
    assert ["title_en:" in w for w in reader_warnings(check(shouting_en))] == [True]


def test_chinese_for_english_readers_is_a_warning() -> None:
    """Chinese in a field English readers see, a Chinese footer without footer_en and a
    category without an English name are each named."""
    text = SAMPLE.replace("title_en: AI Paper Digest", "title_en: AI 论文 Digest")
    text = text.replace("    en: Robotics\n", "")
    text = "\n".join(line for line in text.split("\n") if not line.startswith("footer_en:"))
    found = reader_warnings(check(text))
    assert any("title_en: English readers would see Chinese here" in w for w in found)
    assert any("categories.RO: no English name" in w for w in found)
    assert any("footer: Chinese, with no footer_en: English readers get no footer" in w
               for w in found)
    assert len(found) == 3


def test_a_footer_about_images_is_a_warning() -> None:
    """The digest's boilerplate footer speaks of images; the email has none."""
    text = SAMPLE.replace("如对本期内容有疑问或版权问题，请及时与我们联系。",
                          "内容中包含的图片若涉及版权问题,请及时与我们联系删除")
    [warning] = reader_warnings(check(text))
    assert "footer: speaks of images" in warning


def test_no_postal_address_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without NEWSLETTER_POSTAL_ADDRESS, check says what is missing and why."""
    monkeypatch.delenv("NEWSLETTER_POSTAL_ADDRESS")
    [warning] = reader_warnings(check(SAMPLE))
    assert "NEWSLETTER_POSTAL_ADDRESS is not set" in warning and "CAN-SPAM" in warning
