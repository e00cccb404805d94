"""SES v2 ``SendBulkEmail``: one variant's inline template, up to 50 readers per call.

Request building and answer parsing are pure; botocore's errors of the whole call become
ours through ``transports.ses.translate``, and each entry's status becomes a message id or
one of our errors by the table below (the same classes, so the engine applies the same
rules to an entry as to a single send).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from newsletter.errors import (
    AccountPausedError,
    InDoubtTransportError,
    PermanentTransportError,
    TransportError,
)
from newsletter.model.bulk import BulkContent, BulkEntry, Pairs
from newsletter.transports.bulk import EntryResult, Ready, hold
from newsletter.transports.ses import SesTransport, classify_client_error, translate

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

# SES's limit of entries per SendBulkEmail call.
MAX_ENTRIES = 50
ENTRIES = "BulkEmailEntries"
RESULTS = "BulkEmailEntryResults"

# Entry status -> (the error code it stands for, HTTP status) for classify_client_error.
ENTRY_STATUS: dict[str, tuple[str, int]] = {
    "MESSAGE_REJECTED": ("MessageRejected", 400),
    "MAIL_FROM_DOMAIN_NOT_VERIFIED": ("MailFromDomainNotVerifiedException", 400),
    "ACCOUNT_SUSPENDED": ("AccountSuspendedException", 400),
    "ACCOUNT_SENDING_PAUSED": ("SendingPausedException", 400),
    "ACCOUNT_THROTTLED": ("TooManyRequestsException", 429),
    "INVALID_PARAMETER": ("BadRequestException", 400),
    "TRANSIENT_FAILURE": ("TransientFailure", 500),
    "FAILED": ("Failed", 500),
}
# Statuses that refuse every reader alike: the campaign pauses with the reason.
ACCOUNT_STATUS = frozenset(
    {
        "CONFIGURATION_SET_NOT_FOUND",
        "CONFIGURATION_SET_SENDING_PAUSED",
        "TEMPLATE_NOT_FOUND",
        "INVALID_SENDING_POOL_NAME",
    }
)


def _pairs(pairs: Pairs) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in pairs]


def build_bulk_request(
    content: BulkContent, entries: Sequence[BulkEntry], configuration_set: str | None
) -> dict[str, Any]:
    """The SendBulkEmail parameters: the content once, one small entry per reader (pure)."""
    template: dict[str, Any] = {
        "TemplateContent": {"Subject": content.subject, "Text": content.text,
                            "Html": content.html},
        "TemplateData": content.defaults,
    }
    if content.headers:
        template["Headers"] = _pairs(content.headers)
    request: dict[str, Any] = {
        "FromEmailAddress": content.from_address,
        "DefaultContent": {"Template": template},
        "BulkEmailEntries": [
            {
                "Destination": {"ToAddresses": [entry.to]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": entry.data}
                },
                "ReplacementHeaders": _pairs(entry.headers),
                "ReplacementTags": _pairs(entry.tags),
            }
            for entry in entries
        ],
    }
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    return request


def entry_result(result: dict[str, Any], to: str) -> EntryResult:
    """One ``BulkEmailEntryResult`` as a message id or our error (pure)."""
    status = str(result.get("Status") or "")  # a null member is absent, as botocore reads it
    message = str(result.get("Error") or status or "no status")
    if status == "SUCCESS":
        message_id = result.get("MessageId")
        if isinstance(message_id, str) and message_id:
            return message_id
        return InDoubtTransportError(f"SES said SUCCESS for {to} without a MessageId")
    if status == "ACCOUNT_DAILY_QUOTA_EXCEEDED":
        return classify_client_error("LimitExceededException", 400,
                                     f"daily message quota exceeded: {message}", to)
    if status in ACCOUNT_STATUS:
        return AccountPausedError(f"SES will not send for this account: {status}: {message}")
    code, http = ENTRY_STATUS.get(status, ("Failed", 500))
    return classify_client_error(code, http, message, to)


def parse_bulk_response(
    response: dict[str, Any], entries: Sequence[BulkEntry]
) -> list[EntryResult]:
    """Each entry's result, in order; an entry SES gave no result for is in doubt (pure)."""
    results = response.get(RESULTS)
    if not isinstance(results, list):
        raise InDoubtTransportError(f"SES answered SendBulkEmail without results: {response!r}")
    out: list[EntryResult] = []
    for n, entry in enumerate(entries):
        if n < len(results) and isinstance(results[n], dict):
            out.append(entry_result(results[n], entry.to))
        else:
            out.append(InDoubtTransportError(f"SES gave no result for {entry.to}"))
    return out


def call_error(err: ClientError | BotoCoreError, entries: Sequence[BulkEntry],
               region: str | None, endpoint: str | None) -> TransportError:
    """Our error for a failed call: a refusal naming one of its readers is theirs (the
    sandbox's unverified recipient), one naming other identities is the sender's."""
    text = str(err).lower()
    named = next((e.to for e in entries if e.to.lower() in text), None)
    if named is not None and isinstance(err, ClientError):
        return PermanentTransportError(f"SES refused the call because of {named}: {err}")
    # "\0" names no reader: a MessageRejected that names identities names the sender's.
    return translate(err, "\0", region=region, endpoint=endpoint)


