"""uvicorn settings of the gateway and the redaction of uvicorn's log records."""

import logging
import types

from oslo_config import cfg
from websockets.frames import Frame
from websockets.frames import Opcode

from rdpconsole.conf import gateway
from rdpconsole.gateway.server import HandshakeTimeoutH11Protocol
from rdpconsole.gateway.server import RedactingFilter
from rdpconsole.gateway.server import uvicorn_options

TOKEN = "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f"


def gateway_conf(**values):
    """Return an object shaped like CONF with the [gateway] defaults, changed by ``values``."""
    conf = cfg.ConfigOpts()
    gateway.register_opts(conf)
    conf([], project="rdpconsole", default_config_files=[], default_config_dirs=[])
    options = {opt.dest: getattr(conf.gateway, opt.dest) for opt in gateway.gateway_opts}
    options.update(values)
    return types.SimpleNamespace(gateway=types.SimpleNamespace(**options))


def record(msg, *args):
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


def test_options_turn_compression_off():
    assert uvicorn_options(gateway_conf())["ws_per_message_deflate"] is False


def test_options_use_sans_io_websockets():
    assert uvicorn_options(gateway_conf())["ws"] == "websockets-sansio"


def test_options_max_message_size():
    assert uvicorn_options(gateway_conf(max_message_size=2 * 1024 * 1024))["ws_max_size"] == 2 * 1024 * 1024


def test_options_ping_zero_means_off():
    options = uvicorn_options(gateway_conf(ping_interval=0, ping_timeout=0))

    assert options["ws_ping_interval"] is None
    assert options["ws_ping_timeout"] is None


def test_options_handshake_timeout_class():
    protocol = uvicorn_options(gateway_conf(handshake_timeout=2.5))["http"]

    assert issubclass(protocol, HandshakeTimeoutH11Protocol)
    assert protocol.handshake_timeout == 2.5


def test_options_leave_proxy_headers_to_gateway():
    options = uvicorn_options(gateway_conf())

    assert options["proxy_headers"] is False
    assert options["access_log"] is False


def test_filter_masks_token_in_path():
    entry = record('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws?token={TOKEN}")

    RedactingFilter().filter(entry)

    assert TOKEN not in entry.getMessage()


def test_filter_hides_binary_frame_content():
    entry = record("< %s", Frame(Opcode.BINARY, b"secret keystrokes"))

    RedactingFilter().filter(entry)

    assert "secret" not in entry.getMessage()
    assert "17 bytes" in entry.getMessage()


def test_filter_keeps_control_frames():
    entry = record("> %s", Frame(Opcode.PING, b"\x01\x02\x03\x04"))

    RedactingFilter().filter(entry)

    assert "PING" in entry.getMessage()


def test_filter_keeps_mapping_arguments():
    entry = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "%(a)s", ({"a": "b"},), None)

    RedactingFilter().filter(entry)

    assert entry.getMessage() == "b"
