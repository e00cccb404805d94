"""Outgoing webhooks (issue 22): Standard Webhooks signatures (``signing.py``), the guard
against requests into private networks (``guard.py``), HTTP posts pinned to the checked
address (``http.py``) and delivery from the outbox with back-off (``dispatch.py``)."""
