"""Reading many issue files at once, on every core the process may use.

Parsing and validating an issue file is pure Python work (about 6 ms for a day of 33
papers, 30 KB), so a whole archive read in one process leaves the other cores idle: 3,000
such files are 18 s on one core. :func:`load_many` reads a large batch in worker
processes instead (started fresh, ``spawn``: forking a process that runs threads is
unsafe), each worker a share of the files, and hands back the same values a loop in this
process would give. A worker costs about a second to start, so a batch of less than
:data:`PARALLEL_FROM` bytes, a machine with one core, or a pool that cannot start is read
here.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from newsletter.errors import IssueValidationError
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue

log = logging.getLogger(__name__)

PARALLEL_FROM = 32 * 1024 * 1024  # bytes of files, about 10 s of reading on one core
CHUNK = 50  # files a worker reads per task

# One file's outcome: the issue, or None and why it was left out.
Loaded = tuple[Issue | None, str | None]


def load_one(path: Path) -> Loaded:
    """The issue of ``path``, or None and the problem (unreadable or invalid file)."""
    try:
        return load_issue(path), None
    except (IssueValidationError, OSError) as err:
        return None, str(err)


def _size(paths: Sequence[Path]) -> int:
    """The bytes of the files at ``paths`` (a missing one counts nothing)."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def usable_cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def die_with_parent(parent: int) -> None:
    """In a worker process (a pool's initializer): be ended when ``parent``, the process
    that started it, dies (Linux's PR_SET_PDEATHSIG), so that a command killed midway
    does not leave its workers behind, blocked writing results nobody reads."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # only in workers, only on Linux

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh processes (``spawn``) that end with this one."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))


def load_many(paths: Sequence[Path], workers: int | None = None) -> list[Loaded]:
    """:func:`load_one` of each of ``paths``, in order; in ``workers`` processes (by
    default one per usable core) when they hold at least :data:`PARALLEL_FROM` bytes."""
    workers = workers if workers is not None else usable_cores()
    if workers < 2 or _size(paths) < PARALLEL_FROM:
        return [load_one(path) for path in paths]
    try:
        with worker_pool(workers) as pool:
            return list(pool.map(load_one, paths, chunksize=CHUNK))
    except (OSError, BrokenProcessPool) as err:
        log.warning("issue files read in one process: no worker processes (%s)", err)
        return [load_one(path) for path in paths]