def json_head(request: dict[str, Any]) -> bytes:
    """The JSON body of ``request`` without its entries, open for them (pure): what
    botocore's rest-json serializer writes (``json.dumps`` of the parameters as given:
    every member is a plain string, list or structure)."""
    rest = {name: value for name, value in request.items() if name != ENTRIES}
    return json.dumps(rest).encode()[:-1] + (b", " if rest else b"")


def json_body(head: bytes, entries: list[dict[str, Any]]) -> bytes:
    """``json_head``'s body completed with the call's entries (pure)."""
    return head + b'"' + ENTRIES.encode() + b'": ' + json.dumps(entries).encode() + b"}"


def take_results(response_dict: dict[str, Any], customized: dict[str, Any]) -> None:
    """A successful answer's entry results read from its JSON as they are, before botocore
    parses it (its ``before-parse`` event): botocore's parser then reads an empty body.

    botocore walked the answer's shapes member by member (issue #23: about a fifth of a
    call's CPU, 50 structures of three strings); ``entry_result`` reads the same three
    members of each result. An error, or a body that is not such an answer, is left to
    botocore's parser untouched (an answer without results is then in doubt, as before).
    """
    if response_dict.get("status_code", 500) >= 300:
        return
    try:
        answer = json.loads(response_dict.get("body") or b"")
    except ValueError:
        return
    results = answer.get(RESULTS) if isinstance(answer, dict) else None
    if isinstance(results, list) and all(isinstance(r, dict) for r in results):
        customized[RESULTS] = results
        response_dict["body"] = b"{}"


class SesBulkTransport(SesTransport):
    """``SesTransport`` (single messages: send-test, transactional mail) plus ``send_bulk``."""

    max_entries = MAX_ENTRIES

    def __init__(
        self, client: SESV2Client, configuration_set: str | None = None, *,
        unvalidated: bool = False,
    ) -> None:
        """``unvalidated``: the client skips parameter validation (``aws.ses_client`` with
        ``validate=False``), so the request's JSON may be written here (see ``send_bulk``)."""
        super().__init__(client, configuration_set)
        self._call = threading.local()  # this thread's call: its moment, its body
        self._heads: dict[BulkContent, bytes] = {}  # each variant's JSON, written once
        # botocore's last step before the request goes on the wire: there it waits for
        # its moment, serialised and signed (``leave_at``; botocore sends when it returns
        # None).
        events = getattr(getattr(client, "meta", None), "events", None)
        self._in_botocore = events is not None  # else (a stand-in client) wait before it
        self._write = unvalidated and events is not None
        if events is not None:
            events.register("before-send.sesv2.SendBulkEmail", self._hold)
            events.register("before-call.sesv2.SendBulkEmail", self._body)
            events.register("before-parse.sesv2.SendBulkEmail", self._results)

    def _body(self, params: dict[str, Any], **_: Any) -> None:
        body = getattr(self._call, "body", None)
        if body is not None:
            params["body"] = body  # serialised, not yet signed: botocore signs this one

    def _results(self, response_dict: dict[str, Any],
                 customized_response_dict: dict[str, Any], **_: Any) -> None:
        take_results(response_dict, customized_response_dict)

    def _hold(self, **_: Any) -> None:
        hold(getattr(self._call, "moment", None), getattr(self._call, "ready", None))

    def send_bulk(
        self, content: BulkContent, entries: Sequence[BulkEntry],
        leave_at: float | None = None, ready: Ready | None = None,
    ) -> list[EntryResult]:
        """One SendBulkEmail call for up to 50 entries; see ``transports.bulk``."""
        if not 0 < len(entries) <= self.max_entries:
            raise PermanentTransportError(
                f"a bulk call takes 1 to {self.max_entries} entries, not {len(entries)}")
        request = build_bulk_request(content, entries, self.configuration_set)
        params = request
        if self._write:
            # The JSON written here, as botocore would write it (issue #23: its serializer
            # was about 40 % of a call's CPU, 21 function calls per entry to copy plain
            # strings into the same JSON, and the variant's 50-60 KB were encoded again in
            # every call): the variant's part once, the entries per call. botocore
            # serialises the sender alone, and its body is replaced in ``before-call``
            # before the request is signed.
            head = self._heads.get(content)
            if head is None:
                if len(self._heads) >= 256:
                    self._heads.clear()
                head = self._heads[content] = json_head(request)
            self._call.body = json_body(head, request[ENTRIES])
            params = {"FromEmailAddress": request["FromEmailAddress"]}
        self._call.moment, self._call.ready = leave_at, ready
        if not self._in_botocore:
            self._hold()
        try:
            response = self.client.send_bulk_email(**params)
        except (ClientError, BotoCoreError) as err:
            raise call_error(err, entries, self.region, self.endpoint) from err
        finally:
            self._call.moment = self._call.ready = self._call.body = None
        return parse_bulk_response(dict(response), entries)

