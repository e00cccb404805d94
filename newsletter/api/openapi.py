"""The OpenAPI 3.1 document of the API (``openapi.yaml`` beside this module), served at
``/api/v1/openapi.json`` with the server's own URL."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

SOURCE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SOURCE.read_text("utf-8"))
    return loaded


def document(base_url: str) -> dict[str, Any]:
    """The document, its server at ``{base_url}/api/v1``."""
    return {**_document(), "servers": [{"url": f"{base_url.rstrip('/')}/api/v1"}]}
