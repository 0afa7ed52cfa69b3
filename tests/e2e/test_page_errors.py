"""The console page against a stub gateway: what the user reads for each gateway reply.

The stub gateway (stub_gateway.py) replies with chosen RDCleanPath errors,
which the real gateway produces only in hard-to-arrange situations. The
real gateway is covered in test_console.py.
"""

import pytest

from console_page import error_message, sign_in, wait_for_status

TOKEN = "6f1a6a3e-4a4e-4c43-9d52-1b7f1b1f0c9e"

# X.224 Connection Confirm carrying RDP_NEG_FAILURE with failureCode
# HYBRID_REQUIRED_BY_SERVER (MS-RDPBCGR 2.2.1.2.2): TPKT header, X.224 CC TPDU, 8-byte failure.
NEGOTIATION_FAILURE_CONFIRM = bytes.fromhex("030000130ed000001234000300080005000000")

ERROR_CASES = [
    ({"http_status": 401}, "This page was opened without a console token."),
    ({"http_status": 403}, "The console gateway rejected this connection (forbidden)."),
    ({"http_status": 404}, "This console link is invalid or has expired."),
    ({"http_status": 429}, "Too many console sessions are open with this console link."),
    ({"http_status": 501}, "Consoles of Hyper-V virtual machines are not supported yet."),
    ({"http_status": 500}, "The console gateway rejected the connection (HTTP status 500)."),
    ({"wsa_error": 10061}, "The server refused the remote desktop connection."),
    ({"wsa_error": 10060}, "The connection to the server timed out."),
    ({"wsa_error": 11001}, "The console gateway could not find the server's console host by name."),
    ({"wsa_error": 10065}, "The server's console address is unreachable from the console gateway (no route to host)."),
    ({"wsa_error": 10050}, "The console gateway could not reach the server (Windows Sockets error 10050)."),
    ({"tls_alert": 40}, "The secure connection between the console gateway and the server failed (TLS alert 40)."),
    ({}, "The console gateway could not open a secure connection to the server's remote desktop."),
    ({"error_code": 2, "x224": NEGOTIATION_FAILURE_CONFIRM},
     "The server rejected the security settings of the connection (RDP negotiation failed)."),
]


@pytest.mark.parametrize("error, sentence", ERROR_CASES, ids=[repr(case[0])[:40] for case in ERROR_CASES])
def test_gateway_error_sentence(page, stub_gateway, error, sentence):
    gateway = stub_gateway(lambda token: ("error", error))
    page.goto(gateway.url(token=TOKEN, title="desk(42)"))

    sign_in(page)

    assert error_message(page).startswith(sentence), page.log_lines
    assert wait_for_status(page, "^Could not connect") == "Could not connect to desk(42)."
    assert page.locator("#login").is_visible()


def test_request_carries_token_as_proxy_auth(page, stub_gateway):
    gateway = stub_gateway(lambda token: ("error", {"http_status": 404}))
    page.goto(gateway.url("/console/", token=TOKEN))

    sign_in(page)
    error_message(page)

    assert len(gateway.requests) == 1
    assert gateway.requests[0]["proxy_auth"] == TOKEN
    assert gateway.requests[0]["destination"] != ""
    assert gateway.requests[0]["has_x224"]


def test_rejected_websocket_handshake(page, stub_gateway):
    gateway = stub_gateway(lambda token: ("error", {}))
    gateway.reject_websocket = True
    page.goto(gateway.url(token=TOKEN))

    sign_in(page)

    assert error_message(page).startswith("The browser could not open a connection to the console gateway.")
    assert gateway.requests == []


def test_missing_token_needs_no_connection(page, stub_gateway):
    gateway = stub_gateway(lambda token: ("error", {}))
    page.goto(gateway.url(token=""))

    assert error_message(page).startswith("This page was opened without a console token.")
    assert page.locator("#login").is_hidden()
    assert gateway.requests == []


def test_title_is_shown_as_text(page, stub_gateway):
    title = '<img src=x id=injected>(9f1c)'
    gateway = stub_gateway(lambda token: ("error", {}))
    page.goto(gateway.url(token=TOKEN, title=title))
    page.locator("#login").wait_for(state="visible")

    assert page.text_content("#server-name") == title
    assert page.locator("#injected").count() == 0
    assert page.title() == f"{title} – RDP console"


def test_password_field_cleared_after_connect(page, stub_gateway):
    gateway = stub_gateway(lambda token: ("error", {"http_status": 404}))
    page.goto(gateway.url(token=TOKEN))

    sign_in(page, username="alice", password="secret", domain="EXAMPLE")
    error_message(page)

    assert page.input_value("#username") == "alice"
    assert page.input_value("#password") == ""
    assert page.input_value("#domain") == "EXAMPLE"
