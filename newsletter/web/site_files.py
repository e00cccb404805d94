"""Files under the ``site --out`` folder, never reached through a symbolic link.

Every path is opened one folder at a time from the output folder with ``O_NOFOLLOW``,
so a link planted inside it (``issues -> /etc``, ``feed.xml -> ~/.bashrc``) is refused
rather than written or deleted through. The folder's manifest (:data:`MANIFEST`) lists
what the last build wrote; a rebuild removes only those of its files it did not write
again, so ``.git``, ``.well-known``, ``robots.txt`` or ``CNAME`` put next to the site stay.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from newsletter.errors import SiteError

MANIFEST = ".newsletter-site"
_HEADER = ("# Written by `newsletter site`: the files of the last build, one a line. The "
           "next build removes those it does not write again, and nothing else.\n")
_MAX_MANIFEST = 64 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW


def safe_parts(relative: str) -> tuple[str, ...] | None:
    """The folders and name of ``relative``, or None unless it is a plain path inside."""
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    path = PurePosixPath(relative)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    return path.parts


class SiteFolder:
    """Writes and removes files under ``root`` without following symbolic links."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: set[tuple[str, ...]] = set()  # folders made already: one mkdir each
        self._lock = threading.Lock()

    def _refused(self, parts: Iterable[str], err: OSError) -> SiteError:
        parts = tuple(parts)
        path = self.root.joinpath(*parts)
        for depth in range(1, len(parts) + 1):
            link = self.root.joinpath(*parts[:depth])
            if link.is_symlink():
                return SiteError(f"{link} is a symbolic link; `newsletter site` writes and "
                                 "removes nothing through links: remove the link")
        return SiteError(f"cannot write {path}: {err.strerror or err}")

    def _open_folder(self, parts: tuple[str, ...], *, create: bool) -> int:
        """A descriptor of the folder ``parts`` under the root, made when ``create``."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for depth, part in enumerate(parts, start=1):
                if create and parts[:depth] not in self._made:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                    with self._lock:
                        self._made.add(parts[:depth])
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def write(self, relative: str, data: bytes) -> None:
        """Write ``data`` to ``relative``; :class:`SiteError` through a link or on failure."""
        parts = safe_parts(relative)
        assert parts is not None, relative  # our own names
        try:
            folder = self._open_folder(parts[:-1], create=True)
        except OSError as err:
            raise self._refused(parts[:-1], err) from err
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, 0o644, dir_fd=folder)
        except OSError as err:
            raise self._refused(parts, err) from err
        finally:
            os.close(folder)
        with os.fdopen(fd, "wb") as file:
            file.write(data)

    def remove(self, relative: str) -> bool:
        """Remove the regular file ``relative`` and the folders it leaves empty; False when
        it is not a plain path inside, not there, not a regular file, or behind a link."""
        parts = safe_parts(relative)
        if parts is None:
            return False
        try:
            folder = self._open_folder(parts[:-1], create=False)
        except OSError:
            return False  # gone, or a link: not ours to follow
        try:
            if not _is_file(parts[-1], folder):
                return False
            os.unlink(parts[-1], dir_fd=folder)
        except OSError:
            return False
        finally:
            os.close(folder)
        for depth in range(len(parts) - 1, 0, -1):
            try:
                parent = self._open_folder(parts[: depth - 1], create=False)
            except OSError:
                break
            try:
                os.rmdir(parts[depth - 1], dir_fd=parent)
            except OSError:
                break  # not empty: someone else's files, or more of ours
            finally:
                os.close(parent)
        return True

    def manifest(self) -> list[str]:
        """The files the last build wrote, from the manifest (empty when there is none)."""
        try:
            root = self._open_folder((), create=False)
        except OSError:
            return []
        try:
            fd = os.open(MANIFEST, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=root)
        except OSError:
            return []
        finally:
            os.close(root)
        with os.fdopen(fd, "rb") as file:
            text = file.read(_MAX_MANIFEST).decode("utf-8", "replace")
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    def write_manifest(self, files: Iterable[str]) -> None:
        self.write(MANIFEST, (_HEADER + "".join(f"{f}\n" for f in sorted(files))).encode())



def _is_file(name: str, folder: int) -> bool:
    return stat.S_ISREG(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
