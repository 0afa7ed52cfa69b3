"""Process helpers of the desktop rig: missing programs, stopping process groups, waiting for ports."""

import socket
import sys
import time

import pytest

from rdpconsole.desktop import processes
from rdpconsole.desktop.processes import DesktopError, ProgramNotFound


def test_missing_program_names_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    with pytest.raises(ProgramNotFound) as raised:
        processes.find_program("freerdp-shadow-cli")

    assert raised.value.package == "freerdp2-shadow-x11"
    assert "apt-get install freerdp2-shadow-x11" in str(raised.value)


@pytest.mark.parametrize("program, package", [
    ("Xvfb", "xvfb"),
    ("xterm", "xterm"),
    ("xsetroot", "x11-xserver-utils"),
    ("xdotool", "xdotool"),
    ("xwd", "x11-apps"),
])
def test_package_of_program(program, package):
    assert ProgramNotFound(program).package == package


def alive(pid):
    """Tell whether `pid` runs; a zombie that no parent reaped yet counts as ended."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stop_process_ends_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    process = processes.start_process(
        ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"])
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.02)
    child_pid = int(pid_file.read_text())

    processes.stop_process(process)
    deadline = time.monotonic() + 5
    while alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.02)

    assert process.returncode is not None
    assert not alive(child_pid)


def test_stop_process_kills_after_timeout(tmp_path):
    log_path = tmp_path / "output.log"
    process = processes.start_process(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                               "print('ready', flush=True); time.sleep(60)"],
        log_path=str(log_path))
    deadline = time.monotonic() + 10
    while "ready" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)

    processes.stop_process(process, timeout=0.5)

    assert process.returncode == -9


def test_stop_process_accepts_none():
    processes.stop_process(None)


def test_wait_for_tcp_accepting():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        processes.wait_for_tcp("127.0.0.1", listener.getsockname()[1], timeout=2)


def test_wait_for_tcp_times_out():
    port = processes.free_tcp_port()

    with pytest.raises(DesktopError, match=f"127.0.0.1:{port} did not accept a TCP connection within 1 s"):
        processes.wait_for_tcp("127.0.0.1", port, timeout=1)


def test_wait_for_tcp_notices_exit():
    process = processes.start_process(["sh", "-c", "exit 3"])

    with pytest.raises(DesktopError, match="exited with status 3"):
        processes.wait_for_tcp("127.0.0.1", processes.free_tcp_port(), timeout=10, process=process)
