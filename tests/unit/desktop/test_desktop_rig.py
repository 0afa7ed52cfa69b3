"""DesktopRig against the real programs: Xvfb, xterm, xdotool and freerdp-shadow-cli."""

import socket
import time

import pytest

from rdpconsole.desktop import DesktopError, DesktopRig, ProgramNotFound, XvfbDisplay


@pytest.fixture
def rig(tmp_path):
    rig = DesktopRig(str(tmp_path), background="#d04a1c", marker="rig unit test")
    try:
        rig.start()
    except ProgramNotFound as error:
        pytest.skip(str(error))
    yield rig
    rig.stop()


def process_running(process):
    return process is not None and process.poll() is None


def test_rdp_port_accepts(rig):
    with socket.create_connection((rig.host, rig.port), timeout=5) as connection:
        assert connection.getpeername() == (rig.host, rig.port)


def test_rdp_port_on_loopback(rig):
    assert rig.host == "127.0.0.1"


def test_screen_shows_background(rig):
    screenshot = rig.screenshot()

    assert (screenshot.width, screenshot.height) == (1024, 768)
    assert screenshot.pixel(1000, 740) == (0xD0, 0x4A, 0x1C)
    assert screenshot.fraction_near((0xD0, 0x4A, 0x1C)) > 0.5


def test_screen_shows_terminal(rig):
    screenshot = rig.screenshot()

    assert screenshot.pixel(200, 200) == (255, 255, 255)


def test_terminal_records_typing(rig):
    rig.display.run(["xdotool", "type", "--delay", "5", "hello rig"])
    rig.display.run(["xdotool", "key", "Return"])

    deadline = time.monotonic() + 5
    while "hello rig" not in rig.typed_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rig.typed_text() == "hello rig\n"


def test_stop_ends_every_process(tmp_path):
    rig = DesktopRig(str(tmp_path))
    try:
        rig.start()
    except ProgramNotFound as error:
        pytest.skip(str(error))
    processes = [rig.display.process, rig.terminal, rig.shadow.process]
    port = rig.port

    rig.stop()

    assert [process.poll() is not None for process in processes] == [True, True, True]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_stop_twice_is_harmless(rig):
    rig.stop()
    rig.stop()

    assert not process_running(rig.display.process)


def test_two_displays_get_different_numbers(tmp_path):
    first = XvfbDisplay(log_path=str(tmp_path / "first.log"))
    second = XvfbDisplay(log_path=str(tmp_path / "second.log"))
    try:
        first.start()
        second.start()
        assert first.number != second.number
    except ProgramNotFound as error:
        pytest.skip(str(error))
    finally:
        first.stop()
        second.stop()


def test_failed_start_stops_display(tmp_path, monkeypatch):
    rig = DesktopRig(str(tmp_path))

    def fail(*args, **kwargs):
        raise DesktopError("shadow server failed on purpose")

    monkeypatch.setattr(rig.shadow, "start", fail)
    try:
        with pytest.raises(DesktopError):
            rig.start()
    except ProgramNotFound as error:
        pytest.skip(str(error))

    assert rig.display.process is None
    assert rig.terminal is None
