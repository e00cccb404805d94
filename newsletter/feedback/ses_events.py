"""SES's two JSON formats, normalised into our own :class:`SesEvent`.

SES reports on a message in two ways: identity notifications (``notificationType``:
Bounce, Complaint, Delivery) and configuration-set event publishing (``eventType``: Send,
Delivery, Bounce, Complaint, Reject, DeliveryDelay, Rendering Failure, Open, Click,
Subscription). Both become a ``SesEvent`` here, with the raw payload kept on it (as
django-anymail does), so nothing past this module reads SES's JSON.

An event names our delivery by the SES tag ``nl_delivery`` every send carries (configuration
set events only), else by our ``X-Newsletter-Delivery`` header (``mail.message``), else only
by SES's message id, which the store matches against ``deliveries.provider_id``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from newsletter.errors import SesEventError
from newsletter.model.events import (
    CAMPAIGN_TAG,
    DELIVERY_HEADER,
    DELIVERY_TAG,
    EventKind,
    SesEvent,
)

KINDS: dict[str, EventKind] = {
    "send": "send", "delivery": "delivery", "bounce": "bounce", "complaint": "complaint",
    "reject": "reject", "deliverydelay": "delivery_delay", "rendering failure":
    "rendering_failure", "renderingfailure": "rendering_failure", "open": "open",
    "click": "click", "subscription": "subscription",
}
MAX_DEPTH = 32


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply ``value`` nests (iteratively; stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            return level
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def load_json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object no deeper than ``MAX_DEPTH``; :class:`SesEventError` otherwise."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise SesEventError(f"{what} is not JSON") from err
    if not isinstance(data, dict):
        raise SesEventError(f"{what} is not a JSON object")
    # Each level opens a bracket: a text with few of them (most events) needs no walk.
    if _brackets(text) > MAX_DEPTH and depth(data) > MAX_DEPTH:
        raise SesEventError(f"{what} nests deeper than {MAX_DEPTH} levels")
    return data


def _brackets(text: str | bytes) -> int:
    """Opening brackets in ``text`` (those in strings too): at least its nesting depth."""
    if isinstance(text, bytes):
        return text.count(b"{") + text.count(b"[")
    return text.count("{") + text.count("[")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def is_ses_event(data: Mapping[str, Any]) -> bool:
    """Whether a JSON object is an SES notification or event (rather than an SNS envelope)."""
    return "notificationType" in data or "eventType" in data


def parse_ses_event(message: str | bytes) -> SesEvent:
    """Normalise one SES notification or event (JSON text); raises :class:`SesEventError`."""
    return event_from(load_json_object(message, "the SES notification"))


def event_from(data: Mapping[str, Any]) -> SesEvent:
    """Normalise an already parsed SES notification or event."""
    name = str(data.get("eventType") or data.get("notificationType") or "")
    kind = KINDS.get(name.lower(), "other")
    mail = _obj(data.get("mail"))
    section = _obj(data.get(_SECTIONS.get(kind, ""), {}))
    recipients = _recipients(kind, section, mail)
    bounce_type = str(section.get("bounceType", "")) if kind == "bounce" else ""
    delivery_id, campaign = _ours(mail)
    message_id = mail.get("messageId")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return SesEvent(
        kind=kind,
        key=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ses_message_id=str(message_id) if isinstance(message_id, str) and message_id else None,
        delivery_id=delivery_id,
        campaign=campaign,
        recipients=recipients,
        bounce_type=bounce_type[:16],
        detail=_detail(kind, name, section)[:2000],
        occurred_at=_when(section.get("timestamp")) or _when(mail.get("timestamp")),
        machine=_machine(kind, section),
        raw=data,
    )


_SECTIONS: dict[str, str] = {
    "send": "send", "delivery": "delivery", "bounce": "bounce", "complaint": "complaint",
    "reject": "reject", "delivery_delay": "deliveryDelay", "rendering_failure": "failure",
    "open": "open", "click": "click", "subscription": "subscription",
}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _addresses(items: Any) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        str(item["emailAddress"])
        for item in items
        if isinstance(item, dict) and isinstance(item.get("emailAddress"), str)
    )


def _strings(items: Any) -> tuple[str, ...]:
    return tuple(str(i) for i in items if isinstance(i, str)) if isinstance(items, list) else ()


def _recipients(kind: str, section: dict[str, Any], mail: dict[str, Any]) -> tuple[str, ...]:
    if kind == "bounce":
        return _addresses(section.get("bouncedRecipients"))
    if kind == "complaint":
        return _addresses(section.get("complainedRecipients"))
    if kind == "delivery_delay":
        return _addresses(section.get("delayedRecipients"))
    if kind == "delivery":
        return _strings(section.get("recipients")) or _strings(mail.get("destination"))
    return _strings(mail.get("destination"))


def _ours(mail: dict[str, Any]) -> tuple[int | None, str | None]:
    """Our delivery id and campaign tag: from SES tags first, then our header."""
    tags = _obj(mail.get("tags"))
    delivery_id = _int(_first(tags.get(DELIVERY_TAG)))
    campaign = _first(tags.get(CAMPAIGN_TAG))
    if delivery_id is None:
        headers = mail.get("headers")
        for header in headers if isinstance(headers, list) else []:
            if isinstance(header, dict) and str(header.get("name", "")).lower() == DELIVERY_HEADER:
                # The header says "{campaign id}.{delivery id}".
                delivery_id = _int(str(header.get("value", "")).rpartition(".")[2])
                break
    return delivery_id, campaign


def _first(value: Any) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else None


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 18:
        return None
    return int(value.strip())


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _machine(kind: str, section: dict[str, Any]) -> bool:
    # SES flags opens it attributes to automated fetching (privacy proxies, scanners).
    if kind != "open":
        return False
    return bool(section.get("machineOpen") or section.get("isMachineOpen"))


def _detail(kind: str, name: str, section: dict[str, Any]) -> str:
    if kind == "bounce":
        bounced = section.get("bouncedRecipients")
        diagnostics = [
            str(r.get("diagnosticCode", ""))
            for r in (bounced if isinstance(bounced, list) else [])
            if isinstance(r, dict) and r.get("diagnosticCode")
        ]
        text = f"{section.get('bounceType', '')}/{section.get('bounceSubType', '')}"
        return f"{text}: {diagnostics[0]}" if diagnostics else text
    if kind == "complaint":
        return str(section.get("complaintFeedbackType") or "complaint")
    if kind == "reject":
        return str(section.get("reason") or "rejected")
    if kind == "delivery_delay":
        return str(section.get("delayType") or "delayed")
    if kind == "rendering_failure":
        return str(section.get("errorMessage") or "rendering failure")
    if kind == "click":
        return str(section.get("link") or "")
    if kind == "open":
        return str(section.get("userAgent") or "")
    if kind == "delivery":
        return str(section.get("smtpResponse") or "delivered")
    return name.lower() or "unknown"
