"""Problems placed more or less precisely than a line: a YAML syntax error at its column,
and a problem with the file as a whole (missing, unreadable), which has no line at all.

Both are :class:`IssueProblem` values, printed ``FILE:LINE:COLUMN: MESSAGE`` and
``FILE: MESSAGE``; :func:`where` gives that place for any problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.errors import IssueProblem


@dataclass(frozen=True)
class ColumnProblem(IssueProblem):
    """A problem at a line and a column (1-based): ``FILE:LINE:COLUMN: MESSAGE``."""

    column: int = 1

    def __str__(self) -> str:
        return f"{where(self)}: {self.message}"


@dataclass(frozen=True)
class FileProblem(IssueProblem):
    """A problem with the whole file, at no line: ``FILE: MESSAGE``."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def file_problem(path: str, message: str) -> FileProblem:
    return FileProblem(path, 0, "", message)


def where(problem: IssueProblem) -> str:
    """``FILE``, ``FILE:LINE`` or ``FILE:LINE:COLUMN``: as precisely as the problem is placed."""
    if isinstance(problem, FileProblem):
        return problem.path
    if isinstance(problem, ColumnProblem):
        return f"{problem.path}:{problem.line}:{problem.column}"
    return f"{problem.path}:{problem.line}"
