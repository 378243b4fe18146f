"""Turn a decoded RGB frame into the input tensor a model expects.

How a model wants its pixels is declared, not coded: :class:`Preprocessing`
names the resize, the centre crop, an optional JPEG round trip, the channel
order, the scale, mean and standard deviation, and the tensor layout. The
declaration for Yahoo's open_nsfw is :data:`OPEN_NSFW_PREPROCESSING`; another
ONNX model gets its own declaration in ``veedel.toml`` with no code.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["OPEN_NSFW_PREPROCESSING", "Preprocessing", "to_tensor", "to_tensors"]

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


class Preprocessing(BaseModel):
    """The steps from an RGB frame to one model input, in the order applied.

    1. ``resize`` to (width, height): ``stretch`` ignores the aspect ratio,
       ``shorter_side`` scales the shorter side to ``min(resize)``.
    2. Centre ``crop`` to (width, height).
    3. With ``jpeg_roundtrip``, encode as JPEG (``jpeg_quality``) and decode
       again, as some models were trained on re-encoded images.
    4. Reorder channels to ``channel_order``, multiply by ``scale``, subtract
       ``mean`` and divide by ``std`` (both given in ``channel_order``).
    5. Lay out as ``NHWC`` or ``NCHW`` (the batch axis is added later).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    resize: tuple[int, int] = (256, 256)
    resize_mode: Literal["stretch", "shorter_side"] = "stretch"
    resample: Literal["nearest", "bilinear", "bicubic", "lanczos"] = "bilinear"
    crop: tuple[int, int] = (224, 224)
    jpeg_roundtrip: bool = False
    jpeg_quality: int = Field(default=75, ge=1, le=95)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: Literal["NHWC", "NCHW"] = "NHWC"

    @model_validator(mode="after")
    def _crop_fits(self) -> Preprocessing:
        if min(self.resize) < 1 or min(self.crop) < 1:
            raise ValueError("resize and crop sizes must be positive")
        if self.resize_mode == "stretch" and (
            self.crop[0] > self.resize[0] or self.crop[1] > self.resize[1]
        ):
            raise ValueError("crop must fit inside resize")
        if any(value == 0 for value in self.std):
            raise ValueError("std must not contain 0")
        return self

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one input without the batch axis."""
        width, height = self.crop
        if self.layout == "NHWC":
            return (height, width, 3)
        return (3, height, width)


#: Yahoo open_nsfw as trained in Caffe: stretch to 256x256, centre crop 224,
#: JPEG round trip, BGR, ImageNet-style mean in BGR, channels last.
OPEN_NSFW_PREPROCESSING = Preprocessing(
    resize=(256, 256),
    resize_mode="stretch",
    resample="bilinear",
    crop=(224, 224),
    jpeg_roundtrip=True,
    channel_order="BGR",
    mean=(104.0, 117.0, 123.0),
    layout="NHWC",
)


def to_tensor(frame: Image.Image, spec: Preprocessing) -> NDArray[np.float32]:
    """One RGB frame as a float32 array of shape ``spec.input_shape``."""
    resized = _resize(frame, spec)
    cropped = _centre_crop(resized, spec.crop)
    if spec.jpeg_roundtrip:
        cropped = _jpeg_roundtrip(cropped, spec.jpeg_quality)

    pixels = np.asarray(cropped, dtype=np.float32)
    if spec.channel_order == "BGR":
        pixels = pixels[:, :, ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    pixels = np.asarray((pixels * spec.scale - mean) / std, dtype=np.float32)
    if spec.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def to_tensors(
    frames: tuple[Image.Image, ...] | list[Image.Image], spec: Preprocessing
) -> NDArray[np.float32]:
    """Several frames stacked on a leading batch axis."""
    return np.stack([to_tensor(frame, spec) for frame in frames], axis=0)


def _resize(frame: Image.Image, spec: Preprocessing) -> Image.Image:
    resample = _RESAMPLE[spec.resample]
    if spec.resize_mode == "stretch":
        target = spec.resize
    else:
        side = min(spec.resize)
        ratio = side / min(frame.width, frame.height)
        target = (
            max(spec.crop[0], round(frame.width * ratio)),
            max(spec.crop[1], round(frame.height * ratio)),
        )
    return frame.resize(target, resample=resample)


def _centre_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    width, height = size
    left = (image.width - width) // 2
    top = (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as reencoded:
        reencoded.load()
        return reencoded.copy()
