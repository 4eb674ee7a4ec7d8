"""Server lifecycle against a stand-in process: health wait, log tail on failure, no orphans."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from specwise.config import Arm
from specwise.errors import SpecwiseError
from specwise.servers import launch

FAKE = Path(__file__).with_name("fake_server.py")


@pytest.fixture
def fake_mode(monkeypatch: pytest.MonkeyPatch):
    """Make launch start fake_server.py in the given mode instead of vLLM."""

    def use(mode: str) -> None:
        monkeypatch.setattr(
            launch,
            "server_command",
            lambda arm, port: [sys.executable, str(FAKE), mode, str(port)],
        )

    return use


def arm(**kw: object) -> Arm:
    return Arm.model_validate({"name": "fake", "model": "unused", **kw})


def family(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def test_serve_waits_for_health_and_stops_the_whole_tree(fake_mode, tmp_path: Path) -> None:
    fake_mode("ok")
    with launch.serve(arm(), tmp_path) as server:
        assert launch.health_ok(server.base_url)
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.process is not None
        procs = family(server.process.pid)
        assert len(procs) == 3  # the watchdog, the server and the server's child
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)
    assert "fake server starting" in (tmp_path / "fake.log").read_text()


def test_stops_on_exception_inside_the_block(fake_mode, tmp_path: Path) -> None:
    fake_mode("ok")
    with pytest.raises(RuntimeError), launch.serve(arm(), tmp_path) as server:
        assert server.process is not None
        procs = family(server.process.pid)
        raise RuntimeError("boom")
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)


def test_server_dying_at_start_names_the_arm_and_shows_the_log_tail(
    fake_mode, tmp_path: Path
) -> None:
    fake_mode("die")
    with pytest.raises(SpecwiseError) as info:
        launch.start(arm(name="broken"), tmp_path)
    message = str(info.value)
    assert "'broken'" in message and "exited with status 3" in message
    assert "FATAL: model directory not found" in message
    assert "log line 39" in message and "log line 10" not in message  # the last 30 lines only


def test_server_never_healthy_times_out_and_is_stopped(fake_mode, tmp_path: Path) -> None:
    fake_mode("hang")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(SpecwiseError, match="not healthy after 2 s"):
        launch.start(arm(name="slow"), tmp_path, timeout_s=2)
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before


def test_external_arm_is_never_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret")
    ext = Arm(name="nim", engine="external", url="http://10.0.0.1:8000/", api_key_env="MY_KEY")
    server = launch.start(ext, tmp_path)
    assert server.process is None and server.base_url == "http://10.0.0.1:8000"
    assert server.api_key == "sk-secret" and "sk-secret" not in repr(server)
    server.stop()  # a no-op
    assert not list(tmp_path.iterdir())


def test_missing_api_key_variable_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    ext = Arm(name="nim", engine="external", url="http://h:1", api_key_env="NOPE_KEY")
    with pytest.raises(SpecwiseError, match=r"\$NOPE_KEY, which is not set; export NOPE_KEY"):
        launch.start(ext, tmp_path)


def test_local_api_key_goes_by_environment_not_argv(
    fake_mode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_mode("ok")
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    with launch.serve(arm(api_key_env="LOCAL_KEY"), tmp_path) as server:
        assert server.process is not None
        proc = psutil.Process(server.process.pid)
        assert proc.environ()["VLLM_API_KEY"] == "sk-local"
        assert "sk-local" not in " ".join(proc.cmdline())


@pytest.mark.parametrize("mode", ["ok", "stubborn"])
def test_a_killed_specwise_takes_its_whole_server_tree_down(mode: str, tmp_path: Path) -> None:
    """SIGKILL specwise: the watchdog stops every process of the server, even SIGTERM-deaf ones."""
    import signal
    import subprocess
    import time

    script = (
        "import sys; from pathlib import Path; from specwise.config import Arm\n"
        "from specwise.servers import launch\n"
        "launch.STOP_GRACE_S = 1.0\n"
        f"fake, mode = {str(FAKE)!r}, {mode!r}\n"
        "launch.server_command = lambda arm, port: [sys.executable, fake, mode, str(port)]\n"
        f"s = launch.start(Arm(name='orphan', model='x'), Path({str(tmp_path)!r}))\n"
        "print(s.process.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    watchdog = int(parent.stdout.readline())
    tree = family(watchdog)
    assert len(tree) == 3  # watchdog, server, the server's child
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while any(p.is_running() for p in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(p.is_running() for p in tree)


def test_stop_kills_a_server_that_ignores_sigterm(fake_mode, tmp_path: Path) -> None:
    fake_mode("stubborn")
    server = launch.start(arm(), tmp_path)
    assert server.process is not None
    procs = family(server.process.pid)
    server.stop(grace_s=1.0)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)
