"""``veedel images``: scan (resumable), classify, stats, tune, evaluate, demo."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from image_samples import PHOTOS
from typer.testing import CliRunner

from veedel.cli.main import app
from veedel.imagefilter import OnnxClassifier, Policy, Scanner, scan_folder
from veedel.imagefilter.scan import read_records

runner = CliRunner()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_scan_writes_one_row_per_image(photo_dir: Path, tmp_path: Path) -> None:
    """Six images in three formats are scored and allowed; the text file ignored."""
    out = tmp_path / "scores.csv"

    result = runner.invoke(app, ["images", "scan", str(photo_dir), "--out", str(out)])

    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert sorted(row["path"] for row in rows) == [
        "chelsea.jpg",
        "china.jpg",
        "coffee.jpg",
        "rocket.jpg",
        "sub/animated.gif",
        "sub/astronaut.webp",
    ]
    assert {row["action"] for row in rows} == {"allow"}
    assert max(float(row["score"]) for row in rows) < 0.1
    assert next(r for r in rows if r["path"] == "sub/animated.gif")["frames"] == "8"
    assert "6 scanned, 0 already" in " ".join(result.output.split())


def test_scan_resumes_after_an_interruption(
    photo_dir: Path, tmp_path: Path, classifier: OnnxClassifier
) -> None:
    """Interrupted while handling the third file and with a torn last line, a
    rerun completes the output without duplicates, rescanning only what is
    missing: the third file was handled but not written, so it is met again."""
    out = tmp_path / "scores.csv"
    scanner = Scanner(classifier, Policy(), batch_size=2)
    seen: list[str] = []

    def stop_after_three(record: object, verdict: object, path: Path) -> None:
        seen.append(str(path))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan_folder(photo_dir, out, scanner, on_record=stop_after_three)
    with out.open("a") as stream:
        stream.write("coffee.jpg,0.01")  # a crash in the middle of a line
    assert len(read_records(out, "csv")) == 2

    scanned, skipped = scan_folder(photo_dir, out, scanner)

    paths = [row["path"] for row in _rows(out)]
    assert (scanned, skipped) == (4, 2)
    assert len(paths) == len(set(paths)) == 6


def test_scan_json_lines_and_restart(photo_dir: Path, tmp_path: Path) -> None:
    """--format json writes JSON Lines; --restart starts the file over."""
    out = tmp_path / "scores.jsonl"
    args = ["images", "scan", str(photo_dir), "--out", str(out), "--format", "json"]

    runner.invoke(app, args)
    again = runner.invoke(app, [*args, "--restart"])

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert again.exit_code == 0
    assert len(records) == 6
    assert records[0]["model_version"] == "open_nsfw-1.0+864bb37bf886"


def test_scan_records_bad_files_and_queues(photo_dir: Path, tmp_path: Path) -> None:
    """A broken file is recorded with its code; --queue stores every decision."""
    (photo_dir / "broken.png").write_bytes(b"")
    out = tmp_path / "scores.csv"

    result = runner.invoke(
        app, ["images", "scan", str(photo_dir), "--out", str(out), "--queue"]
    )
    stats = runner.invoke(app, ["images", "stats", "--json"])

    broken = next(row for row in _rows(out) if row["path"] == "broken.png")
    assert (broken["error"], broken["score"]) == ("empty", "")
    assert "error: empty" in result.output
    assert json.loads(stats.stdout)["decisions"] == {"allow": 6}


def test_classify_one_file(tmp_path: Path) -> None:
    """classify prints score and action; a bad file exits 2 with its code."""
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")

    good = runner.invoke(app, ["images", "classify", str(PHOTOS["rocket"]), "--json"])
    bad = runner.invoke(app, ["images", "classify", str(empty)])

    assert good.exit_code == 0
    assert json.loads(good.stdout)["action"] == "allow"
    assert json.loads(good.stdout)["score"] == pytest.approx(0.00046, abs=2e-3)
    assert bad.exit_code == 2
    assert "empty" in bad.output


def test_stats_on_an_empty_queue() -> None:
    """Stats on an empty store show zeros and reasons in words, not NaN and
    not the reason codes the JSON keeps."""
    result = runner.invoke(app, ["images", "stats"])

    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "(fewer than 2 items have both a first and a second review)" in words
    assert "(no audit sample of this kind has been decided yet)" in words
    assert "too_few_pairs" not in words and "no_audits" not in words
    assert "no decisions yet" in result.output
    assert "nan" not in result.output.lower()


def test_tune_from_a_labels_file(tmp_path: Path) -> None:
    """The hand-computed case: review 0.3, block 0.6; the plot spec is written."""
    labels = tmp_path / "labels.csv"
    rows = zip(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        [0, 0, 1, 0, 0, 1, 0, 1, 1, 1],
        strict=True,
    )
    labels.write_text("score,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    plot = tmp_path / "tuning.json"

    result = runner.invoke(
        app,
        [
            "images",
            "tune",
            "--labels",
            str(labels),
            "--target-precision",
            "0.75",
            "--target-miss-rate",
            "0",
            "--plot",
            str(plot),
            "--json",
        ],
    )

    data = json.loads(result.stdout)
    assert (data["review_threshold"], data["block_threshold"]) == (0.3, 0.6)
    assert data["review_share"] == pytest.approx(0.3)
    assert len(data["tradeoff"]) == 16
    assert "layer" in json.loads(plot.read_text())


def test_tune_without_reviews_says_what_to_do() -> None:
    """With no reviewed images, tune exits 2 and names the fix."""
    result = runner.invoke(app, ["images", "tune"])

    assert result.exit_code == 2
    assert "Review images first" in result.output


def test_evaluate_a_labelled_folder(tmp_path: Path) -> None:
    """Benign stand-ins (retina as 'unsafe') give AUC 1 on the real model."""
    for folder, names in (("safe", ("rocket", "chelsea")), ("unsafe", ("retina",))):
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / PHOTOS[name].name).write_bytes(
                PHOTOS[name].read_bytes()
            )

    result = runner.invoke(app, ["images", "evaluate", str(tmp_path), "--json"])

    data = json.loads(result.stdout)
    assert (data["n_safe"], data["n_unsafe"], data["roc_auc"]) == (2, 1, 1.0)


def test_demo_step_scans_and_queues(tmp_path: Path) -> None:
    """The demo step scans its sample photos and queues them as audit samples,
    once, however often the demo runs."""
    from veedel.api.state import open_store
    from veedel.cli.demo import DemoContext
    from veedel.cli.images import demo_step
    from veedel.imagefilter import queue_stats
    from veedel.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_store(settings.resolved_store_url())
    context = DemoContext(
        settings=settings, warehouse=None, store=engine, users=0, days=0, seed=0
    )

    demo_step(context)

    rows = _rows(settings.data_dir / "images-demo-scores.csv")
    stats = queue_stats(engine)
    assert len(rows) == 6
    assert next(r for r in rows if r["path"] == "broken.jpg")["error"] == "truncated"
    assert {r["action"] for r in rows if not r["error"]} == {"allow"}
    assert stats.by_kind == {"audit": {"open": 5, "held": 0, "decided": 0}}

    # Running the demo again queues none of its photos a second time.
    demo_step(context)
    assert queue_stats(engine).by_kind == stats.by_kind


def test_tune_from_reviewer_decisions_in_the_store() -> None:
    """Decisions made in the queue feed `veedel images tune`, audit-weighted."""
    from veedel.api.state import open_store
    from veedel.imagefilter import ReviewQueue, review_labels, tune_thresholds
    from veedel.settings import get_settings

    engine = open_store(get_settings().resolved_store_url())
    queue = ReviewQueue(engine, audit_allow_share=0.5, second_review_share=0.0)
    policy = Policy({"post_image": (0.3, 0.8)})
    scores = [0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75]
    for index, score in enumerate(scores):
        queue.submit(
            policy.decide(score, "post_image", "m"),
            f"i{index}".encode(),
            ref=str(index),
        )
    while (claim := queue.claim("ed")) is not None:
        verdict = "reject" if claim.item_id % 3 == 0 else "approve"
        queue.decide(claim.item_id, "ed", verdict)
    labels = review_labels(engine)

    result = runner.invoke(
        app,
        [
            "images",
            "tune",
            "--target-precision",
            "0.5",
            "--target-miss-rate",
            "0.5",
            "--json",
        ],
    )

    data = json.loads(result.stdout)
    expected = tune_thresholds(
        *labels, target_block_precision=0.5, target_allow_miss_rate=0.5
    )
    assert result.exit_code == 0
    assert set(labels[2].tolist()) == {1.0, 2.0}  # audits weigh 1 / 0.5
    assert data["review_threshold"] == expected.thresholds.review
    assert data["block_threshold"] == expected.thresholds.block
    assert data["n"] == len(labels[0])


def test_scan_of_a_missing_folder_is_one_clear_line(tmp_path: Path) -> None:
    """No model load and no empty progress bar before the error."""
    missing = tmp_path / "nowhere"

    result = runner.invoke(app, ["images", "scan", str(missing)])

    assert result.exit_code == 2
    assert "DIR must be an existing folder" in " ".join(result.output.split())
    assert "Scanning" not in result.output
    assert "Loaded image model" not in result.output
