"""RDP_PRECONNECTION_PDU V1 and V2 (MS-RDPEPS 2.2.1)."""

import pytest

from rdpconsole.wire.preconnection import (
    PreconnectionPdu,
    PreconnectionPduError,
    decode_preconnection,
    encode_preconnection_v1,
    encode_preconnection_v2,
)

VM_GUID = "0d6a1c63-1c1e-4d5b-9a8f-2c7a0f3a1b2c"


def test_v1_bytes():
    # cbSize 16, Flags 0, Version 1, Id 0x12345678; all u32 little-endian.
    expected = bytes.fromhex("10000000" "00000000" "01000000" "78563412")
    assert encode_preconnection_v1(0x12345678) == expected


def test_v1_round_trip():
    assert decode_preconnection(encode_preconnection_v1(7)) == PreconnectionPdu(version=1, id=7)


def test_v2_guid_sizes():
    data = encode_preconnection_v2(VM_GUID)
    assert len(data) == 92
    assert int.from_bytes(data[0:4], "little") == 92
    assert int.from_bytes(data[16:18], "little") == 37


def test_v2_bytes():
    # cbSize 26, Flags 0, Version 2, Id 0, cchPCB 4, "abc" and NUL in UTF-16LE.
    expected = bytes.fromhex("1a000000" "00000000" "02000000" "00000000" "0400" "610062006300" "0000")
    assert encode_preconnection_v2("abc") == expected


def test_v2_round_trip():
    decoded = decode_preconnection(encode_preconnection_v2(VM_GUID, pdu_id=3))
    assert decoded == PreconnectionPdu(version=2, id=3, blob=VM_GUID)


def test_v2_non_bmp_counts_code_units():
    # U+1F600 takes two UTF-16 code units, so cchPCB is 3.
    data = encode_preconnection_v2("\U0001F600")
    assert int.from_bytes(data[16:18], "little") == 3
    assert decode_preconnection(data).blob == "\U0001F600"


def test_v2_empty_blob():
    data = encode_preconnection_v2("")
    assert len(data) == 20
    assert decode_preconnection(data).blob == ""


def test_v2_maximum_blob():
    data = encode_preconnection_v2("x" * 65534)
    assert int.from_bytes(data[16:18], "little") == 65535


def test_v2_blob_too_long():
    with pytest.raises(ValueError):
        encode_preconnection_v2("x" * 65535)


def test_v2_blob_with_nul():
    with pytest.raises(ValueError, match="NUL"):
        encode_preconnection_v2("a\0b")


def test_id_out_of_range():
    with pytest.raises(ValueError):
        encode_preconnection_v1(1 << 32)


def test_decode_short():
    with pytest.raises(PreconnectionPduError, match="shorter"):
        decode_preconnection(bytes(15))


def test_decode_size_mismatch():
    with pytest.raises(PreconnectionPduError, match="cbSize"):
        decode_preconnection(encode_preconnection_v1(1) + b"\0")


def test_decode_nonzero_flags():
    data = bytearray(encode_preconnection_v1(1))
    data[4] = 1
    with pytest.raises(PreconnectionPduError, match="Flags"):
        decode_preconnection(bytes(data))


def test_decode_unknown_version():
    data = bytearray(encode_preconnection_v1(1))
    data[8] = 3
    with pytest.raises(PreconnectionPduError, match="version 3"):
        decode_preconnection(bytes(data))


def test_decode_v2_cch_mismatch():
    data = bytearray(encode_preconnection_v2("abc"))
    data[16] = 5
    with pytest.raises(PreconnectionPduError, match="cchPCB"):
        decode_preconnection(bytes(data))


def test_decode_v2_missing_terminator():
    data = bytearray(encode_preconnection_v2("abc"))
    data[-2:] = b"d\0"
    with pytest.raises(PreconnectionPduError, match="NUL-terminated"):
        decode_preconnection(bytes(data))


def test_decode_v2_zero_cch():
    data = bytes.fromhex("12000000" "00000000" "02000000" "00000000" "0000")
    with pytest.raises(PreconnectionPduError):
        decode_preconnection(data)


def test_decode_v2_lone_surrogate():
    data = bytes.fromhex("16000000" "00000000" "02000000" "00000000" "0200" "00d8" "0000")
    with pytest.raises(PreconnectionPduError, match="UTF-16LE"):
        decode_preconnection(data)


def test_decode_v2_embedded_nul():
    data = bytes.fromhex("18000000" "00000000" "02000000" "00000000" "0300" "6100" "0000" "0000")
    with pytest.raises(PreconnectionPduError, match="before its end"):
        decode_preconnection(data)
