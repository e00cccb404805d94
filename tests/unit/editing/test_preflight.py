"""Preflight (`newsletter check`, and before `send` and `send-test`): each problem it claims to
find is found in an issue built to have it, and `send` refuses on an error without sending."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.delivery import delivery_rows, outbox, subscribe
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner, Result

from newsletter import wiring
from newsletter.cli.main import app
from newsletter.editing.preflight import IssueSource, Report, preflight
from newsletter.rendering.templates import templates_dir
from newsletter.settings import get_settings

SAMPLE = SAMPLE_ISSUE.read_text("utf-8")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def issue_file(text: str, folder: Path = Path("issues"), date: str = "2022-09-07") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{date}.yaml"
    path.write_text(text, "utf-8")
    return path


def edited(changes: dict[int, str]) -> str:
    """The sample issue file with 1-based lines replaced."""
    lines = SAMPLE.split("\n")
    for number, line in changes.items():
        lines[number - 1] = line
    return "\n".join(lines)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def check(path: Path) -> Report:
    settings = get_settings()
    return preflight(
        IssueSource.read(path), wiring.renderer(settings), wiring.preflight_config(settings)
    )


def messages(report: Report, level: str) -> list[str]:
    return [str(f) for f in report.findings if f.level == level]


def minimal(date: str, arxiv_id: str) -> str:
    """A small valid issue with one featured paper."""
    return (
        f"date: {date}\ntitle: Digest {date}\ncategories:\n  LG: 机器学习\nfeatured:\n"
        f"- category: LG\n  title: Paper {arxiv_id}\n  authors: [A Author]\n"
        f"  abstract: An abstract.\n  url: https://arxiv.org/abs/{arxiv_id}\n"
    )


def test_the_sample_issue_has_no_errors() -> None:
    """The committed sample passes; its unused legend categories are warnings, and so is the
    postal address this test's settings lack."""
    report = check(issue_file(SAMPLE))
    assert report.errors == []
    assert [f.message.split(":")[0] for f in report.warnings] == [
        "categories.AS", "categories.RO", "NEWSLETTER_POSTAL_ADDRESS is not set"]
    assert set(report.sizes) >= {"zh:*", "en:*", "both:*", "zh:CV", "en:LG"}


def test_an_empty_category_is_a_warning_naming_it() -> None:
    """A legend category with no paper is named with its line."""
    path = issue_file(SAMPLE)
    warning = next(f for f in check(path).warnings if "categories.RO" in f.message)
    assert warning.where == f"{path}:{line_of(SAMPLE, '  RO:')}"
    assert "no paper in this issue is in RO" in warning.message


def test_a_todo_left_is_an_error_with_its_line() -> None:
    """A TODO in any text is an error at that line."""
    line = line_of(SAMPLE, "title_zh: 深度学习稀疏专家模型综述")
    text = edited({line: "  title_zh: 'TODO: 中文标题'"})
    path = issue_file(text)
    assert messages(check(path), "error") == [
        f"error: {path}:{line}: featured[1].title_zh: a TODO is left; fill it in"
    ]


@pytest.mark.parametrize(("arxiv_id", "why"), [
    ("2213.01947", "month 13 does not exist"),
    ("2200.01947", "month 00 does not exist"),
    ("2209.1947", "IDs from 2015 on have a 5-digit number"),
    ("1409.01947", "IDs before 2015 have a 4-digit number"),
    ("0612.1234", "new-style IDs start in April 2007"),
    ("2301.00001", "it is from 2023-01, after the issue's date"),
])
def test_arxiv_ids_that_cannot_exist_are_errors(arxiv_id: str, why: str) -> None:
    """A link to an arXiv ID no paper can have is an error naming the reason."""
    line = line_of(SAMPLE, "url: https://arxiv.org/abs/2209.01947")
    path = issue_file(edited({line: f"  url: https://arxiv.org/abs/{arxiv_id}"}))
    [error] = messages(check(path), "error")
    assert error.startswith(
        f"error: {path}:{line}: featured[0].url: {arxiv_id} cannot be an arXiv ID: "
    )
    assert why in error


def test_links_that_are_not_https_are_warnings() -> None:
    """A paper link written http://, an http:// link in a text, an http base URL: warnings."""
    url_line = line_of(SAMPLE, "url: https://arxiv.org/abs/2209.01667")
    footer_line = line_of(SAMPLE, "footer: ")
    path = issue_file(edited({
        url_line: "  url: http://arxiv.org/abs/2209.01667",
        footer_line: "footer: 版权问题请联系 http://example.org/contact",
    }))
    report = check(path)
    assert report.errors == []
    found = messages(report, "warning")
    assert (f"warning: {path}:{url_line}: featured[1].url: written as http://; "
            "write https://") in found
    assert (f"warning: {path}:{footer_line}: footer: the link http://example.org/contact is not "
            "https; use https://") in found
    assert not any("links in the email that are not https" in w for w in found)


