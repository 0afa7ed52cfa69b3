"""uvicorn settings of the gateway and the parts of uvicorn it extends.

``uvicorn_options(conf)`` returns the keyword arguments for ``uvicorn.Config``
that the gateway needs. ``HandshakeTimeoutH11Protocol`` adds what uvicorn
0.55 lacks: a deadline for the first HTTP request on a new connection, so
that silent, half-open or slow connections do not stay open forever.
"""

import logging

from uvicorn.protocols.http.h11_impl import H11Protocol
from websockets.frames import Frame
from websockets.frames import Opcode

from rdpconsole import log as log_module

LOG = logging.getLogger(__name__)

# Bytes. The largest HTTP request head (request line and headers) accepted,
# as h11's own default: enough for the long cookies of a dashboard domain.
MAX_REQUEST_HEAD_SIZE = 16 * 1024

# uvicorn's loggers that may quote a request path with its query string,
# which can hold a console token. uvicorn hands "uvicorn.error" to the
# websockets library, which logs frames there.
_UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")
# The websockets library's frame lines (protocol.py, websockets 17).
_FRAME_MESSAGES = ("< %s", "> %s")
_DATA_OPCODES = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class HandshakeTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that send no complete request in time.

    The deadline runs from the TCP accept to the end of the first request
    head. It stops once a WebSocket upgrade or a response is under way;
    after a response uvicorn's own keep-alive timeout applies.
    """

    handshake_timeout = 10.0

    def connection_made(self, transport):
        super().connection_made(transport)
        self._handshake_timer = self.loop.call_later(self.handshake_timeout, self._handshake_timed_out)

    def handle_websocket_upgrade(self, event):
        self._cancel_handshake_timer()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self):
        self._cancel_handshake_timer()
        super().on_response_complete()

    def connection_lost(self, exc):
        self._cancel_handshake_timer()
        super().connection_lost(exc)

    def _cancel_handshake_timer(self):
        timer = getattr(self, "_handshake_timer", None)
        if timer is not None:
            timer.cancel()
            self._handshake_timer = None

    def _handshake_timed_out(self):
        self._handshake_timer = None
        if self.transport.is_closing():
            return
        # NOTE: self.cycle is uvicorn's per-request state (uvicorn 0.55); a
        # request whose head arrived is left to the application.
        if self.cycle is not None and not self.cycle.response_complete:
            return
        client = "%s:%d" % self.client if self.client else "unknown"
        LOG.info("Closed connection from %s: no complete HTTP request within %g s "
                 "([gateway] handshake_timeout)", client, self.handshake_timeout)
        self.transport.close()


def http_protocol_class(handshake_timeout):
    """Return a HandshakeTimeoutH11Protocol subclass with ``handshake_timeout`` seconds."""
    return type(
        "GatewayH11Protocol", (HandshakeTimeoutH11Protocol,), {"handshake_timeout": handshake_timeout}
    )


def uvicorn_options(conf):
    """Return the ``uvicorn.Config`` keyword arguments that the gateway needs.

    The caller adds the application, the socket and its own logging options.
    """
    gateway = conf.gateway
    return {
        "http": http_protocol_class(gateway.handshake_timeout),
        # The sans-I/O implementation runs no task per connection: keepalive
        # pings are timers, and reads pause after each message until the
        # application takes it, which carries backpressure to the browser.
        "ws": "websockets-sansio",
        "ws_max_size": gateway.max_message_size,
        "ws_ping_interval": gateway.ping_interval or None,
        "ws_ping_timeout": gateway.ping_timeout or None,
        # RDP data is already compressed; permessage-deflate quadruples the
        # relay's CPU time for no gain and keeps a zlib context per session.
        "ws_per_message_deflate": False,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_SIZE,
        # The gateway reads X-Forwarded-* itself, only from [gateway] trusted_proxies.
        "proxy_headers": False,
        # The gateway logs each HTTP request itself, with console tokens masked.
        "access_log": False,
        "server_header": False,
        "lifespan": "on",
    }


class RedactingFilter(logging.Filter):
    """Remove secrets from uvicorn's log records: console tokens and WebSocket payloads.

    At DEBUG, the websockets library logs every frame with the first and last
    bytes of its payload, which are RDP data (keystrokes included) or the
    RDCleanPath request with its token. Data frames are logged with their
    opcode and size only.
    """

    def filter(self, record):
        if not isinstance(record.args, tuple):
            return True
        if record.msg in _FRAME_MESSAGES and record.args and isinstance(record.args[0], Frame):
            frame = record.args[0]
            if frame.opcode in _DATA_OPCODES:
                record.args = (f"{frame.opcode.name} [{len(frame.data)} bytes, content not logged]",)
            return True
        record.args = tuple(
            log_module.mask_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
        )
        return True


def install_log_filters():
    """Attach RedactingFilter to uvicorn's loggers once per process."""
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
            logger.addFilter(RedactingFilter())
