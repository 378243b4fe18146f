"""Decode uploaded bytes into RGB frames, or fail with a stable error code.

Uploads are hostile or broken often enough that decoding is its own step: the
bytes are checked against a size limit, the header against the allowed
formats and a pixel limit (before any pixel is decoded, which is what stops a
decompression bomb), and only then are the pixels read. Every failure is an
:class:`ImageDecodeError` whose ``code`` is one of :data:`ERROR_CODES`; the
codes are documented in ``docs/imagefilter.md`` and are part of the HTTP API.

What a frame looks like after decoding: the EXIF orientation is applied, CMYK,
greyscale and palette images become RGB, and transparency is flattened onto a
white background. Animated GIF and WebP files give up to ``max_frames`` frames
spread evenly over the animation.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from veedel.errors import InputError
from veedel.imagefilter.containers import open_failure_code

__all__ = [
    "ERROR_CODES",
    "DecodeLimits",
    "DecodedImage",
    "ImageDecodeError",
    "decode_image",
    "read_image_file",
]

logger = logging.getLogger(__name__)

#: Error codes of :class:`ImageDecodeError`, with the sentence each one stands for.
ERROR_CODES: dict[str, str] = {
    "empty": "the upload has zero bytes",
    "too_large": "the upload is larger than the byte limit",
    "not_an_image": "the bytes are not an image in any format Pillow knows",
    "unsupported_format": "the image format is not one of JPEG, PNG, WebP, GIF",
    "pixel_limit": "width times height exceeds the pixel limit (decompression bomb)",
    "truncated": "the image data ends before the image is complete",
    "corrupt": "the image header is valid but the pixel data cannot be decoded",
    "unreadable": "the file cannot be read (permissions, a broken link, I/O)",
}

#: Formats as Pillow names them; MPO is the multi-picture JPEG many phones write.
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF"})

_WHITE = (255, 255, 255)
_ORIENTATION = 0x0112


class ImageDecodeError(InputError):
    """An upload that cannot be turned into frames; ``code`` says why."""

    def __init__(self, code: str, value: object, *, fix: str | None = None) -> None:
        self.code = code
        super().__init__(
            "image", f"is rejected ({code}: {ERROR_CODES[code]})", value, fix=fix
        )


@dataclass(frozen=True)
class DecodeLimits:
    """Limits checked before and while decoding.

    Parameters
    ----------
    max_bytes
        Largest upload accepted, in bytes.
    max_pixels
        Largest ``width * height`` accepted; checked from the header before
        decoding, so a small file that would expand to gigabytes is refused.
    max_frames
        Most frames taken from an animation; they are spread evenly over it.
    draft_size
        If set, a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8)
        that keeps it at least this large (width, height). Much faster for
        phone photos; scores move by a few thousandths (see the docs).
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_frames: int = 8
    draft_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_frames"):
            if getattr(self, name) < 1:
                raise InputError(name, "must be at least 1", getattr(self, name))


@dataclass(frozen=True)
class DecodedImage:
    """An upload decoded into RGB frames (one unless animated)."""

    frames: tuple[Image.Image, ...]
    format: str
    width: int
    height: int
    n_frames_total: int


def decode_image(data: bytes, limits: DecodeLimits | None = None) -> DecodedImage:
    """Decode ``data`` into RGB frames within ``limits``.

    Raises
    ------
    ImageDecodeError
        With a ``code`` from :data:`ERROR_CODES`.
    """
    limits = limits or DecodeLimits()
    if len(data) == 0:
        raise ImageDecodeError("empty", 0, fix="Send the image's bytes.")
    if len(data) > limits.max_bytes:
        raise ImageDecodeError(
            "too_large",
            len(data),
            fix=f"Send at most {limits.max_bytes} bytes or raise max_bytes.",
        )

    image = _open_header(data, limits)
    if limits.draft_size is not None and image.format in {"JPEG", "MPO"}:
        image.draft(None, limits.draft_size)
    frames = tuple(_rgb(frame) for frame in _sample_frames(image, limits.max_frames))
    return DecodedImage(
        frames=frames,
        format=str(image.format),
        width=frames[0].width,
        height=frames[0].height,
        n_frames_total=getattr(image, "n_frames", 1),
    )


def read_image_file(path: Path, limits: DecodeLimits | None = None) -> DecodedImage:
    """Read and decode one file; the size limit is checked before reading.

    A file that cannot be read at all is an :class:`ImageDecodeError` with
    the code ``unreadable``, like any other upload that cannot be scored.
    """
    limits = limits or DecodeLimits()
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ImageDecodeError("too_large", size, fix=f"{path} is too large.")
        data = path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(
            "unreadable", f"{path}: {exc.strerror or exc}", fix="Check the file."
        ) from None
    return decode_image(data, limits)


def _open_header(data: bytes, limits: DecodeLimits) -> Image.Image:
    # Pillow's own bomb check warns or raises on a global limit; ours is per
    # call, so the global one is silenced and the size checked here instead.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        # Pillow's message holds the declared size: "Image size (N pixels) ...".
        raise ImageDecodeError(
            "pixel_limit",
            str(exc),
            fix=f"Images may have at most {limits.max_pixels} pixels.",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        # A WebP cut anywhere, or a JPEG cut before its size, cannot be opened.
        code = open_failure_code(data)
        raise ImageDecodeError(code, _head(data)) from None

    if image.format not in ALLOWED_FORMATS:
        raise ImageDecodeError(
            "unsupported_format", image.format, fix="Convert it to JPEG or PNG."
        )
    pixels = image.width * image.height
    if pixels > limits.max_pixels:
        raise ImageDecodeError(
            "pixel_limit",
            f"{image.width}x{image.height}",
            fix=f"Images may have at most {limits.max_pixels} pixels.",
        )
    return image


def _sample_frames(image: Image.Image, max_frames: int) -> Iterator[Image.Image]:
    n_frames = getattr(image, "n_frames", 1)
    count = min(n_frames, max_frames)
    # Evenly spaced indices, always including the first and the last frame.
    if count == 1:
        indices = [0]
    else:
        indices = sorted(
            {round(i * (n_frames - 1) / (count - 1)) for i in range(count)}
        )
    for index in indices:
        try:
            image.seek(index)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
        except OSError as exc:
            code = "truncated" if "truncat" in str(exc).lower() else "corrupt"
            raise ImageDecodeError(code, str(exc)) from None
        except (SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise ImageDecodeError("corrupt", str(exc)) from None
        yield image.copy() if n_frames > 1 else image


def _rgb(frame: Image.Image) -> Image.Image:
    """Upright RGB without transparency."""
    # exif_transpose copies the whole image even when there is nothing to do.
    if frame.getexif().get(_ORIENTATION, 1) != 1:
        frame = ImageOps.exif_transpose(frame)
    if frame.mode == "P" and "transparency" in frame.info:
        frame = frame.convert("RGBA")
    if frame.mode in {"RGBA", "LA", "PA", "La", "RGBa"}:
        rgba = frame.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return frame.convert("RGB") if frame.mode != "RGB" else frame


def _head(data: bytes) -> str:
    return data[:16].hex(" ")
