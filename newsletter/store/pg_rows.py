"""A batch of rows as one PostgreSQL parameter: a JSON array, read by ``json_to_recordset``.

The hot path of applying SES events writes a batch's rows in one statement. Sent as one
array parameter per column, psycopg quotes every element of every array in Python (a
regular expression search and substitution each): most of the client's time per event.
One JSON text is made by the json module's C encoder, and PostgreSQL reads it back with
each column's own input function (a timestamp from its ISO form, a ``bytea`` from its
``\\x`` hex form).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY


def recordset(types: Mapping[str, str], param: str = "rows") -> str:
    """SQL for the rows of parameter ``param``: ``json_to_recordset(...) AS v(col type, ...)``,
    its columns in the order of ``types`` (our own names and types: no input reaches it)."""
    columns = ", ".join(f"{name} {kind}" for name, kind in types.items())
    return f"json_to_recordset(CAST(:{param} AS json)) AS v({columns})"


def rows_json(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The parameter ``recordset`` reads: ``columns`` of each row. Times and bytes are
    turned into text by the encoder's ``default`` hook, called for them alone (a Python
    call for every value of every row was a tenth of the client's CPU an event)."""
    return json.dumps([{name: row[name] for name in columns} for row in rows],
                      ensure_ascii=False, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    raise TypeError(f"{type(value).__name__} is not a column value")


def one_of_ids(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column = ANY(:name)``, the ids as one ``bigint[]`` parameter: unlike an expanding
    ``IN``, the statement's text is the same however many ids there are, so SQLAlchemy
    does not render a placeholder for each, and psycopg prepares it (PostgreSQL parses
    and plans it once a connection)."""
    return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
