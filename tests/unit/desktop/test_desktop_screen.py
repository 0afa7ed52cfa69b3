"""XWD decoding, fed with images built in the test."""

import struct

import pytest

from rdpconsole.desktop.screen import XwdError, decode_xwd, parse_colour


def xwd_image(width, height, pixel_values, byte_order=0, ncolors=0, name=b"root\0"):
    header_size = 100 + len(name)
    header = struct.pack(
        ">25I", header_size, 7, 2, 24, width, height, 0, byte_order, 32, byte_order, 32, 32, width * 4, 4,
        0xFF0000, 0x00FF00, 0x0000FF, 8, 256, ncolors, width, height, 0, 0, 0)
    word = "<I" if byte_order == 0 else ">I"
    pixels = b"".join(struct.pack(word, value) for value in pixel_values)
    return header + name + b"\0" * (12 * ncolors) + pixels


def test_decode_lsb_pixels():
    image = decode_xwd(xwd_image(2, 1, [0x112233, 0xA0B0C0]))

    assert image.pixels == [(0x11, 0x22, 0x33), (0xA0, 0xB0, 0xC0)]


def test_decode_msb_pixels():
    image = decode_xwd(xwd_image(1, 2, [0x010203, 0x040506], byte_order=1))

    assert image.pixel(0, 1) == (4, 5, 6)


def test_decode_skips_colormap():
    image = decode_xwd(xwd_image(1, 1, [0xFFFFFF], ncolors=256))

    assert image.pixel(0, 0) == (255, 255, 255)


def test_fraction_near():
    image = decode_xwd(xwd_image(4, 1, [0x1E6B52, 0x1F6A53, 0x000000, 0x1E6B52]))

    assert image.fraction_near((0x1E, 0x6B, 0x52)) == 0.5
    assert image.fraction_near((0x1E, 0x6B, 0x52), tolerance=1) == 0.75


def test_truncated_image_rejected():
    with pytest.raises(XwdError, match="expected at least"):
        decode_xwd(xwd_image(2, 2, [0, 0, 0, 0])[:-1])


def test_short_header_rejected():
    with pytest.raises(XwdError, match="shorter than the 100-byte header"):
        decode_xwd(b"\0" * 10)


def test_wrong_version_rejected():
    data = bytearray(xwd_image(1, 1, [0]))
    data[4:8] = struct.pack(">I", 6)

    with pytest.raises(XwdError, match="version 6"):
        decode_xwd(bytes(data))


def test_parse_colour():
    assert parse_colour("#1e6b52") == (0x1E, 0x6B, 0x52)


def test_parse_colour_invalid():
    with pytest.raises(ValueError, match="expected #rrggbb"):
        parse_colour("green")
