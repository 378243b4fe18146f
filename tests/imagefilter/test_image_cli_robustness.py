"""``veedel images`` on broken outputs, labels and folders: exit 2, a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_samples import PHOTOS
from typer.testing import CliRunner

from veedel.cli.main import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["images", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def one_photo(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "rocket.jpg").write_bytes(PHOTOS["rocket"].read_bytes())
    return folder


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        (b"\xff\xfe\x00garbage\x81\n", "csv"),
        (b"name,size\nfoo.jpg,3\n", "csv"),
        (b"5\n", "json"),
        (b'{"score": 0.1}\n', "json"),
    ],
)
def test_resume_into_a_corrupted_output_is_refused_untouched(
    one_photo: Path, tmp_path: Path, content: bytes, fmt: str
) -> None:
    """Binary garbage, someone else's CSV, JSON that is not a scan record:
    exit 2 naming --out, and the file is left exactly as it was."""
    out = tmp_path / f"scores.{fmt}"
    out.write_bytes(content)

    code, output = _run("scan", str(one_photo), "--out", str(out), "--format", fmt)

    assert code == 2, output
    assert "output" in output
    assert out.read_bytes() == content


def test_scan_output_that_is_a_folder(one_photo: Path, tmp_path: Path) -> None:
    """--out naming a folder: exit 2 saying --out must be a file path and
    suggesting one in that folder, with no --restart advice (it cannot help)."""
    for resume in ("--resume", "--restart"):
        code, output = _run("scan", str(one_photo), "--out", str(tmp_path), resume)

        assert code == 2, output
        assert "--out must be a file path, not a folder" in output
        # A long path may wrap anywhere at 80 columns: compare without spaces.
        assert f"e.g.{tmp_path / 'scores.csv'}" in output.replace(" ", "")
        assert "restart" not in output
        assert tmp_path.is_dir()


def test_scan_output_in_a_missing_folder(one_photo: Path, tmp_path: Path) -> None:
    """--out in a folder that does not exist: exit 2 naming it, no traceback."""
    out = tmp_path / "missing" / "scores.csv"

    code, output = _run("scan", str(one_photo), "--out", str(out))

    assert code == 2, output
    assert "output must be in an existing folder" in output
    assert not out.parent.exists()


def test_scan_of_an_empty_folder(tmp_path: Path) -> None:
    """An empty folder scans nothing and says so in one line, exit 0, instead of
    an empty outcome table."""
    (tmp_path / "empty").mkdir()
    out = tmp_path / "scores.csv"

    code, output = _run("scan", str(tmp_path / "empty"), "--out", str(out))

    assert code == 0, output
    # The console wraps long paths, so the line is checked in its parts.
    assert "No images found in" in output
    assert "(looked for .gif, .jpeg, .jpg, .png, .webp files" in output
    assert "outcome" not in output
    assert "0 scanned" not in output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("score,label\n", "at least one"),
        ("score,label\n0.2,maybe\n", "label"),
        ("score,label\nhigh,1\n", "score"),
        ("score,label\nnan,1\n0.3,0\n", "score"),
        ("score,label\n1.5,1\n0.3,0\n", "score"),
        ("a,b\n1,2\n", "score"),
        ("", "score"),
    ],
)
def test_tune_refuses_bad_labels(tmp_path: Path, content: str, expected: str) -> None:
    """No rows, bad labels and scores: exit 2 with a sentence."""
    labels = tmp_path / "labels.csv"
    labels.write_text(content)

    code, output = _run("tune", "--labels", str(labels))

    assert code == 2, output
    assert expected in output


def test_tune_with_one_class_reports_why(tmp_path: Path) -> None:
    """Only safe labels: a result whose reason says so in words, no NaN."""
    labels = tmp_path / "labels.csv"
    labels.write_text("score,label\n0.2,0\n0.4,0\n")

    code, output = _run("tune", "--labels", str(labels))

    assert code == 0, output
    words = " ".join(output.split())
    assert "no label is unsafe, so the miss rate cannot be estimated" in words
    assert "no_unsafe_labels" not in words
    assert "nan" not in output.lower()


@pytest.mark.parametrize("layout", [(), ("unsafe",)])
def test_evaluate_without_a_safe_folder(
    tmp_path: Path, layout: tuple[str, ...]
) -> None:
    """Missing class folders: exit 2 naming the folder."""
    for name in layout:
        (tmp_path / name).mkdir()

    code, output = _run("evaluate", str(tmp_path))

    assert code == 2, output
    assert "safe" in output


def test_evaluate_with_one_class_reports_why(tmp_path: Path) -> None:
    """Safe images only, unsafe/ empty: the undefined metrics carry reasons."""
    (tmp_path / "safe").mkdir()
    (tmp_path / "unsafe").mkdir()
    (tmp_path / "safe" / "r.jpg").write_bytes(PHOTOS["rocket"].read_bytes())

    code, output = _run("evaluate", str(tmp_path))

    assert code == 0, output
    words = " ".join(output.split())
    assert "both safe and unsafe images are needed for ROC AUC and recall" in words
    assert "one_class_only" not in words
    assert "nan" not in output.lower()
