"""The project's exception tree. Every message says what was wrong, where, and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class NewsletterError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(NewsletterError):
    """A setting is missing or invalid."""


@dataclass(frozen=True)
class IssueProblem:
    """One problem found in an issue file: where it is and what is wrong."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class IssueValidationError(NewsletterError):
    """An issue file is invalid; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[IssueProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class IssueFileError(NewsletterError):
    """An issue file or folder that cannot be used as given."""


class RenderError(NewsletterError):
    """A template could not be rendered or compiled."""


class HeaderInjectionError(NewsletterError):
    """A header value contained CR or LF."""


class TokenError(NewsletterError):
    """A signed token is invalid, expired, or for another purpose."""


class StoreError(NewsletterError):
    """The subscriber store refused an operation."""


class SchemaOutOfDateError(StoreError):
    """The database schema is older than this code expects."""


class DatabaseError(StoreError):
    """The database failed; the message is one line with the fix that fits."""


class DatabaseUnavailableError(DatabaseError):
    """The database could not be reached (refused, unknown host, bad password, locked)."""


class TransportError(NewsletterError):
    """Base class for delivery failures, normalised from the provider's own errors."""


class TransientTransportError(TransportError):
    """A failure worth retrying later: 5xx, connection errors."""


class ThrottledError(TransientTransportError):
    """The provider asked us to slow down."""


class InDoubtTransportError(TransientTransportError):
    """The request may have reached the provider (e.g. a read timeout): it may have been sent."""


class PermanentTransportError(TransportError):
    """This one message will never be accepted (rejected address, bad request)."""


class AccountPausedError(TransportError):
    """The whole account cannot send now (suspended, paused, quota exhausted); stop the campaign."""


class InvalidAddressError(NewsletterError):
    """An email address is not acceptable; the message says why."""


class SubscriberExistsError(StoreError):
    """The address is already on the list."""


class SuppressedAddressError(StoreError):
    """The address is suppressed (unsubscribed, bounced, complained, erased): never mail it."""


class UnknownSubscriberError(StoreError):
    """No subscriber has this id or address."""


class CampaignError(NewsletterError):
    """A campaign cannot be started, continued or reported as asked."""


class FormError(NewsletterError):
    """A submitted web form is invalid; ``field`` names the input, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class InvalidPreferencesError(StoreError):
    """A category code, language, status or source is not one the store accepts."""


class ImportFileError(NewsletterError):
    """An import file cannot be used at all (no header, no email column)."""


class UnknownCategoryError(NewsletterError):
    """A category code that no issue file describes; the message names the known ones."""


class DigestFormatError(NewsletterError):
    """A digest text file has a block that cannot be read; ``line`` is where (1-based)."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class ArxivError(NewsletterError):
    """The arXiv API could not be reached, or did not describe every paper asked for."""


class PreflightError(NewsletterError):
    """An issue failed its pre-send checks; the message lists every error found."""


class SesEventError(NewsletterError):
    """An SES notification is not JSON, not an object, or nested deeper than any SES event."""


class WebhookError(NewsletterError):
    """A webhook payload was malformed, forged, or from a topic we do not trust."""


class CertificateUnavailableError(WebhookError):
    """An SNS signing certificate could not be fetched now: the message may be genuine."""


class QueueError(NewsletterError):
    """The queue could not be read or written (its URL, credentials, or the service)."""


class SiteError(NewsletterError):
    """The site cannot be written where asked."""


# -- issue 22: the REST API and outgoing webhooks ------------------------------------------


class ApiError(NewsletterError):
    """A REST API request cannot be done: ``status`` is its HTTP status, ``code`` a stable
    word for programs (``not_found``, ``invalid``, ...), the message says why to people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class WebhookEndpointError(NewsletterError):
    """A webhook endpoint cannot be added or reached: a bad URL, an event we do not send,
    or an address the guard refuses (loopback, private, link-local)."""
