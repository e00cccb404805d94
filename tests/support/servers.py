"""``newsletter serve`` as real processes on free loopback ports (the ``web_server`` fixture
and tests that need several servers sharing one database)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from support.env import WebServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def running(
    command: list[str], env: dict[str, str], cwd: Path, ready: str, log_path: Path | None = None
) -> Iterator[int]:
    """Run ``command`` until the block ends (its pid inside); wait until ``ready`` answers
    with a status below 500. Its output goes to ``log_path``, shown if it fails to start."""
    log_path = log_path or cwd / f"{Path(command[0]).name}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"{command} exited: {log_path.read_text()}")
                try:
                    if httpx.get(ready, timeout=1).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{command} did not start: {log_path.read_text()}")
                time.sleep(0.1)
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serve(cwd: Path, log_path: Path, **env_overrides: str) -> Iterator[WebServer]:
    """One ``newsletter serve`` with the current environment plus ``env_overrides``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NEWSLETTER_BASE_URL": url, **env_overrides}
    command = [str(Path(sys.executable).parent / "newsletter"), "serve", "--port", str(port)]
    with running(command, env, cwd, f"{url}/healthz", log_path) as pid:
        yield WebServer(
            url, Path(env["NEWSLETTER_OUTBOX_DIR"]), env["NEWSLETTER_DATABASE_URL"], pid
        )
