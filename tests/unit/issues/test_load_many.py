"""Many issue files read in worker processes give what reading them one by one gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues import many
from newsletter.issues.many import load_many, load_one


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Five valid issue files on five days, one invalid, one missing."""
    text = SAMPLE_ISSUE.read_text("utf-8")
    paths = []
    for day in range(1, 6):
        date = f"2022-09-{day:02d}"
        path = tmp_path / f"{date}.yaml"
        path.write_text(text.replace("2022-09-07", date), "utf-8")
        paths.append(path)
    bad = tmp_path / "2022-09-06.yaml"
    bad.write_text(text.replace("2022-09-07", "2022-09-06").replace(
        "category: LG", "category: ZZ", 1), "utf-8")
    return [*paths, bad, tmp_path / "2022-09-08.yaml"]


@pytest.mark.slow
def test_worker_processes_read_what_one_process_reads(
        files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two worker processes give, in order, the same issues and the same problems (the
    file named with its line) as a loop here."""
    monkeypatch.setattr(many, "PARALLEL_FROM", 1000)
    monkeypatch.setattr(many, "CHUNK", 2)
    here = [load_one(path) for path in files]
    there = load_many(files, workers=2)
    assert there == here
    assert [issue is not None for issue, _ in there] == [True] * 5 + [False, False]
    assert "2022-09-06.yaml:" in str(there[5][1]) and "ZZ" in str(there[5][1])
    assert "no such file" in str(there[6][1])


def test_a_pool_that_cannot_start_reads_here(
        files: list[Path], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """When worker processes cannot be started (a limit on processes, say), the files are
    read in this process all the same, with a warning."""
    monkeypatch.setattr(many, "PARALLEL_FROM", 1000)

    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(many, "ProcessPoolExecutor", no_processes)
    assert load_many(files, workers=2) == [load_one(path) for path in files]
    assert "read in one process" in caplog.text


def test_few_files_or_one_core_are_read_here(
        files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Below PARALLEL_FROM bytes of files, or with one core, no process is started."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no worker process should start")

    monkeypatch.setattr(many, "ProcessPoolExecutor", refuse)
    assert load_many(files) == [load_one(path) for path in files]
    monkeypatch.setattr(many, "PARALLEL_FROM", 1000)
    assert load_many(files, workers=1) == [load_one(path) for path in files]
