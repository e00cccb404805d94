"""What every desk test shares: the test database, opened once per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from newsletter.store.db import Database, open_database


@pytest.fixture
def db() -> Iterator[Database]:
    opened = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    yield opened
    opened.close()
