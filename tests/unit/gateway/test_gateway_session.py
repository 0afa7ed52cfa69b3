"""One console session through the ASGI interface, with a stub token validator and an in-loop RDP peer."""

import asyncio
import logging

import pytest

from rdpconsole.domain.consoles import hash_token
from rdpconsole.gateway import errors
from rdpconsole.gateway.limits import SessionRegistry
from rdpconsole.gateway.origins import OriginPolicy
from rdpconsole.gateway.rdp_tls import RdpTlsPolicy
from rdpconsole.gateway.session import ConsoleSession
from rdpconsole.gateway.session import GatewayContext
from rdpconsole.gateway.session import describe_disconnect
from rdpconsole.gateway.tokens import ConsoleTarget
from rdpconsole.wire import rdcleanpath
from rdpconsole.wire import x224


CONFIRM = x224.build_connection_confirm(x224.Protocol.SSL)
TOKEN = "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
SERVER_ID = "7e0d4f1c-0000-4000-8000-00000000000a"
ORIGIN = "https://console.example.org"


class Settings:
    trusted_proxies = ()
    request_timeout = 2.0
    connect_timeout = 2.0
    x224_timeout = 2.0
    tls_timeout = 2.0
    idle_timeout = 0
    max_session_duration = 0


class StubValidator:
    def __init__(self, targets):
        self.targets = targets
        self.calls = 0

    async def validate(self, token):
        self.calls += 1
        if token not in self.targets:
            raise errors.TokenInvalid("unknown")
        return self.targets[token]


class FakeWebSocket:
    """The ASGI side of uvicorn's WebSocket: a receive queue and a list of sent messages."""

    def __init__(self, messages=()):
        self.incoming = asyncio.Queue()
        for message in [{"type": "websocket.connect"}, *messages]:
            self.incoming.put_nowait(message)
        self.sent = []

    async def receive(self):
        return await self.incoming.get()

    async def send(self, message):
        self.sent.append(message)
        if message["type"] == "websocket.close":
            # uvicorn's sans-I/O WebSocket queues a disconnect when the application closes.
            self.incoming.put_nowait({"type": "websocket.disconnect", "code": message.get("code", 1000)})

    def binary(self):
        return [message["bytes"] for message in self.sent if message["type"] == "websocket.send"]


def scope(origin=None, query=b""):
    headers = [(b"host", b"gateway:6083")]
    if origin:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "path": "/ws", "query_string": query, "headers": headers,
            "client": ("198.51.100.7", 50000), "scheme": "ws",
            "extensions": {"websocket.http.response": {}}}


def context(targets, registry=None):
    return GatewayContext(
        settings=Settings(),
        validator=StubValidator(targets),
        tls_policy=RdpTlsPolicy("none"),
        registry=registry or SessionRegistry(1),
        origin_policy=OriginPolicy({ORIGIN}),
    )


def request(token=TOKEN):
    return rdcleanpath.encode_request("192.0.2.10:3389", token, x224.build_connection_request())


async def run_session(gateway_context, websocket, request_scope=None):
    session = ConsoleSession(gateway_context, request_scope or scope(), websocket.receive, websocket.send)
    await asyncio.wait_for(session.run(), 10)
    return session


async def read_tpkt(reader):
    header = await reader.readexactly(4)
    return header + await reader.readexactly(x224.read_tpkt_length(header) - 4)


async def echo_server(server_context, accepted):
    async def handler(reader, writer):
        accepted.append(1)
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await writer.drain()
        await writer.start_tls(server_context)
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def target(port, path=None):
    return ConsoleTarget(SERVER_ID, "project-a", "127.0.0.1", port, path)


def test_origin_rejected_before_accept():
    websocket = FakeWebSocket()

    asyncio.run(run_session(context({}), websocket, scope(origin="https://evil.example.net")))

    assert websocket.sent[0] == {
        "type": "websocket.http.response.start", "status": 403,
        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
    }


def test_missing_token_refused():
    websocket = FakeWebSocket([{"type": "websocket.receive", "bytes": request("")}])

    asyncio.run(run_session(context({}), websocket))
    reply = rdcleanpath.decode_response(websocket.binary()[0])

    assert websocket.sent[0] == {"type": "websocket.accept"}
    assert reply.http_status_code == 401
    assert websocket.sent[-1]["type"] == "websocket.close"


