"""Compiled templates kept in memory and shared by the Jinja environments of one kind.

Each :class:`~newsletter.rendering.renderer.Renderer`, web ``Pages`` and ``ArchivePages``
builds its own environment (its globals differ: the site's root, its URLs), and each
environment compiled every template it used again: lexing, parsing and generating Python
for a template costs far more than rendering it (a seventh of the quick test loop, and of
every process that builds more than one app or renderer).

A :class:`SharedCompiledTemplates` is a Jinja bytecode cache that keeps the compiled code
in memory for every environment built with the same options. The compiled code depends on
those options (autoescaping, the filters and tests, newline handling), so each kind of
environment has its own cache; a template is keyed by its name and file, and Jinja checks
the checksum of its source, so an edited template is compiled again.
"""

from __future__ import annotations

import threading
from types import CodeType

import jinja2
from jinja2.bccache import Bucket

# Templates of one kind kept at most; far more than any template folder holds (tests build
# environments over many temporary folders).
_MAX_TEMPLATES = 512


class SharedCompiledTemplates(jinja2.BytecodeCache):
    """Compiled template code in memory, for the environments built with one set of options."""

    def __init__(self) -> None:
        self._code: dict[str, tuple[str, CodeType]] = {}
        self._lock = threading.Lock()  # environments render in worker threads

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            found = self._code.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]  # code objects are immutable: safe to share

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is None:
            return
        with self._lock:
            if len(self._code) >= _MAX_TEMPLATES and bucket.key not in self._code:
                self._code.pop(next(iter(self._code)))  # the oldest entry
            self._code[bucket.key] = (bucket.checksum, bucket.code)

    def clear(self) -> None:
        with self._lock:
            self._code.clear()
