"""The command protocol that the benchmark's load client speaks to its RDP-like endpoint.

After the X.224 exchange (and TLS on the TLS listener), the client sends
13-byte commands inside the RDP byte stream: one operation byte, a
big-endian u64 count and a big-endian u32 PDU size. The gateway and
websockify relay these bytes like any other RDP data.

- ``S`` (sink): the endpoint reads ``count`` bytes, then sends SINK_DONE.
- ``T`` (transmit): the endpoint sends ``count`` bytes as fast-path PDUs of
  ``pdu_size`` bytes each, or as bytes that start no known PDU when
  ``pdu_size`` is 0.
- ``E`` (echo): the endpoint sends back every byte it reads until the end
  of the connection.

A connection that sends no command is idle: the endpoint only waits for it.

Everything the endpoint sends is a sequence of whole fast-path PDUs (unless
``pdu_size`` is 0), as a real RDP server's stream is after the connection
sequence. The gateway cuts the server-to-client stream into one WebSocket
message per PDU, and it passes the bytes through in larger chunks once they
start no PDU that it recognises, so PDU sizes decide how much work it does.
"""

import os
import struct

OP_SINK = b"S"
OP_TRANSMIT = b"T"
OP_ECHO = b"E"

COMMAND = struct.Struct(">cQI")
COMMAND_SIZE = COMMAND.size

# Bytes per socket call on both sides of a bulk transfer.
BLOCK_SIZE = 1024 * 1024

# Fast-path output PDU (MS-RDPBCGR 2.2.9.1.2): fpOutputHeader 0 (action
# FASTPATH_OUTPUT_ACTION_FASTPATH, no flags), then a length of 1 byte, or of
# 2 bytes with the high bit of the first set, counting the whole PDU.
FASTPATH_HEADER = 0x00
MIN_FASTPATH_PDU_SIZE = 3
MAX_FASTPATH_PDU_SIZE = 0x7FFF

# The endpoint's reply to a sink command: the smallest fast-path PDU.
SINK_DONE = bytes([FASTPATH_HEADER, 3, 0])


def command(op, count=0, pdu_size=0):
    """Return the bytes of one command."""
    return COMMAND.pack(op, count, pdu_size)


def fastpath_pdu(size, payload=None):
    """Return one fast-path output PDU of ``size`` bytes in all; the payload is random unless given."""
    if not MIN_FASTPATH_PDU_SIZE <= size <= MAX_FASTPATH_PDU_SIZE:
        raise ValueError(f"fast-path PDU size must be {MIN_FASTPATH_PDU_SIZE} to {MAX_FASTPATH_PDU_SIZE}, got {size}")
    if size < 0x80:
        header = bytes([FASTPATH_HEADER, size])
    else:
        header = bytes([FASTPATH_HEADER, 0x80 | (size >> 8), size & 0xFF])
    body_size = size - len(header)
    return header + (payload if payload is not None else os.urandom(body_size))[:body_size]


def transmit_block(pdu_size):
    """Return about BLOCK_SIZE bytes of whole PDUs of ``pdu_size`` bytes (0: random bytes, no PDUs)."""
    if pdu_size == 0:
        # 0xFF starts no TPKT (3), CredSSP (0x30) or fast-path PDU (low 6 bits zero).
        return b"\xff" + os.urandom(BLOCK_SIZE - 1)
    count = max(1, BLOCK_SIZE // pdu_size)
    payload = os.urandom(pdu_size)
    return fastpath_pdu(pdu_size, payload) * count
