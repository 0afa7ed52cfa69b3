"""One console session: a WebSocket from the browser, relayed to the RDP server of its token.

The session speaks RDCleanPath (version 3390) as IronRDP's web client does:

1. Check the Origin header, then accept the WebSocket without a subprotocol.
2. Reassemble the client's RDCleanPath request from binary messages, within
   ``[gateway] request_timeout`` and the wire module's size limit.
3. Take the console token (``proxy_auth``, the URL's ``token`` parameter or a
   ``token`` cookie) and validate it, before any connection to an RDP server.
4. Connect to the host and port of the token's record (never to the client's
   ``destination``), send the client's X.224 Connection Request unchanged,
   read the Confirm, and run TLS on the same socket.
5. Reply with the X.224 Confirm, the server's certificates and address,
   then relay bytes both ways until either side closes.

Any failure before the relay is sent to the browser as an RDCleanPath error
PDU (``errors.error_pdu``) and logged in one line.
"""

import asyncio
import dataclasses
import logging
import secrets
import ssl

from rdpconsole.domain import consoles
from rdpconsole.gateway import audit
from rdpconsole.gateway import errors
from rdpconsole.gateway import origins
from rdpconsole.gateway import rdp_tls
from rdpconsole.gateway import tokens
from rdpconsole.gateway import upstream
from rdpconsole.wire import WireError
from rdpconsole.wire import assembler as assembler_module
from rdpconsole.wire import framing
from rdpconsole.wire import rdcleanpath
from rdpconsole.wire import x224

LOG = logging.getLogger(__name__)

# Bytes. The largest WebSocket message the gateway sends to the browser: the
# decrypted server data that is waiting is sent in one message up to this
# size. Larger messages cost fewer Python calls per byte; this bound keeps a
# busy session's buffers near the read pause threshold of upstream.py.
MAX_MESSAGE_TO_CLIENT = 256 * 1024

# Characters of a client-supplied value (Origin, destination) quoted in a log line.
MAX_LOGGED_VALUE_LENGTH = 200

# WebSocket close codes (RFC 6455 section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008


@dataclasses.dataclass
class GatewayContext:
    """The objects that every session of one gateway shares."""

    settings: object
    validator: object
    tls_policy: rdp_tls.RdpTlsPolicy
    registry: object
    origin_policy: origins.OriginPolicy


def quote_for_log(value):
    """Return a client-supplied value quoted and shortened, safe to put in a log line."""
    text = repr(value)
    if len(text) > MAX_LOGGED_VALUE_LENGTH:
        return text[:MAX_LOGGED_VALUE_LENGTH] + "..."
    return text


