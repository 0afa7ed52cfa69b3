"""RDP_PRECONNECTION_PDU (MS-RDPEPS 2.2.1), sent raw right after the TCP connect.

All integers are little-endian. V1 (2.2.1.1) is 16 bytes::

    cbSize u32 = 16 | Flags u32 = 0 | Version u32 = 1 | Id u32

V2 (2.2.1.2) has the same header with Version = 2, then ``cchPCB`` u16 and
``wszPCB``, a NUL-terminated UTF-16LE string. ``cchPCB`` counts UTF-16 code
units including the terminating NUL, as FreeRDP counts them, so a 36-character
VM GUID gives cchPCB = 37 and cbSize = 16 + 2 + 37 * 2 = 92. Hyper-V's VMConnect
listener (port 2179) takes the VM GUID as ``wszPCB``.
"""

import struct
from dataclasses import dataclass

from rdpconsole.wire.errors import WireError

# Version field values (MS-RDPEPS 2.2.1.1 and 2.2.1.2).
PRECONNECTION_PDU_V1 = 1
PRECONNECTION_PDU_V2 = 2

# Bytes: cbSize, Flags, Version and Id, four u32 (MS-RDPEPS 2.2.1.1).
V1_SIZE = 16
# Bytes: the V1 fields plus cchPCB u16 (MS-RDPEPS 2.2.1.2).
V2_HEADER_SIZE = 18
# cchPCB is a u16 that includes the NUL, so wszPCB contains at most 65534 UTF-16 code units of text.
MAX_PCB_CODE_UNITS = 0xFFFF - 1

_HEADER = struct.Struct("<IIII")
_CCH_PCB = struct.Struct("<H")


class PreconnectionPduError(WireError):
    """Bytes that are not one valid RDP_PRECONNECTION_PDU."""


@dataclass(frozen=True)
class PreconnectionPdu:
    """A decoded preconnection PDU; ``blob`` is None for V1."""

    version: int
    id: int
    blob: str | None = None


def _check_id(pdu_id: int) -> None:
    if not 0 <= pdu_id <= 0xFFFFFFFF:
        raise ValueError(f"preconnection Id {pdu_id} is outside the u32 range")


def encode_preconnection_v1(pdu_id: int) -> bytes:
    """Encode an RDP_PRECONNECTION_PDU_V1 with the given Id."""
    _check_id(pdu_id)
    return _HEADER.pack(V1_SIZE, 0, PRECONNECTION_PDU_V1, pdu_id)


def encode_preconnection_v2(blob: str, pdu_id: int = 0) -> bytes:
    """Encode an RDP_PRECONNECTION_PDU_V2 carrying ``blob`` (for Hyper-V, the VM GUID)."""
    _check_id(pdu_id)
    if "\0" in blob:
        raise ValueError("preconnection blob must not contain NUL characters")
    try:
        text = blob.encode("utf-16-le")
    except UnicodeEncodeError:
        raise ValueError("preconnection blob is not encodable as UTF-16") from None
    code_units = len(text) // 2
    if code_units > MAX_PCB_CODE_UNITS:
        raise ValueError(
            f"preconnection blob has {code_units} UTF-16 code units, more than {MAX_PCB_CODE_UNITS}"
        )

    cch_pcb = code_units + 1
    size = V2_HEADER_SIZE + 2 * cch_pcb
    return _HEADER.pack(size, 0, PRECONNECTION_PDU_V2, pdu_id) + _CCH_PCB.pack(cch_pcb) + text + b"\0\0"


def decode_preconnection(data: bytes) -> PreconnectionPdu:
    """Decode exactly one RDP_PRECONNECTION_PDU, V1 or V2."""
    if len(data) < V1_SIZE:
        raise PreconnectionPduError(f"preconnection PDU is {len(data)} bytes, shorter than {V1_SIZE}")

    size, flags, version, pdu_id = _HEADER.unpack_from(data)
    if size != len(data):
        raise PreconnectionPduError(f"preconnection PDU cbSize is {size}, but {len(data)} bytes were given")
    if flags != 0:
        raise PreconnectionPduError(f"preconnection PDU Flags is 0x{flags:x}, expected 0")

    if version == PRECONNECTION_PDU_V1:
        if size != V1_SIZE:
            raise PreconnectionPduError(f"preconnection PDU V1 cbSize is {size}, expected {V1_SIZE}")
        return PreconnectionPdu(version=version, id=pdu_id)
    if version != PRECONNECTION_PDU_V2:
        raise PreconnectionPduError(f"unknown preconnection PDU version {version}, expected 1 or 2")

    if size < V2_HEADER_SIZE:
        raise PreconnectionPduError(f"preconnection PDU V2 is {size} bytes, shorter than {V2_HEADER_SIZE}")
    (cch_pcb,) = _CCH_PCB.unpack_from(data, V1_SIZE)
    if size != V2_HEADER_SIZE + 2 * cch_pcb:
        raise PreconnectionPduError(
            f"preconnection PDU V2 cbSize is {size}, but cchPCB {cch_pcb} requires "
            f"{V2_HEADER_SIZE + 2 * cch_pcb}"
        )
    if cch_pcb == 0 or data[-2:] != b"\0\0":
        raise PreconnectionPduError("preconnection PDU V2 wszPCB is not NUL-terminated")

    try:
        blob = data[V2_HEADER_SIZE:-2].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise PreconnectionPduError(f"preconnection PDU V2 wszPCB is not valid UTF-16LE: {exc.reason}") from exc
    if "\0" in blob:
        raise PreconnectionPduError("preconnection PDU V2 wszPCB contains a NUL before its end")
    return PreconnectionPdu(version=version, id=pdu_id, blob=blob)
