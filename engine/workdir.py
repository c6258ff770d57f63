"""The engine's scratch directory (``ion-engine-*`` in the system temp dir).

Each directory holds a ``.lock`` file its owner keeps an exclusive ``flock`` on for as
long as it lives. The kernel drops the lock when the owner dies however it dies (a
SIGKILL included), so a directory whose lock can be taken has no owner left: the next
engine to start removes it. The owner removes its own on close and at interpreter exit.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import weakref
from pathlib import Path

PREFIX = "ion-engine-"
LOCK = ".lock"


def remove_stale(root: str | Path | None = None) -> list[Path]:
    """Remove the engine directories under ``root`` (default: the temp dir) whose owner
    is gone; returns those removed. Directories without a lock file are left alone."""
    base = Path(root if root is not None else tempfile.gettempdir())
    removed: list[Path] = []
    for path in base.glob(f"{PREFIX}*"):
        lock = path / LOCK
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:  # not ours, mid-creation, or already gone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its owner is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


class WorkDir:
    """A locked scratch directory, removed by ``close()`` or at interpreter exit."""

    def __init__(self, root: str | Path | None = None) -> None:
        remove_stale(root)
        self.path = tempfile.mkdtemp(prefix=PREFIX, dir=root)
        # Locked before it gets its name, so no cleaner ever sees it unlocked.
        pending = os.path.join(self.path, f"{LOCK}.new")
        self._fd = os.open(pending, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(pending, os.path.join(self.path, LOCK))
        self._finalizer = weakref.finalize(self, _remove, self.path, self._fd)

    def close(self) -> None:
        self._finalizer()


def _remove(path: str, fd: int) -> None:
    shutil.rmtree(path, ignore_errors=True)
    os.close(fd)
