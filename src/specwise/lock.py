"""One writer per results directory: an exclusive lock on OUT/sweep.lock for a sweep's life."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from specwise.errors import SpecwiseError


def hold_lock(out: Path) -> TextIO:
    """An exclusive lock on OUT/sweep.lock for this sweep's life (the OS drops it if the process
    dies, even by SIGKILL): a second sweep on the same directory must not reap live servers."""
    out.mkdir(parents=True, exist_ok=True)
    lock = (out / "sweep.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise SpecwiseError(
            f"Another sweep (pid {holder}) is writing to {out}; wait for it to finish, stop it, "
            "or choose another --out."
        ) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock
