"""Runs the llama.cpp server so that it cannot outlive the service that started it.

``python -m newsdesk.generation.llm_child PARENT_PID WATCH_FD -- SERVER_ARGS…`` arms two
independent tripwires, then runs ``llama_cpp.server`` in this same process:

- ``WATCH_FD`` is the read end of a pipe whose only write end the service holds. When the
  service dies — even by ``kill -9`` — the kernel closes that end, the read here returns EOF,
  and this process group is killed. Only the death of the whole service closes it: unlike the
  parent-death signal it does not care which of the service's threads started us.
- On Linux, ``PR_SET_PDEATHSIG`` sends SIGKILL when the thread that forked us exits (the
  service spawns from its supervisor thread, which lives as long as the server is wanted).
  It also covers a service forked without exec that would keep the pipe's write end open.

The server is not our code, hence a launcher instead of a ``preexec_fn`` (which is unsafe in a
threaded parent anyway).
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, watch_fd, separator, *server_args = argv
    if separator != "--":
        raise SystemExit("usage: llm_child PARENT_PID WATCH_FD -- SERVER_ARGS…")
    _die_with_parent(int(parent), int(watch_fd))
    sys.argv = ["llama_cpp.server", *server_args]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


def _die_with_parent(parent: int, watch_fd: int) -> None:
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the signal was armed: then nobody would send it.
    if os.getppid() != parent:
        _kill_group()
    threading.Thread(target=_watch, args=(watch_fd,), name="parent-watch", daemon=True).start()


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 64):
            pass  # the service writes nothing; only EOF matters
    except OSError:
        pass
    _kill_group()


def _kill_group() -> None:
    # Started in a new session, the launcher leads its own process group: take along anything
    # the server may have started. Run by hand inside someone else's group, only itself.
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1:])
