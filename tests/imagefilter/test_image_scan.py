"""Scanner: decoding ahead of the model keeps order, scores and resumability."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from image_samples import PHOTOS, jpeg_bytes

from veedel.imagefilter import OnnxClassifier, Policy, Scanner, read_image_file
from veedel.imagefilter import scan as scan_module
from veedel.imagefilter import settings as settings_module
from veedel.imagefilter.scan import image_files, read_records, scan_folder
from veedel.imagefilter.settings import ImageFilterSettings


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    """Nine files whose decoding takes very different times: a large JPEG,
    small ones, an animation, a PNG and two broken files."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-large.jpg").write_bytes(jpeg_bytes("chelsea", (2400, 1800)))
    (folder / "b-small.jpg").write_bytes(jpeg_bytes("coffee", (64, 48)))
    (folder / "c-empty.jpg").write_bytes(b"")
    (folder / "d-animated.gif").write_bytes(PHOTOS["animated"].read_bytes())
    (folder / "e-china.jpg").write_bytes(PHOTOS["china"].read_bytes())
    rocket = jpeg_bytes("rocket")
    (folder / "f-cut.jpg").write_bytes(rocket[: len(rocket) // 2])
    (folder / "g-astronaut.png").write_bytes(PHOTOS["astronaut"].read_bytes())
    (folder / "h-rocket.jpg").write_bytes(jpeg_bytes("rocket", (1280, 960)))
    (folder / "i-flower.jpg").write_bytes(PHOTOS["flower"].read_bytes())
    return folder


def test_scan_keeps_path_order_and_scores_with_prefetch(
    mixed_dir: Path, classifier: OnnxClassifier
) -> None:
    """With three workers decoding two batches ahead, records come in the
    order of the paths, each score equals the file scored on its own, and
    the broken files carry their error codes."""
    files = image_files(mixed_dir)
    scanner = Scanner(classifier, Policy(), batch_size=2, workers=3)

    records = [record for record, _ in scanner.scan(files, mixed_dir)]

    assert [record.path for record in records] == [path.name for path in files]
    errors = {record.path: record.error for record in records if record.error}
    assert errors == {"c-empty.jpg": "empty", "f-cut.jpg": "truncated"}
    for path, record in zip(files, records, strict=True):
        if record.error is None:
            alone = float(classifier.score([read_image_file(path)])[0])
            assert record.score == pytest.approx(round(alone, 6), abs=1e-6)
    assert next(r.frames for r in records if r.path == "d-animated.gif") == 8


def test_scan_with_one_worker_equals_scan_with_many(
    mixed_dir: Path, classifier: OnnxClassifier
) -> None:
    """How many threads decode changes no record."""
    files = image_files(mixed_dir)

    one = list(Scanner(classifier, Policy(), batch_size=4, workers=1).scan(files))
    many = list(Scanner(classifier, Policy(), batch_size=4, workers=4).scan(files))

    assert [record for record, _ in one] == [record for record, _ in many]


def test_closing_a_scan_early_stops_its_decoding_threads(
    mixed_dir: Path, classifier: OnnxClassifier
) -> None:
    """A caller that stops after the first record leaves no decoding thread
    behind: the files not yet started are cancelled, the started ones end."""
    files = image_files(mixed_dir)
    records = Scanner(classifier, Policy(), batch_size=2, workers=2).scan(files)

    next(records)
    records.close()

    names = [thread.name for thread in threading.enumerate()]
    assert not [name for name in names if name.startswith("image-decode")]


def test_scan_interrupted_while_files_are_prefetched_resumes_each_once(
    mixed_dir: Path, tmp_path: Path, classifier: OnnxClassifier
) -> None:
    """Interrupted at the first record, when the next two batches were
    already being decoded, a resumed scan writes every file exactly once and
    the same records as a scan that was never interrupted."""
    scanner = Scanner(classifier, Policy(), batch_size=2, workers=2)
    out, whole = tmp_path / "resumed.csv", tmp_path / "whole.csv"

    def stop_at_first(record: object, verdict: object, path: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan_folder(mixed_dir, out, scanner, on_record=stop_at_first)
    scanned, skipped = scan_folder(mixed_dir, out, scanner)
    scan_folder(mixed_dir, whole, scanner)

    assert (scanned, skipped) == (9, 0)
    resumed = read_records(out, "csv")
    assert len(resumed) == len({record["path"] for record in resumed}) == 9
    assert resumed == read_records(whole, "csv")


def test_settings_scanner_gives_the_model_half_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On two cores a folder scan decodes on two workers and scores on one
    onnxruntime thread; a configured ``threads`` is kept as given."""
    monkeypatch.setattr(scan_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(settings_module, "usable_cores", lambda: 2)

    default = ImageFilterSettings().scanner()
    configured = ImageFilterSettings(threads=2, batch_size=4).scanner("profile_picture")

    assert (default.workers, default.classifier.threads) == (2, 1)
    assert (configured.workers, configured.classifier.threads) == (2, 2)
    assert (configured.batch_size, configured.classifier.batch_size) == (4, 4)
    assert configured.thresholds == Policy().thresholds("profile_picture")
    options = default.classifier._session.get_session_options()
    assert options.intra_op_num_threads == 1
