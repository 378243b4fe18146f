"""Benign sample photos for the image filter tests (no fixtures here)."""

from __future__ import annotations

import io
from pathlib import Path

import skimage.data
import sklearn.datasets
from PIL import Image

SKIMAGE_DATA = Path(skimage.data.__file__).parent
SKLEARN_IMAGES = Path(sklearn.datasets.__file__).parent / "images"

#: Benign photos shipped inside the scikit-image and scikit-learn wheels.
PHOTOS = {
    "astronaut": SKIMAGE_DATA / "astronaut.png",
    "camera": SKIMAGE_DATA / "camera.png",
    "chelsea": SKIMAGE_DATA / "chelsea.png",
    "coffee": SKIMAGE_DATA / "coffee.png",
    "rocket": SKIMAGE_DATA / "rocket.jpg",
    "logo": SKIMAGE_DATA / "logo.png",
    "retina": SKIMAGE_DATA / "retina.jpg",
    "animated": SKIMAGE_DATA / "no_time_for_that_tiny.gif",
    "china": SKLEARN_IMAGES / "china.jpg",
    "flower": SKLEARN_IMAGES / "flower.jpg",
}


def jpeg_bytes(name: str, size: tuple[int, int] | None = None) -> bytes:
    """A bundled photo re-encoded as JPEG, optionally resized."""
    image = Image.open(PHOTOS[name]).convert("RGB")
    if size is not None:
        image = image.resize(size)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