def test_an_http_base_url_is_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links to our own pages over plain http are one warning, whatever the variant count."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "http://news.example.org")
    found = [w for w in messages(check(issue_file(SAMPLE)), "warning") if "http" in w]
    assert found == [
        "warning: issues/2022-09-07.yaml: NEWSLETTER_BASE_URL is http://news.example.org: "
        "unsubscribe links must be https:// for one-click unsubscribe (RFC 8058) to count with "
        "Gmail and Yahoo"
    ]


def test_http_on_this_machine_is_fine_but_other_http_links_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local http base URL passes; an http link a template adds is a warning naming it."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "http://127.0.0.1:8000")
    assert not [w for w in messages(check(issue_file(SAMPLE)), "warning") if "http" in w]
    email = copied_templates(tmp_path, monkeypatch)
    mjml = (email / "issue.mjml.j2").read_text("utf-8")
    assert "</mj-body>" in mjml
    (email / "issue.mjml.j2").write_text(mjml.replace(
        "</mj-body>",
        '<mj-raw><a href="http://example.net/logo">logo</a></mj-raw></mj-body>',
    ), "utf-8")
    found = [w for w in messages(check(issue_file(SAMPLE)), "warning") if "http" in w]
    assert found == [
        "warning: issues/2022-09-07.yaml: links in the email that are not https: "
        "http://example.net/logo"
    ]


def test_html_size_against_gmails_clip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the clipping point: abstracts will be cut (warning); near it: a warning; per variant."""
    monkeypatch.setenv("NEWSLETTER_SIZE_LIMIT_BYTES", "30000")
    monkeypatch.setenv("NEWSLETTER_SIZE_WARN_BYTES", "20000")
    path = issue_file(SAMPLE)
    report = check(path)
    assert report.errors == []
    both = next(f for f in report.warnings if f.where == f"{path} (both:*)")
    assert "over Gmail's clipping point (30,000): abstracts will be cut" in both.message
    zh = next(f for f in report.warnings if f.where == f"{path} (zh:*)")
    assert "close to Gmail's clipping point (30,000)" in zh.message
    assert report.sizes["both:*"] > 30000 > report.sizes["zh:*"] > 20000


@pytest.mark.slow
def test_an_issue_too_big_even_when_cut_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """When even the shortest abstracts do not fit, that variant is an error."""
    monkeypatch.setenv("NEWSLETTER_SIZE_LIMIT_BYTES", "5000")
    path = issue_file(SAMPLE)
    errors = check(path).errors
    assert f"{path} (both:*)" in {f.where for f in errors}
    assert all("even with abstracts cut to" in f.message for f in errors)


def test_a_paper_in_one_of_the_last_14_issues_is_named(tmp_path: Path) -> None:
    """A paper sent in one of the 14 issue files before this one is a warning; older ones not."""
    folder = tmp_path / "archive"
    # Sixteen earlier issues: the oldest two are out of range and repeat two of today's papers.
    for day in range(21, 37):
        date = f"2022-08-{day:02d}" if day <= 31 else f"2022-09-{day - 31:02d}"
        arxiv_id = {21: "2209.01667", 22: "2209.02535"}.get(day, f"2208.{day:05d}")
        issue_file(minimal(date, arxiv_id), folder, date)
    issue_file(minimal("2022-09-06", "2209.01947"), folder, "2022-09-06")
    issue_file(minimal("2022-09-08", "2209.02606"), folder, "2022-09-08")  # later: ignored
    path = issue_file(SAMPLE, folder)
    repeats = [w for w in messages(check(path), "warning") if "was already in" in w]
    line = line_of(SAMPLE, "url: https://arxiv.org/abs/2209.01947")
    assert repeats == [
        f"warning: {path}:{line}: featured[0].url: 2209.01947 was already in 2022-09-06.yaml "
        "(featured)"
    ]


def copied_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(templates_dir(), target)
    monkeypatch.setenv("NEWSLETTER_TEMPLATES_DIR", str(target))
    return target / "email"


def test_a_missing_plaintext_part_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates whose plaintext part is empty fail every variant."""
    email = copied_templates(tmp_path, monkeypatch)
    (email / "issue.txt.j2").write_text("{# nothing #}\n", "utf-8")
    path = issue_file(SAMPLE)
    errors = check(path).errors
    assert {f.message for f in errors} == {"the plaintext part is empty"}
    assert f"{path} (en:CV)" in {f.where for f in errors}


def test_a_plaintext_part_without_the_links_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plaintext part that lacks a paper's link is not the HTML's counterpart."""
    email = copied_templates(tmp_path, monkeypatch)
    text = (email / "issue.txt.j2").read_text("utf-8")
    (email / "issue.txt.j2").write_text(text.replace("{{ paper.url }}", ""), "utf-8")
    path = issue_file(SAMPLE)
    error = next(f for f in check(path).errors if f.where == f"{path} (en:CV)")
    assert error.message == (
        "the plaintext part lacks https://arxiv.org/abs/2209.01540, https://arxiv.org/abs/2209.02136"
    )


def test_an_empty_preheader_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Templates without the preview text give every variant an empty preheader."""
    email = copied_templates(tmp_path, monkeypatch)
    mjml = (email / "issue.mjml.j2").read_text("utf-8")
    block = "{{ preheader_block(preheader, preheader_padding) }}"
    assert block in mjml
    (email / "issue.mjml.j2").write_text(mjml.replace(block, ""), "utf-8")
    errors = check(issue_file(SAMPLE)).errors
    assert errors and {f.message for f in errors} == {
        "the preheader (the inbox preview text) is empty"
    }


