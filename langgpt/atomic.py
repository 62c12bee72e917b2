"""Atomic file output: readers see the old file or the new one, never a partial write.

A file is written beside its target, flushed and fsynced, given the mode a plain ``open()`` would give
it (``mkstemp`` makes 0600), renamed over the target, and the folder is fsynced so the rename itself
survives a crash. Used by the CLI's ``-o`` and the dataset target.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a crash right after must not bring back the old name)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` atomically (UTF-8, newlines as given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
