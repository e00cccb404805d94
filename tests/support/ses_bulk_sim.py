"""SendBulkEmail for the loopback SES simulator (``ses_sim.py``): templates rendered and
messages built as SES documents it.

- ``DefaultContent.Template.TemplateContent`` (an inline template) is rendered per entry
  with the entry's ``ReplacementTemplateData`` (else the template's ``TemplateData``) by
  the Handlebars rules SES uses for templates: ``{{{name}}}`` is the value as it is,
  ``{{name}}`` the value HTML-escaped (``& < > " ' ` =``), a backslash before ``{{``
  escapes it (``\\\\{{`` is one backslash and a placeholder). A name missing from the data,
  or any other ``{{`` construct (helpers, blocks, partials, comments), is a rendering
  failure: this simulator supports no helpers, so content must not depend on them.
- The template's ``Headers`` go on every message; an entry's ``ReplacementHeaders`` take
  precedence over a template header of the same name, or are added.
- Each entry's ``ReplacementTags`` (else ``DefaultEmailTags``) are the message's tags.

``render_message`` builds the MIME message SES would send (From, To, Subject, Date, its
own Message-ID, headers, text and HTML as multipart/alternative), for tests to parse.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

MAX_ENTRIES = 50
_MUSTACHE = re.compile(r"(\\*)\{\{(\{?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\}?)\}\}")
_OPEN = re.compile(r"(\\*)\{\{")


class RenderingFailure(Exception):
    """The template could not be rendered with an entry's data."""


def render(template: str, data: dict[str, Any]) -> str:
    """``template`` with ``data`` by the Handlebars rules above."""
    out: list[str] = []
    at = 0
    while True:
        found = _OPEN.search(template, at)
        if found is None:
            out.append(template[at:])
            return "".join(out)
        slashes = len(found.group(1))
        out.append(template[at : found.start()])
        if slashes == 1:
            # ``\{{`` is an escaped mustache: literal text up to the next one.
            nxt = _OPEN.search(template, found.end())
            stop = nxt.start() if nxt is not None else len(template)
            out.append(template[found.start() + 1 : stop])
            at = stop
            continue
        if slashes >= 2:
            out.append("\\" * (slashes - 1))  # ``\\{{``: one backslash less, then a mustache
        mustache = _MUSTACHE.match(template, found.start() + slashes)
        if mustache is None or (mustache.group(2) == "{") != (mustache.group(4) == "}"):
            snippet = template[found.start() : found.start() + 40]
            raise RenderingFailure(f"unsupported template construct near {snippet!r}")
        name = mustache.group(3)
        if name not in data:
            raise RenderingFailure(f"Attribute '{name}' is not present in the rendering data")
        value = str(data[name])
        raw = mustache.group(2) == "{"
        out.append(value if raw else _escape(value))
        at = mustache.end()


def _escape(value: str) -> str:
    """Handlebars.js's escapeExpression: & < > " ' ` =."""
    return html.escape(value, quote=True).replace("`", "&#x60;").replace("=", "&#x3D;")


@dataclass(frozen=True)
class Rendered:
    """One message SES made from a bulk entry."""

    message_id: str
    to: list[str]
    raw: bytes
    tags: dict[str, str]


def _pairs(items: list[dict[str, str]] | None) -> list[tuple[str, str]]:
    return [(str(i["Name"]), str(i["Value"])) for i in items or []]


def render_message(
    request: dict[str, Any], entry: dict[str, Any], data: dict[str, Any]
) -> Rendered:
    """The message SES would send for ``entry`` of a SendBulkEmail ``request``."""
    template = request["DefaultContent"]["Template"]
    content = template["TemplateContent"]
    destination = entry.get("Destination") or {}
    to = list(destination.get("ToAddresses", []))
    message = EmailMessage()
    message["From"] = request["FromEmailAddress"]
    message["To"] = ", ".join(to)
    message["Subject"] = render(content.get("Subject", ""), data)
    message["Date"] = formatdate(usegmt=True)
    message_id = f"sim-{uuid.uuid4().hex}"
    message["Message-ID"] = f"<{message_id}@email.amazonses.com>"
    headers = dict(_pairs(template.get("Headers")))
    replaced = _pairs(entry.get("ReplacementHeaders"))
    headers.update(replaced)
    for name, value in headers.items():
        message[name] = value
    text = render(content.get("Text", ""), data)
    body = render(content.get("Html", ""), data)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(body, subtype="html", charset="utf-8")
    tags = dict(_pairs(entry.get("ReplacementTags") or request.get("DefaultEmailTags")))
    return Rendered(message_id, [a.lower() for a in to], message.as_bytes(), tags)


def entry_data(template: dict[str, Any], entry: dict[str, Any]) -> str:
    """The template data of an entry: its replacement data, else the template's."""
    replacement = (entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}
    data = replacement.get("ReplacementTemplateData") or template.get("TemplateData") or "{}"
    return str(data)
