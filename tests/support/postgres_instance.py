"""A PostgreSQL server of a test's own, on its own port, that the test may stop and start
(the shared one on 54329 serves every other test and must never be stopped).

Started as scripts/postgres.sh starts the shared one: ``initdb`` once into /tmp, then
``pg_ctl start``; run as the ``postgres`` user when the tests run as root. Tests that need
it are skipped when no PostgreSQL server is installed.
"""

from __future__ import annotations

import glob
import os
import shlex
import subprocess
from pathlib import Path

import pytest

DEFAULT_PORT = 54340


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return Path(found[-1]) if found and Path(found[-1], "initdb").exists() else None


class PostgresInstance:
    """``start``/``stop`` a server on 127.0.0.1:``port`` with database ``newsletter``."""

    def __init__(self, port: int = DEFAULT_PORT) -> None:
        bindir = _bindir()
        if bindir is None:
            pytest.skip("no PostgreSQL server installed")
        self.bindir = bindir
        self.port = port
        self.data = Path(f"/tmp/newsletter-pg-faults-{port}")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/newsletter"

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
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k /tmp -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  f"{self.data}.log", "-w", "-o", options, "start")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                  "-w", "stop", check=False)

    def fresh_database(self) -> str:
        """Drop and create the ``newsletter`` database; its URL."""
        psql = [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-c"]
        self._run(*psql, "DROP DATABASE IF EXISTS newsletter WITH (FORCE)")
        self._run(*psql, "CREATE DATABASE newsletter")
        return self.url
