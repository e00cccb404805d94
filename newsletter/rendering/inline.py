"""Inline one constant stylesheet into many HTML documents, parsing the CSS only once.

:func:`inliner_for` picks the inliner: :class:`StyleInliner` for a stylesheet of element
names, classes and descendant selectors (ours), premailer for anything else an operator's
own templates may use (pseudo-classes, child and sibling combinators, attributes).

premailer parses and re-serialises its stylesheet through cssutils on every call, and
handles much we never use (external sheets, pseudo-classes, link rewriting). Our
stylesheet (``templates/email/issue.css``) is constant, so :class:`StyleInliner` parses
it once, compiles each selector to XPath once, and per document only matches, merges and
serialises. The result is what premailer produces byte for byte with the options the
renderer used (``strip_important=False``, ``remove_unset_properties=True``, no link
rewriting), except that the renderer's premailer also kept a copy of the whole stylesheet
in a ``<style>`` block (``keep_style_tags=True``); every rule in it is inlined, so that
copy only added 1.3 KB and is gone. ``tests/unit/rendering/test_inline.py`` compares the
two on every kind of email.

``<style>`` blocks already in the document (MJML's reset, our ``head.css``) are left as
they are and never inlined.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cssutils
from lxml import etree
from lxml.cssselect import CSSSelector

from newsletter.errors import RenderError

Declarations = tuple[tuple[str, str], ...]
# Crude specificity, as premailer computes it: elements are words at a selector's start
# or after a space.
_ELEMENT = re.compile(r"(^|\s)\w")
_SHORT_COLOUR = re.compile(r"^#([0-9a-f])([0-9a-f])([0-9a-f])$", re.I)

# cssutils logs every property it does not know (mso-*, -webkit-*) as a warning.
cssutils.log.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class _Rule:
    """One selector of one rule, with the declarations it sets and how strongly."""

    specificity: tuple[int, ...]
    selector: str
    declarations: Declarations


def _value(prop: cssutils.css.Property) -> str:
    value = str(prop.propertyValue.cssText).strip()
    return f"{value} !important" if prop.priority == "important" else value


def _declarations(properties: Sequence[cssutils.css.Property]) -> Declarations:
    """Declarations as premailer writes them: serialised, then parsed again by cssutils."""
    bulk = ";".join(
        f"{p.name}:{p.value}" + (" !important" if p.priority == "important" else "")
        for p in properties
    )
    return tuple((p.name.strip(), _value(p)) for p in cssutils.parseStyle(bulk, validate=False))


def parse_rules(css: str) -> list[_Rule]:
    """The rules of ``css``, most specific last; raises RenderError on what cannot be inlined."""
    return list(_parsed_rules(css))


@functools.lru_cache(maxsize=16)
def _parsed_rules(css: str) -> tuple[_Rule, ...]:
    # cssutils takes ~80 ms over issue.css, and every renderer parses the same text.
    rules: list[_Rule] = []
    for rule in cssutils.parseString(css, validate=False):
        if rule.type == rule.COMMENT:
            continue
        if rule.type != rule.STYLE_RULE:
            raise RenderError(
                f"cannot inline {rule.cssText[:60]!r}: only plain style rules can be; "
                "@media and other at-rules belong in head.css"
            )
        properties = list(rule.style.getProperties())
        normal = _declarations([p for p in properties if p.priority != "important"])
        important = _declarations([p for p in properties if p.priority == "important"])
        for selector in (s.strip() for s in rule.selectorText.split(",")):
            _compile(selector)  # refuses what the inliner cannot match
            counts = (selector.count("#"), selector.count("."), len(_ELEMENT.findall(selector)))
            for is_important, declarations in ((1, important), (0, normal)):
                if declarations:
                    rules.append(_Rule((is_important, *counts, len(rules)), selector, declarations))
    return tuple(sorted(rules, key=lambda r: r.specificity))


def _inline_pairs(style: str) -> Declarations:
    return tuple((p.name.strip(), _value(p)) for p in cssutils.parseStyle(style, validate=False))


def _basic_attributes(style: str) -> list[tuple[str, str]]:
    """HTML attributes that old clients read instead of CSS (premailer does the same)."""
    attributes: dict[str, str] = {}
    for declaration in style.split(";"):
        parts = declaration.split(":")
        if len(parts) != 2:
            continue
        key, value = parts[0].strip(), parts[1].strip()
        if key == "text-align":
            attributes["align"] = value
        elif key == "vertical-align":
            attributes["valign"] = value
        elif key == "background-color" and "transparent" not in value.lower():
            attributes["bgcolor"] = _SHORT_COLOUR.sub(r"#\1\1\2\2\3\3", value)
        elif key in ("width", "height"):
            attributes[key] = value.removesuffix("px")
    return list(attributes.items())


@dataclass(frozen=True)
class _Compound:
    """``tag.class1.class2`` (tag optional), the only selectors issue.css needs."""

    tag: str | None
    classes: frozenset[str]

    def matches_names(self, tag: str, classes: str) -> bool:
        if self.tag is not None and tag != self.tag:
            return False
        return not self.classes or self.classes <= set(classes.split())


_COMPOUND = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)?((?:\.[-_a-zA-Z0-9]+)*)$")


def _compile(selector: str) -> tuple[_Compound, ...]:
    """A descendant chain of compounds (``h2 a``, ``.nl-card p``); RenderError otherwise."""
    chain = []
    for part in selector.split():
        match = _COMPOUND.match(part)
        if not match or not part:
            raise RenderError(
                f"cannot inline the selector {selector!r}: issue.css may use element names, "
                "classes and descendant combinators only; put the rule in head.css"
            )
        tag, classes = match.group(1), match.group(2)
        chain.append(_Compound(tag.lower() if tag else None,
                               frozenset(c for c in classes.split(".") if c)))
    return tuple(chain)


_local = threading.local()


def _parser() -> etree.HTMLParser:
    """One HTML parser per thread: building one costs more than a small document's parse."""
    parser: etree.HTMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.HTMLParser()
    return parser


