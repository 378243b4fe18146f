"""Another ONNX model, declared in veedel.toml: scores, shape checks, failures.

The model is built here with ``onnx``: channels first, a 48 x 32 input, the
mean of each channel, a 3 x 3 linear layer and a softmax over three classes.
On a single-colour image each channel's mean is that colour's preprocessed
value, so the expected score follows by hand.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from onnx import TensorProto, helper
from PIL import Image

from veedel.accounts import create_token
from veedel.errors import ConfigError
from veedel.imagefilter import DecodedImage, load_settings

#: Rows are the input channels in the declared order (B, G, R), columns classes.
WEIGHTS = [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]
BIAS = [0.1, 0.0, -0.1]

#: The [images.model] table: crop 48 x 32, NCHW, BGR, (x - 127.5) / 63.75, so
#: 255 -> 2, 0 -> -2 and 51 -> -1.2; the unsafe classes are 1 and 2.
MODEL_TOML = """
[images.model]
name = "tiny"
version = "3"
path = "{path}"
[images.model.preprocessing]
resize = [56, 40]
crop = [48, 32]
channel_order = "BGR"
mean = [127.5, 127.5, 127.5]
std = [63.75, 63.75, 63.75]
layout = "NCHW"
[images.model.output]
output = "probabilities"
activation = "none"
unsafe_indices = [1, 2]
"""


def _tiny_model(path: Path, shape: list[int | str], *, reshape: int = 0) -> Path:
    """Write the model; with ``reshape``, a Reshape to (-1, reshape) first."""
    nodes = []
    first = "pixels"
    if reshape:
        nodes.append(helper.make_node("Reshape", ["pixels", "flat_shape"], ["flat"]))
        nodes.append(helper.make_node("Reshape", ["flat", "back_shape"], ["back"]))
        first = "back"
    nodes += [
        helper.make_node("GlobalAveragePool", [first], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["means"], axis=1),
        helper.make_node("MatMul", ["means", "weights"], ["mixed"]),
        helper.make_node("Add", ["mixed", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    initializers = [
        helper.make_tensor("weights", TensorProto.FLOAT, [3, 3], np.ravel(WEIGHTS)),
        helper.make_tensor("bias", TensorProto.FLOAT, [3], BIAS),
    ]
    if reshape:
        initializers += [
            helper.make_tensor("flat_shape", TensorProto.INT64, [2], [-1, reshape]),
            helper.make_tensor("back_shape", TensorProto.INT64, [4], [-1, 3, 32, 48]),
        ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 3])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.17 and later all read
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _configure(config: Path, model: Path, **replace: str) -> None:
    text = MODEL_TOML.format(path=model)
    for old, new in replace.items():
        text = text.replace(old, new)
    with config.open("a", encoding="utf-8") as stream:
        stream.write(text)


def _solid(colour: tuple[int, int, int], size: tuple[int, int]) -> DecodedImage:
    frame = Image.new("RGB", size, colour)
    return DecodedImage((frame,), "PNG", size[0], size[1], 1)


def _unsafe_share(logits: tuple[float, float, float]) -> float:
    exps = [math.exp(value) for value in logits]
    return (exps[1] + exps[2]) / sum(exps)


def test_declared_model_scores_as_computed_by_hand(tmp_path: Path) -> None:
    """Configured only in veedel.toml, the tiny model scores two colours as
    the hand computation says, in one batch and in any image size."""
    model = _tiny_model(tmp_path / "tiny.onnx", ["n", 3, 32, 48])
    _configure(tmp_path / "veedel.toml", model)
    # (R, G, B) = (255, 0, 51) gives (B, G, R) = (-1.2, -2, 2), so logits
    # (-1.2 + 0.1, -2, -0.6 - 1 + 2 - 0.1) = (-1.1, -2, 0.3);
    # (0, 255, 51) gives (-1.2, 2, -2) and logits (-1.1, 2, -0.6 + 1 - 2 - 0.1).
    expected = [_unsafe_share((-1.1, -2.0, 0.3)), _unsafe_share((-1.1, 2.0, -1.7))]

    classifier = load_settings().classifier()
    images = [_solid((255, 0, 51), (640, 480)), _solid((0, 255, 51), (33, 77))]
    scores = classifier.score(images)

    assert classifier.model_version.startswith("tiny-3+")
    assert classifier.tensors(images[0]).shape == (1, 3, 32, 48)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert expected[0] == pytest.approx(0.81691, abs=1e-5)


@pytest.mark.parametrize(
    ("replace", "declared"),
    [
        ({"crop = [48, 32]": "crop = [40, 32]"}, "['batch', 3, 32, 40]"),
        ({'layout = "NCHW"': 'layout = "NHWC"'}, "['batch', 32, 48, 3]"),
    ],
)
def test_declared_shape_must_match_the_model_input(
    tmp_path: Path, replace: dict[str, str], declared: str
) -> None:
    """A crop or layout the model does not take is refused at load, naming
    the field and both shapes, before any image is scored."""
    model = _tiny_model(tmp_path / "tiny.onnx", ["n", 3, 32, 48])
    _configure(tmp_path / "veedel.toml", model, **replace)

    with pytest.raises(ConfigError) as caught:
        load_settings().classifier()

    assert caught.value.field == "model.preprocessing"
    assert "['n', 3, 32, 48]" in str(caught.value)
    assert declared in str(caught.value)


def test_unsafe_class_outside_the_output_is_refused(tmp_path: Path) -> None:
    """unsafe_indices naming a fourth class of a three-class output: refused."""
    model = _tiny_model(tmp_path / "tiny.onnx", ["n", 3, 32, 48])
    _configure(tmp_path / "veedel.toml", model, **{"[1, 2]": "[1, 3]"})

    with pytest.raises(ConfigError) as caught:
        load_settings().classifier()

    assert caught.value.field == "model.output.unsafe_indices"
    assert "below 3" in str(caught.value)


def _classify(app: FastAPI, client: TestClient) -> dict[str, object]:
    token = create_token(app.state.store, "vera", "test")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (255, 0, 51)).save(buffer, format="PNG")
    response = client.post(
        "/api/v1/images:classify",
        files={"file": ("red.png", buffer.getvalue(), "image/png")},
        headers={"Authorization": f"Bearer {token}"},
    )
    return {"status": response.status_code, **response.json()}


def test_api_answers_a_failing_model_with_a_code(
    app: FastAPI, client: TestClient, tmp_path: Path, review_config: Path
) -> None:
    """A model that fails inside onnxruntime (a Reshape that cannot hold the
    input) gives 503 model_failed with onnxruntime's reason, not a 500."""
    model = _tiny_model(tmp_path / "bad.onnx", ["n", 3, "h", "w"], reshape=1000)
    _configure(review_config, model)

    body = _classify(app, client)

    assert (body["status"], body["code"]) == (503, "model_failed")
    assert "tiny-3+" in str(body["detail"])
    assert "[1, 3, 32, 48]" in str(body["detail"])


def test_api_answers_an_unloadable_model_with_a_code(
    app: FastAPI, client: TestClient, tmp_path: Path, review_config: Path
) -> None:
    """A model file onnxruntime cannot load: 503 model_unavailable naming
    model.path; the server stays up and answers the next request alike."""
    model = tmp_path / "garbage.onnx"
    model.write_bytes(b"this is not a protobuf")
    _configure(review_config, model)

    first, second = _classify(app, client), _classify(app, client)

    assert (first["status"], first["code"]) == (503, "model_unavailable")
    assert "model.path" in str(first["detail"])
    assert second == first
