"""One email to one person, outside an issue: confirmation, welcome, re-engagement, sign-in.

Each of these is rendered by its own mailer (its template, subject and links); this builds
the RFC 5322 message around the two parts, with the headers they all share. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from newsletter.mail.message import Sender, check_header


def transactional_message(
    sender: Sender, to: str, subject: str, when: dt.datetime, html: str, text: str, *,
    unsubscribe_url: str | None = None, reply_to: bool = True,
) -> bytes:
    """The complete message (CRLF line ends). ``unsubscribe_url`` makes it a list message:
    ``List-Id`` and RFC 8058 one-click ``List-Unsubscribe`` (with the sender's mailto, if
    any). ``reply_to`` adds the sender's Reply-To, when it has one. Raises
    ``HeaderInjectionError`` for a header value with a line break."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender.from_address
    msg["To"] = check_header("To", to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    # RFC 3834: sent by a program, not a person; discourages auto-replies.
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url is not None:
        msg["List-Id"] = check_header("List-Id", sender.list_id)
        mailto = (f", <mailto:{check_header('mailto', sender.unsubscribe_mailto)}"
                  "?subject=unsubscribe>" if sender.unsubscribe_mailto else "")
        msg["List-Unsubscribe"] = f"<{check_header('URL', unsubscribe_url)}>{mailto}"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if reply_to and sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg.as_bytes()
