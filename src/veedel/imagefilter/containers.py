"""Tell a cut-off upload from a non-image when Pillow cannot even open it.

Pillow reads a file's header when it opens it, and some formats need more
than the first bytes to be opened at all: WebP is decoded whole by libwebp,
and a JPEG is only identified once its frame header (SOF) is read. A WebP cut
anywhere, or a JPEG cut before its size header, therefore fails to open, and
without a second look it would be reported as no image at all.

:func:`open_failure_code` takes that second look. It recognises the
container by its signature and walks its structure without decoding pixels:
if the data ends inside the structure the upload was ``truncated``; if the
structure is complete (or broken in another way) it is ``corrupt``; bytes
with no known signature are ``not_an_image``.
"""

from __future__ import annotations

__all__ = ["open_failure_code", "signature_format"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: JPEG markers without a length field: TEM, RST0 to RST7, SOI, EOI.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xDA)})

#: Start-of-frame markers: the segment that holds the image size.
_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def signature_format(data: bytes) -> str | None:
    """The format whose signature ``data`` starts with, as Pillow names it."""
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"GIF8"):
        return "GIF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def open_failure_code(data: bytes) -> str:
    """``truncated``, ``corrupt`` or ``not_an_image`` for bytes Pillow cannot open.

    Only the container is read (chunk and segment lengths), never the pixels,
    so this is cheap on any upload that passed the byte limit.
    """
    ends_early = {
        "JPEG": _jpeg_ends_early,
        "PNG": _png_ends_early,
        "GIF": _gif_ends_early,
        "WEBP": _webp_ends_early,
    }
    found = signature_format(data)
    if found is None:
        return "not_an_image"
    return "truncated" if ends_early[found](data) else "corrupt"


def _webp_ends_early(data: bytes) -> bool:
    # RIFF declares the size of everything after its first eight bytes.
    declared = int.from_bytes(data[4:8], "little")
    return len(data) < 8 + declared


def _png_ends_early(data: bytes) -> bool:
    # Chunks are length, type, data, CRC; Pillow opens once IDAT is reached.
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        if data[position + 4 : position + 8] == b"IDAT":
            return False
        position += 12 + length
    return True


def _jpeg_ends_early(data: bytes) -> bool:
    # Segments are FF, marker, big-endian length (counting itself), payload.
    position = 2
    while position < len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1] if position + 1 < len(data) else 0xFF
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _STANDALONE_MARKERS:
            position += 2
            continue
        if position + 4 > len(data):
            return True
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker in _FRAME_MARKERS or marker == 0xDA:
            # The size header (or the scan before any size) is complete or not.
            return position + 2 + length > len(data)
        position += 2 + length
    return True


def _gif_ends_early(data: bytes) -> bool:
    # Header and logical screen descriptor, then the global colour table.
    if len(data) < 13:
        return True
    flags = data[10]
    position = 13 + (3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0)
    while position < len(data):
        block = data[position]
        if block == 0x2C:  # image descriptor: Pillow has what it needs
            return position + 10 > len(data)
        if block != 0x21:  # neither an extension: trailer or garbage
            return False
        position = _skip_sub_blocks(data, position + 2)
    return True


def _skip_sub_blocks(data: bytes, position: int) -> int:
    """The position after a chain of GIF sub-blocks (size byte, then data)."""
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            return position
    return len(data)
