"""Whole-system console tests: Compute API, console gateway, browser and a real RDP server.

Each test starts `rdpconsole serve` on free loopback ports, registers a
server whose console is FreeRDP's shadow server (reached through a
connection-counting forwarder), requests a console URL from the API and opens it
in headless Chromium.
"""

import importlib
import time
import uuid

import pytest

from rdpconsole.desktop import free_tcp_port

from console_page import error_message, sign_in, wait_for_colour, wait_for_status, wait_for_typed

try:
    importlib.import_module("rdpconsole.gateway.app")
except ImportError as error:
    pytestmark = pytest.mark.skip(reason=f"the console gateway (rdpconsole.gateway.app) cannot be imported: {error}")

# Share of the canvas in the desktop's background colour once the first
# picture is drawn: the terminal covers about a fifth of the 1024x768 screen.
BACKGROUND_SHARE = 0.5


def test_console_shows_desktop(page, rdpconsole_service, desktop, rdp_counter):
    service = rdpconsole_service()
    server_id = service.create_server(rdp_counter.port)
    url = service.console_url(server_id)

    page.goto(f"{url}&title=desk({server_id})")
    sign_in(page)

    assert wait_for_status(page, "^Connected to desk").startswith(f"Connected to desk({server_id}).")
    share = wait_for_colour(page, desktop.background_rgb, BACKGROUND_SHARE)
    assert share >= BACKGROUND_SHARE, page.log_lines
    assert [line for line in page.log_lines if "Content Security Policy" in line] == []
    # The gateway sends one PDU per message only until the connection sequence is over.
    assert "the connection sequence ended with the Font Map PDU" in service.log()


def test_typing_reaches_desktop(page, rdpconsole_service, desktop, rdp_counter):
    service = rdpconsole_service()
    url = service.console_url(service.create_server(rdp_counter.port))
    marker = f"typed-{uuid.uuid4().hex[:8]}"

    page.goto(url)
    sign_in(page)
    wait_for_status(page, "^Connected to")
    wait_for_colour(page, desktop.background_rgb, BACKGROUND_SHARE)
    page.click("iron-remote-desktop", position={"x": 40, "y": 40})
    page.keyboard.type(marker)
    page.keyboard.press("Enter")

    assert f"{marker}\n" in wait_for_typed(desktop, marker)


def test_disconnect_returns_to_sign_in(page, rdpconsole_service, desktop, rdp_counter):
    service = rdpconsole_service()
    url = service.console_url(service.create_server(rdp_counter.port))
    page.goto(f"{url}&title=desk")
    sign_in(page)
    wait_for_status(page, "^Connected to")

    page.click("#disconnect")

    assert wait_for_status(page, "^Disconnected") == "Disconnected from desk."
    assert page.locator("#login").is_visible()
    assert page.locator("#error").is_hidden()


def test_console_under_path_prefix(page, rdpconsole_service, desktop, rdp_counter):
    service = rdpconsole_service()
    url = service.console_url(service.create_server(rdp_counter.port))
    token = url.split("token=", 1)[1].split("&", 1)[0]

    page.goto(f"http://127.0.0.1:{service.gateway_port}/proxied/console/?token={token}")
    sign_in(page)

    assert wait_for_status(page, "^Connected to").startswith("Connected to")


def test_unknown_token_rejected(page, rdpconsole_service, desktop, rdp_counter):
    service = rdpconsole_service()
    service.create_server(rdp_counter.port)
    connections_before = rdp_counter.count

    page.goto(f"http://127.0.0.1:{service.gateway_port}/?token={uuid.uuid4()}")
    sign_in(page)

    assert error_message(page).startswith("This console link is invalid or has expired."), page.log_lines
    assert rdp_counter.count == connections_before


def test_expired_token_rejected(page, rdpconsole_service, desktop, rdp_counter):
    service = rdpconsole_service(token_ttl=1)
    url = service.console_url(service.create_server(rdp_counter.port))
    connections_before = rdp_counter.count
    time.sleep(2.5)

    page.goto(url)
    sign_in(page)

    assert error_message(page).startswith("This console link is invalid or has expired."), page.log_lines
    assert rdp_counter.count == connections_before


def test_stopped_rdp_server_reported(page, rdpconsole_service):
    service = rdpconsole_service()
    url = service.console_url(service.create_server(free_tcp_port()))

    page.goto(url)
    sign_in(page)

    assert error_message(page).startswith("The server refused the remote desktop connection."), page.log_lines
