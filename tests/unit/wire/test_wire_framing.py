"""Tests of rdpconsole.wire.framing: whole PDUs out of a split stream."""

import random

from rdpconsole.wire import framing


def tpkt(payload_size):
    length = 4 + 3 + payload_size
    return bytes([3, 0]) + length.to_bytes(2, "big") + bytes([2, 0xF0, 0x80]) + b"\x11" * payload_size


def fastpath(payload_size):
    if payload_size + 2 < 0x80:
        length = payload_size + 2
        return bytes([0x00, length]) + b"\x22" * payload_size
    length = payload_size + 3
    return bytes([0x80, 0x80 | (length >> 8), length & 0xFF]) + b"\x22" * payload_size


def tsrequest(content_size):
    if content_size < 0x80:
        return bytes([0x30, content_size]) + b"\x33" * content_size
    return bytes([0x30, 0x82]) + content_size.to_bytes(2, "big") + b"\x33" * content_size


def test_whole_pdus_come_out_one_each():
    pdus = [tpkt(10), fastpath(5), fastpath(300), tpkt(2000), tsrequest(4), tsrequest(200)]
    framer = framing.PduFramer()

    assert framer.feed(b"".join(pdus)) == pdus
    assert framer.buffered == 0


def test_split_at_every_byte_gives_same_pdus():
    pdus = [tsrequest(150), tpkt(40), fastpath(130), fastpath(1), tpkt(0)]
    stream = b"".join(pdus)
    for cut in range(1, len(stream)):
        framer = framing.PduFramer()
        out = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        assert out == pdus, cut


def test_random_chunks_give_same_pdus():
    generator = random.Random(1234)
    pdus = [generator.choice([tpkt, fastpath])(generator.randrange(0, 3000)) for _ in range(200)]
    stream = b"".join(pdus)
    framer = framing.PduFramer()
    out = []
    offset = 0
    while offset < len(stream):
        size = generator.randrange(1, 5000)
        out.extend(framer.feed(stream[offset:offset + size]))
        offset += size
    assert out == pdus


def test_partial_pdu_is_kept():
    pdu = tpkt(100)
    framer = framing.PduFramer()

    assert framer.feed(pdu[:50]) == []
    assert framer.buffered == 50
    assert framer.feed(pdu[50:]) == [pdu]


def test_unknown_bytes_switch_to_passthrough():
    framer = framing.PduFramer()
    head = tpkt(3)

    assert framer.feed(head + b"\xff\x01\x02") == [head, b"\xff\x01\x02"]
    assert framer.passthrough
    assert framer.feed(b"\x03\x00") == [b"\x03\x00"]


def test_short_tpkt_length_switches_to_passthrough():
    framer = framing.PduFramer()

    assert framer.feed(b"\x03\x00\x00\x02rest") == [b"\x03\x00\x00\x02rest"]
    assert framer.passthrough


def test_fastpath_flags_bits_allowed():
    pdu = bytes([0xC0, 0x05, 1, 2, 3])
    framer = framing.PduFramer()

    assert framer.feed(pdu) == [pdu]
    assert not framer.passthrough


def test_empty_feed_returns_nothing():
    framer = framing.PduFramer()

    assert framer.feed(b"") == []


def font_map_pdu():
    """Build a Server Font Map PDU as MS-RDPBCGR 2.2.1.22 lays it out, with TLS security (no security header)."""
    font_map_data = bytes.fromhex("0000 0000 0300 0400")  # entries, total, mapFlags, entrySize
    share_data_header = (
        bytes.fromhex("ea030100")  # shareId
        + bytes([0x00, 0x01])  # pad1, streamId STREAM_LOW
        + (len(font_map_data) + 4).to_bytes(2, "little")  # uncompressedLength
        + bytes([framing.PDUTYPE2_FONTMAP, 0x00])  # pduType2, compressedType
        + bytes(2)  # compressedLength
    )
    body = share_data_header + font_map_data
    share_control_header = (
        (len(body) + 6).to_bytes(2, "little") + (0x10 | 0x7).to_bytes(2, "little") + bytes.fromhex("ea03")
    )
    user_data = share_control_header + body
    mcs = bytes([framing.MCS_SEND_DATA_INDICATION << 2]) + bytes.fromhex("0002 03eb 70") + bytes([len(user_data)])
    tpdu = bytes.fromhex("02f080") + mcs + user_data
    return bytes([3, 0]) + (len(tpdu) + 4).to_bytes(2, "big") + tpdu


def test_font_map_detected():
    assert framing.is_font_map(font_map_pdu())


def test_other_slow_path_pdu_is_not_font_map():
    pdu = bytearray(font_map_pdu())
    pdu[len(pdu) - 8 - 4] = 0x1F  # pduType2 of a Synchronize PDU, before 4 header bytes and the data
    assert not framing.is_font_map(bytes(pdu))


def test_stream_after_font_map_passes_through():
    framer = framing.PduFramer()
    before = tpkt(20)
    font_map = font_map_pdu()
    after = fastpath(100) + fastpath(50)[:10]

    assert framer.feed(before + font_map + after) == [before, font_map, after]
    assert framer.passthrough
    assert framer.passthrough_reason == "the connection sequence ended with the Font Map PDU"
