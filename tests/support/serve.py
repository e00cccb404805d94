"""`newsletter serve` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import httpx

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))


def start_serve(env: dict[str, str], log: BinaryIO) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([NEWSLETTER, "serve", "--port", str(port)],
                               env=dict(env, NEWSLETTER_BASE_URL=url), stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "newsletter serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "newsletter serve did not start"
        time.sleep(0.1)
