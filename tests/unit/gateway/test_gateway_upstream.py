"""The connection to the RDP server: X.224 exchange, TLS over the same socket, and relay I/O.

A fake RDP server runs in the test's own event loop on a loopback port, with
the ``server_context`` fixture of conftest.py.
"""

import asyncio
import ssl

import pytest

from rdpconsole.gateway import errors
from rdpconsole.gateway import upstream
from rdpconsole.wire import x224

REQUEST = x224.build_connection_request()
CONFIRM = x224.build_connection_confirm(x224.Protocol.SSL)


def client_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def with_server(handler, body):
    """Run ``handler(reader, writer)`` as a loopback server and ``body(port)`` against it."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        return await asyncio.wait_for(body(server.sockets[0].getsockname()[1]), 10)
    finally:
        server.close()


async def read_tpkt(reader):
    header = await reader.readexactly(4)
    return header + await reader.readexactly(x224.read_tpkt_length(header) - 4)


def test_x224_exchange_returns_confirm():
    received = []

    async def handler(reader, writer):
        received.append(await read_tpkt(reader))
        writer.write(CONFIRM)
        await reader.read()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            return await connection.exchange_x224(REQUEST)
        finally:
            connection.abort()

    assert asyncio.run(with_server(handler, body)) == CONFIRM
    assert received == [REQUEST]


def test_x224_exchange_keeps_following_bytes():
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM + b"\x16\x03\x03")
        await reader.read()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            confirm = await connection.exchange_x224(REQUEST)
            rest = await connection._loop.sock_recv(connection._sock, 3)
            return confirm, rest
        finally:
            connection.abort()

    assert asyncio.run(with_server(handler, body)) == (CONFIRM, b"\x16\x03\x03")


def test_x224_answer_too_large():
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(x224.wrap_tpkt(b"\x00" * 1000))
        await reader.read()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            await connection.exchange_x224(REQUEST)
        finally:
            connection.abort()

    with pytest.raises(errors.X224Failed):
        asyncio.run(with_server(handler, body))


def test_x224_server_closes():
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.close()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            await connection.exchange_x224(REQUEST)
        finally:
            connection.abort()

    with pytest.raises(errors.UpstreamClosed):
        asyncio.run(with_server(handler, body))


def test_connect_refused_maps_to_wsa():
    async def body():
        listener = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        listener.close()
        await listener.wait_closed()
        await upstream.open_connection("127.0.0.1", port)

    with pytest.raises(errors.ConnectFailed) as raised:
        asyncio.run(body())

    assert raised.value.wsa_last_error == 10061


def test_tls_relay_both_ways(server_context):
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await writer.drain()
        await writer.start_tls(server_context)
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            await connection.exchange_x224(REQUEST)
            await connection.start_tls(client_context(), "127.0.0.1")
            chain = connection.peer_certificate_chain()
            connection.write(b"hello rdp")
            echoed = b""
            while len(echoed) < 9:
                echoed += await connection.read(1024)
            return chain, echoed, connection.peer_address()
        finally:
            connection.abort()

    chain, echoed, address = asyncio.run(with_server(handler, body))

    assert chain == [server_context.der]
    assert echoed == b"HELLO RDP"
    assert address.startswith("127.0.0.1:")


def test_read_returns_empty_at_end(server_context):
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await writer.drain()
        await writer.start_tls(server_context)
        writer.write(b"last words")
        await writer.drain()
        writer.close()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            await connection.exchange_x224(REQUEST)
            await connection.start_tls(client_context(), "127.0.0.1")
            data = b""
            while chunk := await connection.read(1024):
                data += chunk
            return data
        finally:
            connection.abort()

    assert asyncio.run(with_server(handler, body)) == b"last words"


def test_large_transfer_pauses_and_resumes(server_context):
    size = 3 * upstream.READ_PAUSE_THRESHOLD

    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await writer.drain()
        await writer.start_tls(server_context)
        writer.write(bytes(size))
        await writer.drain()
        writer.close()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            await connection.exchange_x224(REQUEST)
            await connection.start_tls(client_context(), "127.0.0.1")
            await asyncio.sleep(0.3)
            buffered = connection._chunks_size
            total = 0
            largest = 0
            while chunk := await connection.read(upstream.DECRYPT_CHUNK_SIZE):
                total += len(chunk)
                largest = max(largest, len(chunk))
            return buffered, total, largest
        finally:
            connection.abort()

    buffered, total, largest = asyncio.run(with_server(handler, body))

    assert buffered <= upstream.READ_PAUSE_THRESHOLD + upstream.DECRYPT_CHUNK_SIZE
    assert total == size
    assert largest <= upstream.DECRYPT_CHUNK_SIZE


def test_tls_handshake_with_non_tls_server():
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await reader.readexactly(5)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        try:
            await connection.exchange_x224(REQUEST)
            await connection.start_tls(client_context(), "127.0.0.1")
        finally:
            connection.abort()

    with pytest.raises(ssl.SSLError):
        asyncio.run(with_server(handler, body))


def test_write_after_abort_fails(server_context):
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await writer.drain()
        await writer.start_tls(server_context)
        await reader.read()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        await connection.exchange_x224(REQUEST)
        await connection.start_tls(client_context(), "127.0.0.1")
        connection.abort()
        connection.write(b"too late")

    with pytest.raises(errors.UpstreamClosed):
        asyncio.run(with_server(handler, body))


def test_abort_wakes_reader(server_context):
    async def handler(reader, writer):
        await read_tpkt(reader)
        writer.write(CONFIRM)
        await writer.drain()
        await writer.start_tls(server_context)
        await reader.read()

    async def body(port):
        connection = await upstream.open_connection("127.0.0.1", port)
        await connection.exchange_x224(REQUEST)
        await connection.start_tls(client_context(), "127.0.0.1")
        pending = asyncio.ensure_future(connection.read(1024))
        await asyncio.sleep(0.05)
        connection.abort()
        return await pending

    assert asyncio.run(with_server(handler, body)) == b""
