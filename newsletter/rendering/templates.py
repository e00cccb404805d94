"""Where the templates are: inside the installed wheel, or at the top of a checkout.

``templates/`` lives at the repository's top level; the wheel ships it as
``newsletter/templates`` (see ``pyproject.toml``). An editable install has no copy
inside the package, so the checkout's folder is used instead.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path


@cache
def templates_dir() -> Path:
    """The folder holding ``email/`` and ``web/``; ``FileNotFoundError`` if there is none."""
    packaged = Path(str(resources.files("newsletter"))) / "templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"no templates folder in {packaged} or {checkout}")
