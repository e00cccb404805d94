"""A send is planned once: the issue is read once and each variant rendered once."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.delivery import delivery_rows, subscribe
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.editing.preflight import variants
from newsletter.issues import loader
from newsletter.issues.loader import load_issue
from newsletter.rendering.renderer import RenderedIssue, Renderer
from newsletter.vocabulary import Variant


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every call of ``Renderer.render`` by variant key (the real method still runs)."""
    counted: Counter[str] = Counter()
    real = Renderer.render

    def counting(self: Renderer, issue: Any, variant: Variant = Variant(),
                 size_limit: int | None = None) -> RenderedIssue:
        counted[variant.key] += 1
        return real(self, issue, variant, size_limit)

    monkeypatch.setattr(Renderer, "render", counting)
    return counted


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every read of an issue file's text, by path."""
    counted: Counter[str] = Counter()
    real = loader.read_issue_text

    def counting(path: str | Path) -> str:
        counted[str(path)] += 1
        return real(path)

    monkeypatch.setattr(loader, "read_issue_text", counting)
    return counted


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_one_send_renders_each_variant_once_and_reads_the_issue_once(
    renders: Counter[str], reads: Counter[str], sample_issue_path: Path, tmp_path: Path
) -> None:
    """`newsletter send --yes` checks, plans and sends with one render per variant."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = subscribe(url, 21)
    os.environ["NEWSLETTER_OUTBOX_DIR"] = str(tmp_path / "outbox")

    result = CliRunner().invoke(app, ["send", str(sample_issue_path), "--yes"])

    assert result.exit_code == 0, result.output
    sent_variants = {str(row["variant"]) for row in delivery_rows(url)}
    assert len([r for r in readers if r.expects_issue]) == len(delivery_rows(url))
    checked = {v.key for v in variants(load_issue(sample_issue_path))}
    # Everything preflight judges and everything readers get was rendered...
    assert checked | sent_variants <= set(renders)
    assert sent_variants - checked  # (readers' own mixes, beyond the checked variants)
    # ...and nothing twice.
    assert {key: n for key, n in renders.items() if n > 1} == {}
    assert reads[str(sample_issue_path)] == 1


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_continuing_a_campaign_renders_only_what_is_left_once(
    renders: Counter[str], sample_issue_path: Path, tmp_path: Path
) -> None:
    """Running `send` again on a finished campaign renders each checked variant once more,
    and none of the readers' variants (nothing is left to send)."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    subscribe(url, 7)
    runner = CliRunner()
    assert runner.invoke(app, ["send", str(sample_issue_path), "--yes"]).exit_code == 0
    renders.clear()

    again = runner.invoke(app, ["send", str(sample_issue_path), "--yes"])

    assert again.exit_code == 0, again.output
    assert {key: n for key, n in renders.items() if n > 1} == {}
    assert set(renders) == {v.key for v in variants(load_issue(sample_issue_path))}
