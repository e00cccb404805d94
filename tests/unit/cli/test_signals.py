"""Stop signals: the first stops claiming, the second never hangs, the third exits at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.delivery import stop_on_signals
from newsletter.cli.main import app

# A process that waits on the stop event the way `worker` does (Event.wait in a loop, which
# takes the event's lock each time round), then exits 0 when the event is set.
WAITER = """
import logging, sys, time
from newsletter.cli.delivery import stop_on_signals
logging.basicConfig(level=logging.INFO, format="%(message)s")
with stop_on_signals() as stop:
    print("ready", flush=True)
    while not stop.wait(0.0):
        pass
    if sys.argv[1] == "stuck":
        while True:  # shutdown that never ends: only the third signal gets it out
            time.sleep(0.01)
sys.exit(0)
"""


def start(mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WAITER, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_signals_during_event_waits_never_hang_the_process() -> None:
    """Two SIGTERMs landing while the main thread is inside Event.wait stop it, every time."""
    for _ in range(5):
        proc = start("free")
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
            proc.communicate()


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_the_third_signal_exits_at_once_with_status_3() -> None:
    """A shutdown that does not end is cut short by the third signal, with exit status 3."""
    proc = start("stuck")
    for _ in range(2):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
    assert proc.poll() is None  # two signals: still finishing what is in flight
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=10) == 3
    finally:
        proc.kill()
    _, errors = proc.communicate()
    assert "stopping after the messages in flight" in errors
    assert "already stopping" in errors and "exiting now" in errors


def test_the_block_restores_the_handlers_it_replaced() -> None:
    """After the block, SIGTERM and SIGINT are handled as before it."""
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_an_interrupted_worker_exits_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`worker` stopped by a signal exits with 3 (interrupted), as the README says."""
    from newsletter.sending import worker as workers

    def interrupted(*args: object, stop: threading.Event, **kwargs: object) -> list[object]:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        return []

    monkeypatch.setattr(workers, "run_worker", interrupted)
    result = CliRunner().invoke(app, ["worker", "--poll", "0.1"])
    assert result.exit_code == 3, result.output
