"""One process per data directory: an exclusive, non-blocking ``flock`` on
``<data_dir>/newsdesk.lock``, held while the collection is open.

The derived indexes live in memory and are flushed as snapshots; a second process writing the
same SQLite database would leave them behind (and delete each other's snapshot folders), so a
second opener is refused with the holder's pid and command line. The OS releases the lock when
the holder's file is closed or the process dies, even on ``kill -9``. ``flock`` locks belong to
an open file description, so a second open within the same process is refused too."""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
from pathlib import Path

from newsdesk.errors import DataDirectoryInUse

LOCK_NAME = "newsdesk.lock"
_MAX_COMMAND = 200


def _command_line() -> str:
    argv = list(sys.argv) or ["python"]
    argv[0] = Path(argv[0]).name or argv[0]
    command = shlex.join(argv)
    return command if len(command) <= _MAX_COMMAND else command[: _MAX_COMMAND - 1] + "…"


class DataDirectoryLock:
    """The held lock; ``release`` (or the end of the process) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirectoryLock:
        """Take the lock at once or raise ``DataDirectoryInUse`` naming the holder."""
        path = data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataDirectoryInUse(
                f"the data directory {data_dir} is in use by {holder}; stop it, or use its "
                "HTTP API (one process per data directory)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{_command_line()}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # the file description's last descriptor: the flock goes with it

    def __del__(self) -> None:
        # A collection that was never closed gives the lock up when it is collected.
        if getattr(self, "_fd", None) is not None:
            self.release()


def _read_holder(fd: int) -> str:
    """'pid N (command line)' from the lock file, or a plain phrase if it is not written yet."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        text = ""
    pid, _, command = text.partition("\n")
    if not pid.strip().isdigit():
        return "another process"
    command = command.strip()
    return f"pid {pid.strip()} ({command})" if command else f"pid {pid.strip()}"
