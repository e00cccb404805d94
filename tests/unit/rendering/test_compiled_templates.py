"""Environments of one kind share compiled templates, keep their own globals, and compile
a template again once its source changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from newsletter.issues.loader import load_issue
from newsletter.rendering.compiled import SharedCompiledTemplates
from newsletter.rendering.renderer import Renderer


def environment(folder: Path, shared: SharedCompiledTemplates, root: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                             undefined=jinja2.StrictUndefined, bytecode_cache=shared)
    env.globals["root"] = root
    return env


def no_compiling(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("compiled again")


def test_a_second_environment_uses_the_first_ones_code_with_its_own_globals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "page.html.j2").write_text("<a href='{{ root }}/x'>{{ name }}</a>", "utf-8")
    shared = SharedCompiledTemplates()
    first = environment(tmp_path, shared, "/a")
    assert first.get_template("page.html.j2").render(name="<b>") == (
        "<a href='/a/x'>&lt;b&gt;</a>")
    second = environment(tmp_path, shared, "/b")
    monkeypatch.setattr(second, "compile", no_compiling)
    assert second.get_template("page.html.j2").render(name="<b>") == (
        "<a href='/b/x'>&lt;b&gt;</a>")


def test_an_edited_template_is_compiled_again(tmp_path: Path) -> None:
    page = tmp_path / "page.html.j2"
    page.write_text("old {{ root }}", "utf-8")
    shared = SharedCompiledTemplates()
    assert environment(tmp_path, shared, "/a").get_template("page.html.j2").render() == "old /a"
    page.write_text("new {{ root }}", "utf-8")
    assert environment(tmp_path, shared, "/a").get_template("page.html.j2").render() == "new /a"


def test_two_renderers_render_their_own_links_from_shared_code(
    sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = load_issue(sample_issue_path)
    first = Renderer("https://one.example.org").render(issue)
    second_renderer = Renderer("https://two.example.org")
    monkeypatch.setattr(second_renderer.env, "compile", no_compiling)
    second = second_renderer.render(issue)
    assert "https://one.example.org/" in first.html
    assert "https://two.example.org/" in second.html
    assert "https://one.example.org/" not in second.html
    assert second.html.replace("two.example.org", "one.example.org") == first.html