class StyleInliner:
    """Inlines the stylesheet given at construction into documents; reuse one for many.

    Each rule is indexed by the element name or a class of its last compound, so one pass
    over the candidate elements finds every match (descendant rules are checked against
    one XPath query each); the merged style of a combination of rules is computed once
    and reused for every element it applies to.
    """

    def __init__(self, css: str) -> None:
        rules = parse_rules(css)
        self.chains = [_compile(r.selector) for r in rules]
        self.selectors = [CSSSelector(r.selector) for r in rules]
        self.declarations = [r.declarations for r in rules]
        self.by_tag: dict[str, list[int]] = {}
        self.by_class: dict[str, list[int]] = {}
        for index, chain in enumerate(self.chains):
            last = chain[-1]
            if last.classes:
                self.by_class.setdefault(min(last.classes), []).append(index)
            elif last.tag:
                self.by_tag.setdefault(last.tag, []).append(index)
        tags = "|".join(f"//{tag}" for tag in sorted(self.by_tag))
        self.candidates = etree.XPath("|".join(filter(None, [tags, "//*[@class]"])))
        self._styles: dict[tuple[tuple[int, ...], str | None], tuple[str, list[tuple[str, str]]]]
        self._styles = {}
        self._by_element: dict[tuple[str, str], tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def _rules_for(self, tag: str, classes: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The rules an element of this tag and class attribute matches by itself (sorted),
        and the descendant rules it may match, which depend on its ancestors."""
        key = (tag, classes)
        if key not in self._by_element:
            found = set(self.by_tag.get(tag, ()))
            for name in classes.split():
                found.update(self.by_class.get(name, ()))
            fixed = {i for i in found if len(self.chains[i]) == 1}
            simple = tuple(
                sorted(i for i in fixed if self.chains[i][-1].matches_names(tag, classes))
            )
            nested = tuple(sorted(found - fixed))
            self._by_element[key] = (simple, nested)
        return self._by_element[key]

    def _style(self, rules: tuple[int, ...], own: str | None) -> tuple[str, list[tuple[str, str]]]:
        """The merged style attribute, and the HTML attributes it implies, for these rules."""
        key = (rules, own)
        if key not in self._styles:
            merged: dict[str, str] = {}
            for index in rules:
                merged.update(self.declarations[index])
            if own:
                merged.update(_inline_pairs(own))
            style = "; ".join(f"{k}:{v}" for k, v in merged.items() if v.lower() != "unset")
            self._styles[key] = (style, _basic_attributes(style))
        return self._styles[key]

    def inline(self, html: str) -> str:
        """``html`` with every rule written into the ``style`` attribute of what it matches.

        An element's own ``style`` wins over the stylesheet, and declarations whose value
        is ``unset`` are dropped. Raises RenderError when the HTML cannot be parsed.
        """
        stripped = html.strip()
        try:
            tree = etree.fromstring(stripped, _parser()).getroottree()
        except (etree.ParserError, ValueError) as err:
            raise RenderError(f"the compiled HTML could not be parsed: {err}") from err
        page = tree.getroot()
        # Descendant rules are matched by XPath, once per document and only if needed. The
        # matched elements are kept: lxml reuses a proxy (and so its id) only while alive.
        nested_matches: dict[int, set[int]] = {}
        alive: list[list[etree._Element]] = []
        for element in self.candidates(page):
            simple, nested = self._rules_for(element.tag, element.get("class", ""))
            rules = simple
            if nested:
                found = []
                for index in nested:
                    if index not in nested_matches:
                        alive.append(self.selectors[index](page))
                        nested_matches[index] = {id(e) for e in alive[-1]}
                    if id(element) in nested_matches[index]:
                        found.append(index)
                rules = tuple(sorted((*simple, *found))) if found else simple
            if not rules:
                continue
            style, attributes = self._style(rules, element.get("style"))
            if style:
                element.set("style", style)
            for name, value in attributes:
                element.set(name, value)
        root = tree if stripped.startswith(tree.docinfo.doctype) else page
        return str(etree.tostring(root, method="html", encoding="utf-8").decode("utf-8"))


class PremailerInliner:
    """premailer with the options the renderer needs: the general, slower inliner.

    MJML's own ``<style>`` blocks and our ``head.css`` are marked to be left alone, links
    are not rewritten, and nothing is fetched.
    """

    def __init__(self, css: str) -> None:
        self.css = css

    def inline(self, html: str) -> str:
        # Imported here: only an operator's own stylesheet needs it, and it loads requests
        # (~90 ms of every process's start-up).
        from premailer import Premailer

        marked = _STYLE_TAG.sub('<style data-premailer="ignore"', html)
        try:
            out = Premailer(
                marked, css_text=self.css, allow_network=False,
                allow_loading_external_files=False, disable_validation=True,
                keep_style_tags=False, strip_important=False, remove_unset_properties=True,
                cssutils_logging_level=logging.CRITICAL, disable_link_rewrites=True,
            ).transform(pretty_print=False)
        except Exception as err:  # premailer raises lxml's and its own errors alike
            raise RenderError(f"the CSS could not be inlined: {err}") from err
        # premailer drops the marker from real <style> elements only; inside Outlook's
        # conditional comments it stays behind as text.
        return str(out).replace(' data-premailer="ignore"', "")


_STYLE_TAG = re.compile(r"<style(?=[\s>])")
Inliner = StyleInliner | PremailerInliner


def inliner_for(css: str) -> Inliner:
    """The fast :class:`StyleInliner` when it can match every selector of ``css``, else premailer.

    Raises :class:`RenderError` only for CSS that neither can inline (an ``@media`` rule,
    which belongs in ``head.css``).
    """
    try:
        return StyleInliner(css)
    except RenderError as err:
        if "@media" in str(err) or "at-rules" in str(err):
            raise
        return PremailerInliner(css)
