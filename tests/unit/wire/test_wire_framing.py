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
