"""A PostgreSQL server of a test's own, on its own port, that the test may stop and start
(the shared one on 54329 serves every other test and must never be stopped).

Started as scripts/postgres.sh starts the shared one: ``initdb`` once into /tmp, then
``pg_ctl start``; run as the ``postgres`` user when the tests run as root. Tests that need
it are skipped when no PostgreSQL server is installed.

Its port is a free one below the kernel's ephemeral range, so no client socket of a test
running beside it can be holding it; if the server still cannot start there, it tries
another port, and a last failure shows the server's own log.
"""

from __future__ import annotations

import glob
import os
import random
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

PORTS = range(20000, 32000)  # below Linux's ephemeral range (32768-60999)


def stable_port() -> int:
    """A port in ``PORTS`` nothing is bound to now: one no test's client socket can hold, so a
    server may stop and start again on it."""
    for port in random.sample(PORTS, 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return Path(found[-1]) if found and Path(found[-1], "initdb").exists() else None


class PostgresInstance:
    """``start``/``stop`` a server on 127.0.0.1:``port`` with database ``newsletter``."""

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            pytest.skip("no PostgreSQL server installed")
        self.bindir = bindir
        self.data = Path(f"/tmp/newsletter-pg-faults-{os.getpid()}")
        self.port = stable_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/newsletter"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = shlex.join(args)
        if os.getuid() == 0:
            return subprocess.run(["su", "postgres", "-s", "/bin/bash", "-c", command],
                                  capture_output=True, text=True, check=check, timeout=120)
        return subprocess.run(list(args), capture_output=True, text=True, check=check,
                              timeout=120)

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            if os.getuid() == 0:
                subprocess.run(["chown", "postgres", str(self.data)], check=True)
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                      "-U", "postgres")
        for attempt in range(3):
            started = self._pg_ctl_start(check=attempt == 2)
            if started.returncode == 0:
                return
            self.port = stable_port()

    def restart(self) -> None:
        """Start again after ``stop``, on the same port (clients keep their URL)."""
        self._pg_ctl_start(check=True)

    def _pg_ctl_start(self, check: bool) -> subprocess.CompletedProcess[str]:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k /tmp -c fsync=off"
        log = Path(f"{self.data}.log")
        started = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log),
                            "-w", "-t", "120", "-o", options, "start", check=False)
        if started.returncode != 0 and check:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            raise RuntimeError(f"PostgreSQL would not start on port {self.port}:\n"
                               f"{started.stdout}{started.stderr}\n--- server log ---\n{tail}")
        return started

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                  "-w", "stop", check=False)

    def remove(self) -> None:
        """Delete the stopped server's files."""
        shutil.rmtree(self.data, ignore_errors=True)
        Path(f"{self.data}.log").unlink(missing_ok=True)

    def fresh_database(self) -> str:
        """Drop and create the ``newsletter`` database; its URL."""
        psql = [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-c"]
        self._run(*psql, "DROP DATABASE IF EXISTS newsletter WITH (FORCE)")
        self._run(*psql, "CREATE DATABASE newsletter")
        return self.url
