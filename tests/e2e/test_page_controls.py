"""The console page's controls, relayed to the real RDP server by the stub gateway (stub_gateway.py)."""

import uuid

import pytest

from console_page import error_message, sign_in, wait_for_colour, wait_for_status, wait_for_typed

TOKEN = "0d8e3c52-8a57-4d0b-a8f4-1f2ad8e4b3c7"
BACKGROUND_SHARE = 0.5

CANVAS_BOX_JS = """() => {
    const canvas = document.querySelector('iron-remote-desktop').shadowRoot.querySelector('canvas');
    const box = canvas.getBoundingClientRect();
    return [Math.round(box.width), Math.round(box.height)];
}"""


@pytest.fixture
def connected_page(page, stub_gateway, desktop):
    """A page connected to the desktop through the stub gateway, with the first picture drawn."""
    gateway = stub_gateway(lambda token: ("relay", desktop.host, desktop.port))
    page.goto(gateway.url(token=TOKEN, title="desk(42)"))
    sign_in(page)
    wait_for_status(page, "^Connected to desk")
    wait_for_colour(page, desktop.background_rgb, BACKGROUND_SHARE)
    page.gateway = gateway
    return page


def test_session_closed_by_gateway(connected_page):
    connected_page.gateway.close_sessions()

    assert error_message(connected_page).startswith("The remote desktop connection was closed.")
    assert wait_for_status(connected_page, "^Disconnected") == "Disconnected from desk(42)."
    assert connected_page.locator("#login").is_visible()


def test_keyboard_leaves_desktop(connected_page, desktop):
    marker = f"after-{uuid.uuid4().hex[:8]}"
    connected_page.click("iron-remote-desktop", position={"x": 40, "y": 40})

    connected_page.keyboard.down("Control")
    connected_page.keyboard.down("Alt")
    connected_page.keyboard.down("Shift")
    connected_page.keyboard.up("Shift")
    connected_page.keyboard.up("Alt")
    connected_page.keyboard.up("Control")
    focused = connected_page.evaluate("() => document.activeElement.id")
    connected_page.click("iron-remote-desktop", position={"x": 40, "y": 40})
    connected_page.keyboard.type(marker)
    connected_page.keyboard.press("Enter")

    assert focused == "ctrl-alt-del"
    assert f"{marker}\n" in wait_for_typed(desktop, marker)


def test_fit_toggles_actual_size(connected_page):
    fitted = connected_page.evaluate(CANVAS_BOX_JS)

    connected_page.click("#fit")
    connected_page.wait_for_timeout(300)
    actual = connected_page.evaluate(CANVAS_BOX_JS)

    assert connected_page.get_attribute("#fit", "aria-pressed") == "false"
    assert actual == [1024, 768]
    assert fitted != actual


def test_clipboard_needs_server_support(connected_page):
    connected_page.click("#clipboard-toggle")
    connected_page.fill("#clipboard-local", "some text")

    connected_page.click("#clipboard-send")

    assert wait_for_status(connected_page, "^The server has not enabled clipboard sharing").endswith(
        "Type the text on the remote desktop instead.")
    assert connected_page.locator("#disconnect").is_enabled()


def test_disconnect_button(connected_page):
    connected_page.click("#disconnect")

    assert wait_for_status(connected_page, "^Disconnected") == "Disconnected from desk(42)."
    assert connected_page.locator("#error").is_hidden()
