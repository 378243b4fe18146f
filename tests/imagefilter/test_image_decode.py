"""Decoding real-world uploads, and one distinct error code per bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from image_samples import PHOTOS, jpeg_bytes
from PIL import Image

from veedel.errors import InputError
from veedel.imagefilter import (
    ERROR_CODES,
    DecodeLimits,
    ImageDecodeError,
    decode_image,
    read_image_file,
)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels; about 60 bytes long."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _code(data: bytes, limits: DecodeLimits | None = None) -> str:
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data, limits)
    return caught.value.code


# -- one test per bad input -------------------------------------------------


def test_zero_byte_upload_is_empty() -> None:
    """Zero bytes give the code 'empty'."""
    assert _code(b"") == "empty"


def test_oversized_upload_is_too_large() -> None:
    """More bytes than max_bytes give 'too_large' before anything is parsed."""
    data = jpeg_bytes("coffee")

    assert _code(data, DecodeLimits(max_bytes=len(data) - 1)) == "too_large"
    assert decode_image(data, DecodeLimits(max_bytes=len(data))).format == "JPEG"


def test_text_is_not_an_image() -> None:
    """Bytes in no image format give 'not_an_image'."""
    assert _code(b"%PDF-1.4 hello, this is no picture at all") == "not_an_image"


def test_truncated_jpeg_is_truncated() -> None:
    """A JPEG cut in half keeps its header but gives 'truncated'."""
    data = jpeg_bytes("chelsea")

    assert _code(data[: len(data) // 2]) == "truncated"


def test_truncated_png_is_truncated() -> None:
    """A PNG cut in half gives 'truncated' too."""
    data = PHOTOS["coffee"].read_bytes()

    assert _code(data[: len(data) // 2]) == "truncated"


def _small_photo() -> Image.Image:
    return Image.open(PHOTOS["astronaut"]).convert("RGB").resize((64, 64))


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.99])
def test_truncated_webp_is_truncated(fraction: float) -> None:
    """A WebP cut anywhere cannot even be opened by Pillow; its RIFF header
    declares more bytes than arrived, so it is 'truncated', not a non-image."""
    data = _encode(_small_photo(), "WEBP")

    assert _code(data[: max(int(len(data) * fraction), 20)]) == "truncated"


def test_truncated_animated_webp_is_truncated() -> None:
    """An animated WebP cut in half, or right after its first chunk header."""
    photo = _small_photo()
    data = _encode(photo, "WEBP", save_all=True, append_images=[photo.rotate(90)])

    assert data[12:16] == b"VP8X"  # the extended (animated) layout
    assert _code(data[: len(data) // 2]) == "truncated"
    assert _code(data[:30]) == "truncated"


def test_jpeg_cut_before_its_size_header_is_truncated() -> None:
    """A JPEG that ends before its frame header (SOF, which holds the size)
    is not identified by Pillow; its segments run past the end: 'truncated'."""
    data = jpeg_bytes("rocket")
    frame_header = data.find(b"\xff\xc0")

    assert frame_header > 100
    assert _code(data[:2]) == "truncated"
    assert _code(data[:100]) == "truncated"
    assert _code(data[: frame_header + 6]) == "truncated"


def test_complete_containers_that_cannot_be_opened_are_corrupt() -> None:
    """A RIFF WebP of the declared length with zeros for its content is
    'corrupt'; a RIFF file of another kind (WAVE) stays 'not_an_image'."""
    data = _encode(_small_photo(), "WEBP")
    wave = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)

    assert _code(data[:12] + bytes(len(data) - 12)) == "corrupt"
    assert _code(wave) == "not_an_image"


def test_png_with_corrupted_pixel_data_is_corrupt() -> None:
    """A PNG whose header is intact but whose compressed pixels are overwritten
    opens, then fails to decode: 'corrupt' (its length is whole, so not cut)."""
    data = bytearray(_encode(_small_photo(), "PNG"))
    pixels = data.find(b"IDAT") + 4
    data[pixels + 20 : pixels + 60] = bytes(40)

    with Image.open(io.BytesIO(bytes(data))) as opened:
        assert opened.size == (64, 64)
    assert _code(bytes(data)) == "corrupt"


def test_a_file_that_cannot_be_read_is_unreadable(tmp_path: Path) -> None:
    """A folder or a broken link in place of a file: 'unreadable', an
    ImageDecodeError like every other code (no OSError escapes)."""
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "nowhere.jpg")

    for path in (tmp_path, link):
        with pytest.raises(ImageDecodeError) as caught:
            read_image_file(path)
        assert caught.value.code == "unreadable"
    assert "unreadable" in ERROR_CODES


def test_decompression_bomb_is_refused_from_the_header() -> None:
    """A 60-byte PNG claiming 100000 x 100000 pixels gives 'pixel_limit'."""
    data = _bomb_png(100_000, 100_000)

    assert len(data) < 100
    assert _code(data) == "pixel_limit"


def test_pixel_limit_is_ours_not_pillows() -> None:
    """An image over our max_pixels but far under Pillow's limit is refused."""
    data = jpeg_bytes("coffee", size=(200, 100))

    assert _code(data, DecodeLimits(max_pixels=19_999)) == "pixel_limit"
    assert decode_image(data, DecodeLimits(max_pixels=20_000)).width == 200


