"""Run a server command so that it can never outlive specwise.

`python -m specwise.servers.watchdog GRACE_S -- CMD...` is what `launch.start` spawns, as the
leader of a new process group. It runs CMD in that group and waits. When specwise dies (noticed
through PR_SET_PDEATHSIG and by polling getppid) or sends SIGTERM/SIGINT, it sends SIGTERM to
the whole group, gives CMD GRACE_S seconds to exit, then SIGKILLs the group, itself included.
vLLM's API server can ignore SIGTERM for a long time under load and its engine core does not
watch its parent, so a plain death signal on the server alone leaves orphans.
If CMD exits on its own, the watchdog exits with CMD's status.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress

PR_SET_PDEATHSIG = 1
POLL_S = 0.2


def terminate_group(server: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM every process of this group, wait up to grace_s for the server, SIGKILL the rest."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        server.wait(timeout=grace_s)
    os.killpg(0, signal.SIGKILL)  # stragglers (engine core, workers) and the watchdog itself


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m specwise.servers.watchdog GRACE_S -- CMD...", file=sys.stderr)
        return 2
    grace_s, command = float(argv[0]), argv[2:]
    parent = os.getppid()
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    server = subprocess.Popen(command)
    while server.poll() is None and not stop_requested and os.getppid() == parent:
        time.sleep(POLL_S)
    if server.poll() is not None and not stop_requested:
        return server.returncode
    terminate_group(server, grace_s)
    return 143  # not reached: SIGKILL above ends this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