def test_unknown_token_refused():
    websocket = FakeWebSocket([{"type": "websocket.receive", "bytes": request()}])

    asyncio.run(run_session(context({}), websocket))

    assert rdcleanpath.decode_response(websocket.binary()[0]).http_status_code == 404


def test_request_timeout():
    websocket = FakeWebSocket()
    gateway_context = context({})
    gateway_context.settings.request_timeout = 0.1

    asyncio.run(run_session(gateway_context, websocket))

    assert rdcleanpath.decode_response(websocket.binary()[0]).http_status_code == 408


def test_client_gone_sends_nothing():
    websocket = FakeWebSocket([{"type": "websocket.disconnect", "code": 1001}])

    asyncio.run(run_session(context({}), websocket))

    assert websocket.binary() == []


def test_hyperv_target_refused(server_context):
    async def scenario():
        accepted = []
        server, port = await echo_server(server_context, accepted)
        websocket = FakeWebSocket([{"type": "websocket.receive", "bytes": request()}])
        await run_session(context({TOKEN: target(port, path="6a7f3e1c")}), websocket)
        server.close()
        return websocket, accepted

    websocket, accepted = asyncio.run(scenario())

    assert rdcleanpath.decode_response(websocket.binary()[0]).http_status_code == 501
    assert accepted == []


def test_cap_refuses_second_session(server_context):
    registry = SessionRegistry(1)

    async def scenario():
        accepted = []
        server, port = await echo_server(server_context, accepted)
        websocket = FakeWebSocket([{"type": "websocket.receive", "bytes": request()}])
        with registry.hold(hash_token(TOKEN), "held"):
            await run_session(context({TOKEN: target(port)}, registry), websocket)
        server.close()
        return websocket, accepted

    websocket, accepted = asyncio.run(scenario())

    assert rdcleanpath.decode_response(websocket.binary()[0]).http_status_code == 429
    assert accepted == []


def test_session_relays_and_audits(server_context, caplog):
    caplog.set_level(logging.INFO, logger="rdpconsole.gateway.audit")

    async def scenario():
        accepted = []
        server, port = await echo_server(server_context, accepted)
        websocket = FakeWebSocket([
            {"type": "websocket.receive", "bytes": request()[:7]},
            {"type": "websocket.receive", "bytes": request()[7:]},
        ])
        session_task = asyncio.ensure_future(run_session(context({TOKEN: target(port)}), websocket))
        while len(websocket.binary()) < 1:
            await asyncio.sleep(0.01)
        websocket.incoming.put_nowait({"type": "websocket.receive", "bytes": b"ping over rdp"})
        while len(websocket.binary()) < 2:
            await asyncio.sleep(0.01)
        websocket.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        session = await session_task
        server.close()
        return websocket, session

    websocket, session = asyncio.run(scenario())
    reply = rdcleanpath.decode_response(websocket.binary()[0])

    assert reply.x224_connection_response == CONFIRM
    assert websocket.binary()[1] == b"ping over rdp"
    assert session.bytes_to_server == len(b"ping over rdp")
    assert session.bytes_to_client == len(b"ping over rdp")
    assert "started" in caplog.text
    assert "reason: client closed the WebSocket (close code 1000)" in caplog.text
    assert TOKEN not in caplog.text


def test_text_message_during_relay_closes(server_context):
    async def scenario():
        accepted = []
        server, port = await echo_server(server_context, accepted)
        websocket = FakeWebSocket([
            {"type": "websocket.receive", "bytes": request()},
            {"type": "websocket.receive", "text": "not binary"},
        ])
        session = await run_session(context({TOKEN: target(port)}), websocket)
        server.close()
        return websocket, session

    websocket, session = asyncio.run(scenario())

    assert websocket.sent[-1] == {"type": "websocket.close", "code": 1003}
    assert "text message" in session.end_reason


@pytest.mark.parametrize(("code", "words"), [(1000, "client closed"), (1005, "ping timeout"),
                                              (1012, "shutting down"), (1009, "max_message_size")])
def test_describe_disconnect(code, words):
    assert words in describe_disconnect(code)