class ConsoleSession:
    """The gateway side of one WebSocket on the ``/ws`` endpoint."""

    # Thousands of sessions stay open at once: no per-instance __dict__.
    __slots__ = (
        "_context", "_settings", "_scope", "_receive", "_send", "_view", "id", "client",
        "token_id", "server_id", "project_label", "target_label", "bytes_to_server",
        "bytes_to_client", "end_reason", "_close_code", "_connection", "_last_activity",
        "_idle_timer",
    )

    def __init__(self, context, scope, receive, send):
        self._context = context
        self._settings = context.settings
        self._scope = scope
        self._receive = receive
        self._send = send
        view = origins.RequestView(scope, context.settings.trusted_proxies)
        self._view = view

        self.id = secrets.token_hex(4)
        self.client = view.client_address
        self.token_id = "none"
        self.server_id = "unknown"
        self.project_label = "unknown"
        self.target_label = "none"
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self.end_reason = None
        self._close_code = CLOSE_NORMAL
        self._connection = None
        self._last_activity = 0.0
        self._idle_timer = None

    async def run(self):
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return

        if not self._context.origin_policy.is_allowed(self._view):
            LOG.warning(
                "WebSocket from %s rejected with HTTP 403: Origin %s is not in [gateway] "
                "allowed_origins", self.client, quote_for_log(self._view.header(b"origin")),
            )
            await reject_handshake(self._scope, self._send, 403, "WebSocket Origin not allowed.\n")
            return

        # Nothing of the handshake is needed any more; keep idle sessions small.
        self._view = None
        await self._send({"type": "websocket.accept"})
        try:
            await self._serve()
        except errors.ClientGone as error:
            LOG.debug("Console session %s from %s ended before its request: %s", self.id, self.client, error)
        except errors.GatewayError as error:
            self._log_refusal(error)
            await self._send_error(error)

    async def _serve(self):
        request = await self._read_request()
        token = tokens.select_token(
            request.proxy_auth,
            self._scope.get("query_string", b""),
            self._cookie_header(),
        )
        token_hash = consoles.hash_token(token)
        self.token_id = consoles.token_log_id(token_hash=token_hash)

        # Drop the clear token once it is validated; the request, which carries
        # it too, goes once the server connection is up.
        target = await self._context.validator.validate(token)
        del token
        self._scope = None
        self._remember_target(target, request)

        if target.internal_access_path:
            raise errors.HyperVNotSupported(
                f"server {target.instance_uuid} is a Hyper-V VM (internal_access_path set); the "
                "gateway does not connect to Hyper-V's VMConnect listener yet"
            )

        with self._context.registry.hold(token_hash, self.token_id):
            connection, response = await self._connect(target, request)
            self._connection = connection
            # This frame lives as long as the session: keep no request or response in it.
            del request, target
            try:
                await self._send({"type": "websocket.send", "bytes": response})
            except OSError:
                connection.abort()
                raise errors.ClientGone("the client disconnected before the RDCleanPath response") from None
            del response

            loop = asyncio.get_running_loop()
            started = loop.time()
            audit.session_started(self)
            try:
                await self._relay(connection)
            finally:
                connection.abort()
                self._set_end_reason("the gateway stopped the session (shutdown or internal error)")
                audit.session_ended(self, loop.time() - started)

    def _cookie_header(self):
        for name, value in self._scope.get("headers") or []:
            if name == b"cookie":
                return value.decode("latin-1")
        return None

    def _remember_target(self, target, request):
        self.server_id = target.instance_uuid
        self.project_label = target.project_id or "unknown"
        self.target_label = rdp_tls.format_host_port(target.host, target.port)
        if request.destination != self.target_label:
            LOG.debug(
                "Console session %s: the client named destination %s; connecting to the "
                "token's endpoint %s instead", self.id, quote_for_log(request.destination),
                self.target_label,
            )

    # Step 2: the RDCleanPath request

    async def _read_request(self):
        assembler = assembler_module.RequestAssembler()
        try:
            async with asyncio.timeout(self._settings.request_timeout):
                while True:
                    message = await self._receive()
                    if message["type"] == "websocket.disconnect":
                        raise errors.ClientGone(
                            f"WebSocket closed with code {message.get('code')} after "
                            f"{assembler.buffered} bytes of the request"
                        )
                    data = message.get("bytes")
                    if data is None:
                        self._close_code = CLOSE_UNSUPPORTED_DATA
                        raise errors.MalformedRequest("the client sent a text message; RDCleanPath uses binary messages")
                    pdu = assembler.feed(data)
                    if pdu is not None:
                        break
        except TimeoutError:
            raise errors.RequestTimedOut(
                f"no complete RDCleanPath request within {self._settings.request_timeout:g} s "
                f"([gateway] request_timeout); {assembler.buffered} bytes received"
            ) from None
        except WireError as error:
            self._close_code = CLOSE_PROTOCOL_ERROR
            raise errors.MalformedRequest(f"invalid RDCleanPath request: {error}") from None

        try:
            request = rdcleanpath.decode_request(pdu)
        except WireError as error:
            self._close_code = CLOSE_PROTOCOL_ERROR
            raise errors.MalformedRequest(f"invalid RDCleanPath request: {error}") from None

        if request.x224_connection_request is None:
            raise errors.MalformedRequest(
                "RDCleanPath request without an X.224 Connection Request (VMConnect shape); "
                "the gateway needs the X.224 request"
            )
        try:
            x224.parse_connection_request(request.x224_connection_request)
        except WireError as error:
            raise errors.MalformedRequest(f"invalid X.224 Connection Request in the RDCleanPath request: {error}") from None
        if request.preconnection_blob:
            LOG.debug("Console session %s: ignoring the client's preconnection blob; the target "
                      "comes only from the token's record", self.id)
        return request

    # Step 4: connect, X.224 and TLS

    async def _connect(self, target, request):
        settings = self._settings
        host, port = target.host, target.port
        try:
            async with asyncio.timeout(settings.connect_timeout):
                connection = await upstream.open_connection(host, port)
        except TimeoutError:
            raise errors.UpstreamTimedOut(
                f"TCP connect to {self.target_label} timed out after {settings.connect_timeout:g} s "
                "([gateway] connect_timeout)", step="TCP connect",
            ) from None

        try:
            confirm = await self._exchange_x224(connection, request)
            chain = await self._start_tls(connection, host, port)
            response = rdcleanpath.encode_response(confirm, chain, connection.peer_address())
        except BaseException:
            connection.abort()
            raise
        return connection, response

    async def _exchange_x224(self, connection, request):
        timeout = self._settings.x224_timeout
        try:
            async with asyncio.timeout(timeout):
                confirm = await connection.exchange_x224(request.x224_connection_request)
        except TimeoutError:
            raise errors.UpstreamTimedOut(
                f"{self.target_label} sent no X.224 Connection Confirm within {timeout:g} s "
                "([gateway] x224_timeout)", step="X.224 Connection Confirm",
            ) from None

        try:
            parsed = x224.parse_connection_confirm(confirm)
        except WireError as error:
            raise errors.X224Failed(f"invalid X.224 Connection Confirm from {self.target_label}: {error}") from None
        if parsed.is_failure:
            raise errors.NegotiationFailed(
                f"{self.target_label} refused the RDP security negotiation: "
                f"{parsed.negotiation.reason}", confirm=confirm,
            )
        if parsed.negotiation is None or parsed.negotiation.selected_protocol == x224.Protocol.RDP:
            raise errors.X224Failed(
                f"{self.target_label} selected standard RDP security without TLS, which "
                "RDCleanPath cannot carry; enable TLS or NLA on the RDP server"
            )
        return confirm

    async def _start_tls(self, connection, host, port):
        policy = self._context.tls_policy
        timeout = self._settings.tls_timeout
        try:
            async with asyncio.timeout(timeout):
                await connection.start_tls(policy.context, policy.server_hostname(host))
        except TimeoutError:
            raise errors.UpstreamTimedOut(
                f"TLS handshake with {self.target_label} did not finish within {timeout:g} s "
                "([gateway] tls_timeout)", step="TLS handshake",
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise errors.CertificateRejected(
                f"certificate of {self.target_label} failed verification ([gateway] rdp_verify = "
                f"{policy.verify}): {error.verify_message}", tls_alert_code=rdp_tls.alert_for(error),
            ) from None
        except ssl.SSLError as error:
            raise errors.TlsFailed(
                f"TLS handshake with {self.target_label} failed: {error.reason or error}",
                tls_alert_code=rdp_tls.alert_for(error),
            ) from None

        chain = connection.peer_certificate_chain()
        if not chain:
            raise errors.TlsFailed(f"{self.target_label} sent no certificate")
        policy.check_pin(host, port, chain[0])
        return chain

    # Step 5: relay

    async def _relay(self, connection):
        loop = asyncio.get_running_loop()
        self._last_activity = loop.time()
        duration_timer = None
        if self._settings.idle_timeout:
            self._idle_timer = loop.call_later(self._settings.idle_timeout, self._check_idle)
        if self._settings.max_session_duration:
            duration_timer = loop.call_later(
                self._settings.max_session_duration, self._stop,
                f"maximum session duration of {self._settings.max_session_duration:g} s reached "
                "([gateway] max_session_duration)", CLOSE_NORMAL,
            )

        to_client = asyncio.create_task(self._pump_server_to_client(connection))
        try:
            await self._pump_client_to_server(connection)
        finally:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            if duration_timer is not None:
                duration_timer.cancel()
            # abort, not close: close would wait for a server that no longer reads.
            connection.abort()
            await to_client

    async def _pump_client_to_server(self, connection):
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._set_end_reason(describe_disconnect(message.get("code")))
                return
            # The message is handed over and not kept: an idle session's frame
            # would otherwise hold its last message until the next one.
            self._forward_to_server(connection, message.pop("bytes", None))
            del message
            if connection.must_drain:
                await connection.drain()

    def _forward_to_server(self, connection, data):
        if data is None:
            self._stop("client sent a text message; only binary messages are allowed",
                       CLOSE_UNSUPPORTED_DATA)
            return
        if self.end_reason is not None:
            return
        self.bytes_to_server += len(data)
        self._last_activity = asyncio.get_running_loop().time()
        try:
            connection.write(data)
        except (errors.UpstreamClosed, ssl.SSLError, OSError) as error:
            self._stop(f"writing to the RDP server failed: {error}", CLOSE_NORMAL)

    async def _pump_server_to_client(self, connection):
        loop = asyncio.get_running_loop()
        # The web client needs each PDU in a WebSocket message of its own
        # until the connection sequence is over.
        framer = framing.PduFramer()
        try:
            while True:
                data = await connection.read(MAX_MESSAGE_TO_CLIENT)
                if not data:
                    self._set_end_reason("RDP server closed the connection")
                    break
                self.bytes_to_client += len(data)
                self._last_activity = loop.time()
                was_framing = not framer.passthrough
                pdus = framer.feed(data)
                # Keep no reference to the data while the next read waits.
                del data
                if was_framing and framer.passthrough:
                    LOG.debug("Console session %s: %s; relaying the rest unframed",
                              self.id, framer.passthrough_reason)
                for pdu in pdus:
                    await self._send({"type": "websocket.send", "bytes": pdu})
                del pdus
        except errors.UpstreamClosed as error:
            self._set_end_reason(str(error))
        except OSError:
            # uvicorn raises ClientDisconnected (an OSError) once the browser is gone.
            self._set_end_reason("client disconnected")
            return
        await self._close_websocket()

    def _check_idle(self):
        loop = asyncio.get_running_loop()
        idle_for = loop.time() - self._last_activity
        remaining = self._settings.idle_timeout - idle_for
        if remaining > 0:
            self._idle_timer = loop.call_later(remaining, self._check_idle)
            return
        self._idle_timer = None
        self._stop(f"no RDP data in either direction for {self._settings.idle_timeout:g} s "
                   "([gateway] idle_timeout)", CLOSE_NORMAL)

    def _stop(self, reason, close_code):
        """End the relay: the server connection is aborted, and the WebSocket closes with ``close_code``."""
        if self._set_end_reason(reason):
            self._close_code = close_code
        if self._connection is not None:
            self._connection.abort()

    def _set_end_reason(self, reason):
        if self.end_reason is None:
            self.end_reason = reason
            return True
        return False

    # Replies

    async def _send_error(self, error):
        try:
            if not isinstance(error, errors.ClientGone):
                await self._send({"type": "websocket.send", "bytes": errors.error_pdu(error)})
            await self._close_websocket()
        except OSError:
            pass

    async def _close_websocket(self):
        try:
            await self._send({"type": "websocket.close", "code": self._close_code})
        except (OSError, RuntimeError):
            # The browser is gone, or the server already sent its close frame.
            pass

    def _log_refusal(self, error):
        LOG.log(
            error.log_level,
            "Console connection %s from %s refused (%s%s): server %s, project %s, token %s: %s",
            self.id, self.client, error.reason, _status_suffix(error), self.server_id,
            self.project_label, self.token_id, error,
        )


def describe_disconnect(code):
    """Return the end reason for a WebSocket that closed with ``code`` (RFC 6455 section 7.4.1)."""
    if code in (1005, 1006):
        # uvicorn reports 1005 both for a lost connection and for a ping without pong.
        return (f"client connection lost or WebSocket ping timeout ([gateway] ping_timeout) "
                f"(close code {code})")
    if code == 1012:
        return "gateway shutting down (close code 1012)"
    if code == 1009:
        return "client message larger than [gateway] max_message_size (close code 1009)"
    return f"client closed the WebSocket (close code {code})"


def _status_suffix(error):
    if isinstance(error, errors.NegotiationFailed):
        return ", RDCleanPath negotiation error"
    parts = []
    if error.http_status_code is not None:
        parts.append(f"HTTP {error.http_status_code}")
    if error.wsa_last_error is not None:
        parts.append(f"WSA {int(error.wsa_last_error)}")
    if error.tls_alert_code is not None:
        parts.append(f"TLS alert {error.tls_alert_code}")
    return (", " + ", ".join(parts)) if parts else ""


async def reject_handshake(scope, send, status, body):
    """Refuse a WebSocket upgrade with an HTTP response, or with 403 on servers without the ASGI extension."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send({
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        })
        await send({"type": "websocket.http.response.body", "body": body.encode("utf-8")})
    else:
        await send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
