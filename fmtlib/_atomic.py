"""The one way fmtlib writes a file: :func:`atomic_write`.

The new content goes to a temporary file in the target's directory, which is flushed,
fsync'ed and then renamed over the target (``os.replace``). A failure at any point, a
KeyboardInterrupt included, removes the temporary file and leaves the target as it was.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "a.bin")
>>> with atomic_write(p) as f:
...     _ = f.write(b"new")
>>> open(p, "rb").read(), sorted(os.listdir(os.path.dirname(p)))
(b'new', ['a.bin'])
"""
from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

#: errors of a write that ran out of room: reported with the output's name
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def check_target(path) -> Path:
    """The resolved path ``path`` will be written at (a symlink's target); FileNotFoundError or
    IsADirectoryError naming ``path`` when its directory is missing or it is a directory."""
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: no directory {target.parent}")
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    return target


@contextmanager
def atomic_write(path) -> Iterator[BinaryIO]:
    """A binary file whose content replaces ``path`` when the ``with`` block ends without an
    exception; on any exception ``path`` is untouched and the temporary file is removed.
    A replaced file keeps its permission bits; a new one gets the umask's."""
    target = check_target(path)
    old_mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    while True:
        tmp = target.parent / f".{target.name}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise type(e)(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if old_mode is not None:
                os.chmod(tmp, old_mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.errno in _NO_ROOM:
            raise OSError(e.errno, f"cannot write {path}: {e.strerror}") from e
        raise
    _fsync_dir(target.parent)


def _fsync_dir(d: Path) -> None:
    """Make a rename in ``d`` durable where the platform allows it."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path, data: bytes) -> None:
    """``Path(path).write_bytes(data)``, atomically."""
    with atomic_write(path) as f:
        f.write(data)