def test_other_image_formats_are_unsupported() -> None:
    """A real BMP or TIFF gives 'unsupported_format', not 'not_an_image'."""
    image = Image.new("RGB", (8, 8), (10, 20, 30))

    assert _code(_encode(image, "BMP")) == "unsupported_format"
    assert _code(_encode(image, "TIFF")) == "unsupported_format"


def test_error_is_an_input_error_naming_the_code() -> None:
    """The error is an InputError (and ValueError) whose sentence names the code."""
    with pytest.raises(InputError) as caught:
        decode_image(b"")

    assert isinstance(caught.value, ValueError)
    assert caught.value.field == "image"
    assert "empty" in str(caught.value)
    assert set(ERROR_CODES) >= {
        "empty",
        "too_large",
        "not_an_image",
        "unsupported_format",
        "pixel_limit",
        "truncated",
        "corrupt",
        "unreadable",
    }


# -- what real uploads look like ---------------------------------------------


def test_exif_orientation_is_applied() -> None:
    """A landscape JPEG tagged 'rotate 90 clockwise' decodes as upright portrait."""
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display

    decoded = decode_image(_encode(image, "JPEG", exif=exif, quality=95))
    pixels = np.asarray(decoded.frames[0])

    assert (decoded.width, decoded.height) == (20, 40)
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 60  # top is red
    assert pixels[35, 10, 2] > 200 and pixels[35, 10, 0] < 60  # bottom is blue


def test_cmyk_jpeg_becomes_rgb() -> None:
    """A CMYK JPEG (as print workflows write) decodes to RGB colours."""
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red ink

    frame = decode_image(_encode(cmyk, "JPEG", quality=95)).frames[0]
    red, green, blue = np.asarray(frame)[8, 8]

    assert frame.mode == "RGB"
    assert red > 200 and green < 60 and blue < 60


def test_greyscale_becomes_three_equal_channels() -> None:
    """A greyscale PNG decodes to RGB with equal channels."""
    frame = decode_image(PHOTOS["camera"].read_bytes()).frames[0]
    pixels = np.asarray(frame)

    assert frame.mode == "RGB"
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])


def test_transparency_is_flattened_onto_white() -> None:
    """Transparent pixels become white; opaque ones keep their colour."""
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 5, 10))

    pixels = np.asarray(decode_image(_encode(image, "PNG")).frames[0])

    assert tuple(pixels[5, 8]) == (255, 255, 255)
    assert tuple(pixels[5, 2]) == (0, 128, 0)


def test_palette_gif_transparency_is_flattened() -> None:
    """A palette GIF with a transparent colour decodes without alpha, white there."""
    image = Image.new("P", (6, 6), 0)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.paste(1, (0, 0, 3, 6))

    frame = decode_image(_encode(image, "GIF", transparency=0)).frames[0]

    assert frame.mode == "RGB"
    assert tuple(np.asarray(frame)[3, 5]) == (255, 255, 255)


def test_webp_decodes() -> None:
    """A WebP photo decodes to one RGB frame of its size."""
    data = _encode(Image.open(PHOTOS["astronaut"]), "WEBP", quality=80)

    decoded = decode_image(data)

    assert (decoded.format, decoded.width, len(decoded.frames)) == ("WEBP", 512, 1)


def test_animated_gif_frames_are_spread_over_the_animation() -> None:
    """20 frames with max_frames=5 give frames 0, 5, 10, 14, 19 (first and last)."""
    frames = [Image.new("L", (4, 4), value * 10) for value in range(20)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])

    decoded = decode_image(data, DecodeLimits(max_frames=5))
    shades = [int(np.asarray(frame)[0, 0, 0]) for frame in decoded.frames]

    assert decoded.n_frames_total == 20
    assert shades == [0, 50, 100, 140, 190]


def test_animated_webp_gives_several_frames() -> None:
    """An animated WebP decodes to each of its three frames."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "lime", "blue")]
    data = _encode(
        frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True
    )

    decoded = decode_image(data)

    assert [tuple(np.asarray(f)[0, 0]) for f in decoded.frames] == [
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
    ]


def test_draft_size_decodes_large_jpegs_smaller() -> None:
    """With draft_size, a 2016 x 1512 JPEG decodes at 1/2 scale; PNG unchanged."""
    photo = Image.open(PHOTOS["coffee"]).convert("RGB").resize((2016, 1512))
    limits = DecodeLimits(draft_size=(512, 512))

    jpeg = decode_image(_encode(photo, "JPEG", quality=90), limits)
    png = decode_image(_encode(photo.resize((1200, 900)), "PNG"), limits)

    assert (jpeg.width, jpeg.height) == (1008, 756)
    assert (png.width, png.height) == (1200, 900)


def test_fast_decode_setting_drafts_at_the_model_resize() -> None:
    """[images] fast_decode drafts JPEGs at open_nsfw's resize size, 256 x 256."""
    from veedel.imagefilter import ImageFilterSettings

    assert ImageFilterSettings(fast_decode=True).limits().draft_size == (256, 256)
    assert ImageFilterSettings().limits().draft_size is None