def test_a_variant_with_only_notable_papers_has_a_preheader() -> None:
    """Readers of CV (only notable papers in the sample) get those titles as the preview."""
    from newsletter.issues.loader import load_issue
    from newsletter.rendering.renderer import Renderer
    from newsletter.vocabulary import Variant

    rendered = Renderer("https://news.example.org").render(
        load_issue(SAMPLE_ISSUE), Variant("en", frozenset({"CV"}))
    )
    assert rendered.preheader.startswith("An Empirical Study of End-to-End Video-Language")


@pytest.mark.parametrize(("line", "fix"), [
    ("  title: MO2: Model-Based Offline Options", "put the title in quotes ('...')"),
    ("\ttitle: 'MO2: Model-Based Offline Options'", "indent with spaces, not tabs"),
    ("  title: *MO2 Model-Based Offline Options", "a value starting with @, `, * or & must be "
                                                 "quoted"),
    ("  title: 'MO2: Model-Based Offline Options", "a quote opened on line 27 is not closed: "
                                                   "close it"),
])
def test_yaml_errors_name_line_and_column_and_the_fix(line: str, fix: str) -> None:
    """A syntax error is FILE:LINE:COLUMN with the usual fix for it."""
    number = line_of(SAMPLE, "title: 'MO2: Model-Based Offline Options'")
    path = issue_file(edited({number: line}))
    [error] = check(path).errors
    assert error.where.startswith(f"{path}:")
    _, shown_line, column = error.where.rsplit(":", 2)
    assert int(shown_line) >= number and int(column) >= 1
    assert error.message.startswith("not valid YAML: ")
    assert fix in error.message


def test_the_unquoted_title_error_points_at_the_colon() -> None:
    """The column of an unquoted `title: A: B` is the second colon's."""
    number = line_of(SAMPLE, "title: 'MO2: Model-Based Offline Options'")
    path = issue_file(edited({number: "  title: MO2: Model-Based Offline Options"}))
    [error] = check(path).errors
    assert error.where == f"{path}:{number}:13"
    assert error.message == (
        "not valid YAML: mapping values are not allowed here; a value containing ': ' must be "
        "quoted: put the title in quotes ('...')"
    )


def test_check_prints_sizes_and_exits_by_errors() -> None:
    """`check` prints each language's HTML size and the counts; exit 1 only on errors."""
    path = issue_file(SAMPLE)
    result = run("check", str(path))
    assert result.exit_code == 0, result.output
    assert "both:*" in result.stdout and "bytes of HTML" in result.stdout
    assert "0 error(s), 3 warning(s)" in result.stdout
    line = line_of(SAMPLE, "summary_zh: >-")
    issue_file(edited({line + 1: "    TODO: 翻译"}))
    result = run("check", "2022-09-07")
    assert result.exit_code == 1
    assert "featured[0].summary_zh: a TODO is left" in result.stderr
    assert "1 error(s), 3 warning(s)" in result.stderr


def test_send_refuses_on_a_preflight_error_and_sends_nothing(tmp_path: Path) -> None:
    """`send --yes` on an issue with a TODO exits 1 naming it; no campaign, no message."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 7)
    line = line_of(SAMPLE, "title_zh: 深度学习稀疏专家模型综述")
    path = issue_file(edited({line: "  title_zh: 'TODO: 中文标题'"}))
    result = run("send", str(path), "--yes")
    assert result.exit_code == 1
    assert f"{path}:{line}: featured[1].title_zh: a TODO is left" in result.stderr
    assert "nothing was sent" in result.stderr
    assert delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"]) == []
    assert outbox(tmp_path / "outbox") == []
    result = run("send-test", str(path), "--to", "editor@example.org")
    assert result.exit_code == 1 and "a TODO is left" in result.stderr
    assert outbox(tmp_path / "outbox") == []


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_send_shows_preflight_warnings_and_sends(tmp_path: Path) -> None:
    """Warnings do not stop a send; they are printed first."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 7)
    path = issue_file(SAMPLE)
    result = run("send", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "categories.RO" in result.stderr
    assert len(outbox(tmp_path / "outbox")) > 0


def test_the_issue_models_problems_are_errors() -> None:
    """What `validate` finds (here a category not in the legend) is a preflight error by line."""
    line = line_of(SAMPLE, "- category: CL")
    path = issue_file(edited({line: "- category: NLP"}))
    [error] = check(path).errors
    assert str(error) == (
        f"error: {path}:{line}: featured[2].category: 'NLP' is not in the category legend "
        "(AS, CL, CV, LG, RO); add it under categories or fix the code"
    )
