"""Server process lifecycle: start an arm's server, wait for /health, keep its log, stop it.

A server runs under `specwise.servers.watchdog`, which leads its own process group (so a
terminal's Ctrl-C reaches only specwise, which then stops it in order) and takes the whole group
down if specwise dies, even by SIGKILL. `stop` terminates the group and any descendant that left
it: no orphans.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from specwise import secrets
from specwise.config import Arm
from specwise.errors import SpecwiseError
from specwise.servers.sglang import sglang_command
from specwise.servers.vllm import plugin_env, vllm_command

LOG_TAIL_LINES = 30
STOP_GRACE_S = 20.0  # how long a server may take to exit on SIGTERM before SIGKILL
_running: set[Server] = set()


@dataclass(eq=False)
class Server:
    """A reachable OpenAI-compatible server; `process` is None for external arms."""

    arm: Arm
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.arm.request_model

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever is left (external: no-op)."""
        if self.process is None:
            return
        _running.discard(self)
        stop_process_tree(self.process, grace_s)


def stop_process_tree(process: subprocess.Popen[bytes], grace_s: float) -> None:
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    except psutil.NoSuchProcess:
        family = []
    _signal_group(process.pid, signal.SIGTERM)
    for proc in family:
        _signal(proc, signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=grace_s)
    _signal_group(process.pid, signal.SIGKILL)
    for proc in alive:
        _signal(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    process.wait(timeout=5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    with suppress(psutil.NoSuchProcess):
        proc.send_signal(sig)


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop(grace_s=5.0)


def api_key_for(arm: Arm) -> str | None:
    """The API key from the environment variable named by `api_key_env` (never logged)."""
    return secrets.api_key(arm.api_key_env, f"arm {arm.name!r}: api_key_env")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolve_model(model: str) -> str:
    """`smollm2` names the prepared local default; anything else is passed through."""
    from specwise.models import KNOWN_MODELS, prepare_model

    if model in KNOWN_MODELS:
        return str(prepare_model(model))
    return model


def server_command(arm: Arm, port: int) -> list[str]:
    model = resolve_model(arm.model or "")
    if arm.engine == "vllm":
        return vllm_command(arm, model, port)
    return sglang_command(arm, model, port)


def start(arm: Arm, log_dir: Path, timeout_s: float | None = None) -> Server:
    """Start (or, for external arms, just describe) the arm's server and wait until healthy."""
    server = spawn(arm, log_dir)
    try:
        wait_healthy(server, timeout_s or arm.startup_timeout_s)
    except BaseException:
        server.stop(grace_s=5.0)
        raise
    return server


def spawn(arm: Arm, log_dir: Path) -> Server:
    """Launch the arm's server process without waiting for it (external arms: describe it)."""
    api_key = api_key_for(arm)
    if arm.engine == "external":
        assert arm.url is not None
        return Server(arm, arm.url.rstrip("/"), api_key=api_key)
    env = os.environ | (plugin_env() if arm.engine == "vllm" else {}) | arm.env
    if api_key:
        env["VLLM_API_KEY"] = api_key  # by environment, so it never shows in argv or logs
    port = free_port()
    command = server_command(arm, port)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{arm.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "specwise.servers.watchdog", str(STOP_GRACE_S), "--", *command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    server = Server(arm, f"http://127.0.0.1:{port}", api_key, log_path, process, command)
    _running.add(server)
    return server


def wait_healthy(server: Server, timeout_s: float) -> None:
    """Poll GET /health until 200; raise with the log tail if the process exits or time runs out.
    An external server (no process) is taken as it is."""
    if server.process is None:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise SpecwiseError(
                f"The server of arm {server.arm.name!r} exited with status "
                f"{server.process.returncode if server.process else '?'} while starting; "
                f"fix the cause shown in its log ({server.log_path}):\n{log_tail(server.log_path)}"
            )
        if health_ok(server.base_url):
            return
        time.sleep(0.5)
    raise SpecwiseError(
        f"The server of arm {server.arm.name!r} was not healthy after {timeout_s:.0f} s; raise "
        f"the arm's startup_timeout_s or fix the cause in its log ({server.log_path}):\n"
        f"{log_tail(server.log_path)}"
    )


def health_ok(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    with path.open(errors="replace") as f:
        return "".join(deque(f, maxlen=lines)).rstrip()


@contextmanager
def serve(arm: Arm, log_dir: Path, timeout_s: float | None = None) -> Iterator[Server]:
    """Start the arm's server for the `with` block and stop it afterwards, whatever happens."""
    server = start(arm, log_dir, timeout_s)
    try:
        yield server
    finally:
        server.stop()


def serve_forever(arm_yaml: Path, log_dir: Path) -> None:
    """`specwise serve`: start one arm, print where it listens, block until Ctrl-C or exit."""
    from specwise.config import load_arm

    arm = load_arm(arm_yaml)
    if arm.engine == "external":
        raise SpecwiseError(f"Arm {arm.name!r} is external: specwise never starts it; use its URL.")
    # Ctrl-C is how this command stops: restore Python's handler even where SIGINT arrived
    # ignored (a child of a shell's background job inherits SIG_IGN, and Python then keeps it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with serve(arm, log_dir) as server:
        print(f"{arm.name}: {server.base_url}/v1 (model {server.model!r}), log {server.log_path}")
        print("Ctrl-C stops it.", flush=True)
        try:
            while server.alive():
                time.sleep(1)
        except KeyboardInterrupt:
            return
        raise SpecwiseError(
            f"The server of arm {arm.name!r} exited; see its log ({server.log_path}):\n"
            f"{log_tail(server.log_path)}"
        )
