"""Worker processes end with the process that started them (found by trying it: a
`papers reindex --full` killed midway left its two workers alive, blocked writing
results nobody would read)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import sys, time
from newsletter.issues.many import worker_pool

def pid_then_wait(_):
    import os, time
    pid = os.getpid()
    time.sleep(60)
    return pid

if __name__ == "__main__":
    pool = worker_pool(2)
    futures = [pool.submit(pid_then_wait, n) for n in range(2)]
    time.sleep(0.5)
    print(" ".join(str(p.pid) for p in pool._processes.values()), flush=True)
    time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() \
        else "X"
    return state not in ("Z", "X")  # a zombie has ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.slow
def test_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT)
    workers: list[int] = []
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path.cwd())}
                          ) as parent:
        try:
            assert parent.stdout is not None
            line = parent.stdout.readline()
            workers = [int(pid) for pid in line.split()]
            assert len(workers) == 2 and all(alive(pid) for pid in workers), line
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            deadline = time.monotonic() + 15
            while any(alive(pid) for pid in workers):
                assert time.monotonic() < deadline, "workers outlived their killed parent"
                time.sleep(0.1)
        finally:
            parent.kill()
            for pid in workers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
