"""axe-core, the accessibility checker, installed from npm into ``.cache/`` on first use."""

from __future__ import annotations

import json
import shutil
import subprocess

from support.env import ROOT

AXE_VERSION = "4.14.1"
CACHE = ROOT / ".cache" / "axe-core"
PACKAGE = CACHE / "node_modules" / "axe-core"


class AxeUnavailable(Exception):
    """npm is missing or could not install axe-core."""


def axe_source() -> str:
    """The text of ``axe.min.js`` (version :data:`AXE_VERSION`), installing it if absent.

    Raises :class:`AxeUnavailable` when npm is missing or the install fails.
    """
    manifest = PACKAGE / "package.json"
    installed = json.loads(manifest.read_text("utf-8"))["version"] if manifest.is_file() else None
    if installed != AXE_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            raise AxeUnavailable("npm is not installed (Debian: apt-get install npm)")
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(CACHE), "--no-package-lock", "--no-save",
             "--no-audit", "--no-fund", f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, check=False, timeout=300,
        )
        if done.returncode != 0 or not (PACKAGE / "axe.min.js").is_file():
            raise AxeUnavailable(f"npm install axe-core@{AXE_VERSION} failed:\n{done.stderr}")
    return (PACKAGE / "axe.min.js").read_text("utf-8")
