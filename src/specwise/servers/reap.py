"""Servers a killed sweep left behind: recorded in the store when started (pid, process group,
start time, command line), stopped by the next sweep on the same directory."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from contextlib import suppress
from typing import Any

import psutil

from specwise import store
from specwise.servers.launch import Server


def server_info(server: Server) -> dict[str, Any]:
    pid = server.process.pid if server.process else None
    created = None
    if pid is not None:
        with suppress(psutil.Error):
            created = psutil.Process(pid).create_time()
    return {
        "pid": pid,
        "pgid": pid,  # started with start_new_session: the server leads its own group
        "process_started_at": created,
        "command": server.command,
        "log_path": str(server.log_path) if server.log_path else None,
        "base_url": server.base_url,
    }


def reap_leftovers(conn: sqlite3.Connection) -> int:
    """Stop the processes of servers a killed sweep never stopped: the recorded pid if its start
    time and command line still match, and every process of its group started since."""
    reaped = 0
    for row in store.unstopped_servers(conn):
        procs = leftover_processes(row)
        for proc in procs:
            with suppress(psutil.Error):
                proc.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=20)
        for proc in alive:
            with suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        reaped += len(procs)
        store.server_stopped(conn, row["id"])
    return reaped


def leftover_processes(row: sqlite3.Row) -> list[psutil.Process]:
    if row["pid"] is None or row["process_started_at"] is None:
        return []
    since = row["process_started_at"] - 1.0
    found: dict[int, psutil.Process] = {}
    with suppress(psutil.Error):
        root = psutil.Process(row["pid"])
        if root.create_time() >= since and root.cmdline() == json.loads(row["command"]):
            found[root.pid] = root
            found |= {c.pid: c for c in root.children(recursive=True)}
    for proc in psutil.process_iter(["create_time"]):
        with suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == row["pgid"] and proc.info["create_time"] >= since:
                found[proc.pid] = proc
    found.pop(os.getpid(), None)
    return list(found.values())
