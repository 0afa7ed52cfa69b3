"""Read the pixels of an X display with xwd, and decode the XWD image format."""

import collections
import struct

# XWD file header (X11 XWDFile.h, file version 7): 25 big-endian CARD32 fields.
XWD_HEADER_FORMAT = ">25I"
XWD_HEADER_SIZE = struct.calcsize(XWD_HEADER_FORMAT)
XWD_FILE_VERSION = 7
XWD_COLOR_SIZE = 12  # bytes per XWDColor entry after the header
ZPIXMAP = 2
LSB_FIRST = 0


class XwdError(ValueError):
    """The data is not an XWD image this module can decode."""


class Screenshot:
    """A decoded 24-bit true-colour picture: width, height and a row-major list of (r, g, b)."""

    def __init__(self, width, height, pixels):
        self.width = width
        self.height = height
        self.pixels = pixels

    def pixel(self, x, y):
        return self.pixels[y * self.width + x]

    def colour_counts(self):
        """Return a Counter of (r, g, b) values over the whole picture."""
        return collections.Counter(self.pixels)

    def fraction_near(self, colour, tolerance=0):
        """Return the share of pixels whose channels are each within `tolerance` of `colour`."""
        red, green, blue = colour
        matching = sum(count for (r, g, b), count in self.colour_counts().items()
                       if abs(r - red) <= tolerance and abs(g - green) <= tolerance and abs(b - blue) <= tolerance)
        return matching / len(self.pixels)


def parse_colour(text):
    """Turn "#rrggbb" into an (r, g, b) tuple."""
    if len(text) != 7 or not text.startswith("#"):
        raise ValueError(f"invalid colour {text!r}: expected #rrggbb")
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def decode_xwd(data):
    """Decode a ZPixmap XWD image with 32 bits per pixel and 8-bit RGB masks, as Xvfb depth 24 produces."""
    if len(data) < XWD_HEADER_SIZE:
        raise XwdError(f"XWD data is {len(data)} bytes, shorter than the {XWD_HEADER_SIZE}-byte header")

    (header_size, file_version, pixmap_format, _depth, width, height, _xoffset, byte_order, _bitmap_unit,
     _bitmap_bit_order, _bitmap_pad, bits_per_pixel, bytes_per_line, _visual_class, red_mask, green_mask,
     blue_mask, _bits_per_rgb, _colormap_entries, ncolors, *_window) = struct.unpack_from(XWD_HEADER_FORMAT, data)

    if file_version != XWD_FILE_VERSION:
        raise XwdError(f"unsupported XWD file version {file_version}, expected {XWD_FILE_VERSION}")
    if pixmap_format != ZPIXMAP or bits_per_pixel != 32:
        raise XwdError(f"unsupported XWD pixmap format {pixmap_format} with {bits_per_pixel} bits per pixel; "
                       "expected ZPixmap with 32")
    if (red_mask, green_mask, blue_mask) != (0xFF0000, 0x00FF00, 0x0000FF):
        raise XwdError(f"unsupported colour masks {red_mask:#x}/{green_mask:#x}/{blue_mask:#x}")

    offset = header_size + ncolors * XWD_COLOR_SIZE
    needed = offset + bytes_per_line * height
    if len(data) < needed:
        raise XwdError(f"XWD data is {len(data)} bytes, expected at least {needed} for {width}x{height}")

    word = "<I" if byte_order == LSB_FIRST else ">I"
    pixels = []
    for row in range(height):
        start = offset + row * bytes_per_line
        for (value,) in struct.iter_unpack(word, data[start:start + width * 4]):
            pixels.append(((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF))
    return Screenshot(width, height, pixels)


def capture(display):
    """Return a Screenshot of the whole root window of `display` (an XvfbDisplay)."""
    return decode_xwd(display.run(["xwd", "-root", "-silent"]))
