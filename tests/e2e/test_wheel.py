"""A wheel built from the checkout, installed outside it, renders the issue and a confirmation."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from support.env import ROOT, SAMPLE_ISSUE, TEST_SECRET


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result.stdout


def test_the_installed_wheel_ships_templates_and_migrations(tmp_path: Path) -> None:
    """pip install of the wheel (not -e) renders the sample issue and a confirmation email."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(wheels), str(ROOT)], tmp_path, env)
    [wheel] = wheels.glob("newsletter-*.whl")

    # A fresh venv that borrows the dependencies of the test venv, but not its editable
    # install of this checkout: a .pth line adds a directory without running its .pth files.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], tmp_path, env).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
          str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    (work / "issues").mkdir(parents=True)
    (work / "issues" / SAMPLE_ISSUE.name).write_bytes(SAMPLE_ISSUE.read_bytes())
    env.update({
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{work / 'wheel.db'}",
        "NEWSLETTER_OUTBOX_DIR": str(work / "outbox"),
        "NEWSLETTER_ISSUES_DIR": str(work / "issues"),
    })
    where = _run([str(python), "-c", "import newsletter; print(newsletter.__file__)"], work, env)
    assert where.startswith(str(site)), where
    cli = [str(python), "-m", "newsletter"]

    _run([*cli, "build", "issues/2022-09-07.yaml", "--out", "build"], work, env)
    html = (work / "build" / "2022-09-07.html").read_text("utf-8")
    assert "A Review of Sparse Expert Models in Deep Learning" in html
    assert "<mj-" not in html  # compiled, with the templates from the wheel

    _run([*cli, "subscribers", "add", "reader@example.org"], work, env)
    [confirmation] = (work / "outbox").glob("*.eml")
    assert b"/confirm/" in confirmation.read_bytes()

    # Paper pages, citations and the offline search (issue 20) come from the wheel too.
    env["NEWSLETTER_ARCHIVE_UNSENT"] = "true"
    _run([*cli, "site", "--out", "site"], work, env)
    paper = (work / "site" / "papers" / "2209.01947" / "index.html").read_text("utf-8")
    assert '<meta name="citation_arxiv_id" content="2209.01947">' in paper
    assert (work / "site" / "papers" / "2209.01947.bib").read_text("utf-8").startswith("@misc{")
    assert (work / "site" / "static" / "search.js").is_file()
    assert "data-index=" in (work / "site" / "search" / "index.html").read_text("utf-8")
