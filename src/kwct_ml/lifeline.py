"""Worker processes die with their parent.

A parent killed with SIGKILL cannot stop its pool, and pool workers (which inherit its open files,
such as the lock on ``OUT.partial``) would live on. Each worker therefore watches its parent from a
daemon thread and exits as soon as it is gone. (Linux's ``prctl(PR_SET_PDEATHSIG)`` is not used: it
fires when the parent *thread* that started the worker ends, and pools start workers from threads.)
"""

from __future__ import annotations

import os
import signal
import threading
import time

#: How often a worker checks that its parent is alive.
POLL_SECONDS = 0.5

_watching: int | None = None  # the pid whose watcher runs (a forked child must start its own)


def _watch(parent: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if os.getppid() != parent:  # orphans are adopted by init or a subreaper
            os._exit(1)


def die_with_parent(parent: int | None = None) -> None:
    """Exit this process within ``POLL_SECONDS`` of its parent's death (``parent``: the pid of the
    process that started the pool, default this one's parent). Call it in a pool worker; calling it
    again, or in ``parent`` itself (a thread backend), does nothing."""
    global _watching
    if _watching == os.getpid() or parent == os.getpid():  # watching already, or run in the parent
        return
    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:  # the parent died before this worker got here
        os._exit(1)
    _watching = os.getpid()
    threading.Thread(target=_watch, args=(parent,), name="kwct-lifeline", daemon=True).start()


def become_worker(parent: int) -> None:
    """Set up a pool worker of ``parent``: interrupts are the parent's to handle (Ctrl-C reaches
    every process of a terminal's job; SIGTERM keeps its default), and the worker dies with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
