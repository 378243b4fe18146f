"""Score every image in a folder, resumably.

:class:`Scanner` decodes and prepares the next batches of files on worker
threads while the model scores the current one, so the model rarely waits.
:func:`scan_folder` writes one record per file to a CSV or JSON Lines file as
it goes (flushed after every batch); run again with the same output file it
skips the files already recorded, so an interrupted scan resumes where it
stopped. A file is handed to the caller (to queue it) before its record is
written, so no record stands for an image that was never queued. A file
that cannot be decoded is recorded with its error code and does not stop the
scan.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from veedel.errors import InputError
from veedel.imagefilter.decode import DecodeLimits, ImageDecodeError, read_image_file
from veedel.imagefilter.evaluation import IMAGE_SUFFIXES
from veedel.imagefilter.model import OnnxClassifier
from veedel.imagefilter.policy import Policy, Verdict

__all__ = [
    "ScanRecord",
    "Scanner",
    "image_files",
    "read_records",
    "scan_folder",
    "usable_cores",
]

logger = logging.getLogger(__name__)

Format = Literal["csv", "json"]
FIELDS = (
    "path",
    "score",
    "action",
    "error",
    "frames",
    "surface",
    "model_version",
    "review_threshold",
    "block_threshold",
)


@dataclass(frozen=True)
class ScanRecord:
    """The outcome for one file: a score and action, or an error code."""

    path: str
    score: float | None
    action: str | None
    error: str | None
    frames: int
    surface: str
    model_version: str
    review_threshold: float
    block_threshold: float


@dataclass(frozen=True)
class _Prepared:
    path: Path
    tensors: NDArray[np.float32] | None
    error: str | None


class Scanner:
    """Scores files in batches with decoding overlapped with inference.

    Parameters
    ----------
    classifier
        The model.
    policy, surface
        Thresholds applied to every score.
    limits
        Upload limits applied to every file.
    batch_size
        Files per model call.
    workers
        Threads decoding ahead of the model; one per usable core if None.
        Decoding a phone photo costs about as much CPU as scoring it, so on
        two cores the model is best left one intra-op thread (see
        :meth:`~veedel.imagefilter.settings.ImageFilterSettings.scanner`).
    """

    def __init__(
        self,
        classifier: OnnxClassifier,
        policy: Policy,
        *,
        surface: str = "post_image",
        limits: DecodeLimits | None = None,
        batch_size: int = 16,
        workers: int | None = None,
    ) -> None:
        workers = usable_cores() if workers is None else workers
        if batch_size < 1 or workers < 1:
            raise InputError(
                "batch_size/workers", "must be at least 1", (batch_size, workers)
            )
        self.classifier = classifier
        self.policy = policy
        self.surface = surface
        self.thresholds = policy.thresholds(surface)
        self.limits = limits or DecodeLimits()
        self.batch_size = batch_size
        self.workers = workers

    def scan(
        self, paths: Sequence[Path], root: Path | None = None
    ) -> Iterator[tuple[ScanRecord, Verdict | None]]:
        """Records for ``paths`` in order; paths are shown relative to ``root``.

        Up to two batches beyond the one being scored are decoded ahead.
        Closing the iterator early cancels the files not yet started.
        """
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="image-decode")
        pending: deque[Future[_Prepared]] = deque()
        upcoming = iter(paths)
        try:
            self._top_up(pool, pending, upcoming)
            while pending:
                size = min(self.batch_size, len(pending))
                prepared = [pending.popleft().result() for _ in range(size)]
                # Refill first, so the workers decode while the model scores.
                self._top_up(pool, pending, upcoming)
                yield from self._score(prepared, root)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _top_up(
        self,
        pool: ThreadPoolExecutor,
        pending: deque[Future[_Prepared]],
        upcoming: Iterator[Path],
    ) -> None:
        for path in itertools.islice(upcoming, 2 * self.batch_size - len(pending)):
            pending.append(pool.submit(self._prepare, path))

    def _prepare(self, path: Path) -> _Prepared:
        try:
            image = read_image_file(path, self.limits)
        except ImageDecodeError as exc:
            return _Prepared(path, None, exc.code)
        return _Prepared(path, self.classifier.tensors(image), None)

    def _score(
        self, prepared: list[_Prepared], root: Path | None
    ) -> Iterator[tuple[ScanRecord, Verdict | None]]:
        good = [item for item in prepared if item.tensors is not None]
        stacks = [item.tensors for item in good if item.tensors is not None]
        scores = dict(
            zip(
                [id(item) for item in good],
                self.classifier.score_stacks(stacks).tolist(),
                strict=True,
            )
        )
        for item in prepared:
            name = str(item.path.relative_to(root)) if root else str(item.path)
            verdict = None
            if item.tensors is not None:
                verdict = self.policy.decide(
                    scores[id(item)], self.surface, self.classifier.model_version
                )
            yield (
                ScanRecord(
                    path=name,
                    score=None if verdict is None else round(verdict.score, 6),
                    action=None if verdict is None else verdict.action.value,
                    error=item.error,
                    frames=0 if item.tensors is None else int(item.tensors.shape[0]),
                    surface=self.surface,
                    model_version=self.classifier.model_version,
                    review_threshold=self.thresholds.review,
                    block_threshold=self.thresholds.block,
                ),
                verdict,
            )


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask where the OS has one."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def image_files(root: Path) -> list[Path]:
    """Image files under ``root`` by suffix, sorted, recursively."""
    if not root.is_dir():
        raise InputError("DIR", "must be an existing folder", str(root))
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )


def read_records(out: Path, fmt: Format) -> list[dict[str, str | None]]:
    """Records already in ``out``; a torn last line (a crash mid-write) is cut.

    The file must be one this scan wrote: UTF-8, and for CSV the scan's own
    header, for JSON Lines an object with a ``path`` on every line. Anything
    else is refused before the file is touched, so a wrong ``--out`` never
    damages someone else's file.
    """
    if not out.exists():
        return []
    if not out.is_file():
        raise _not_a_scan_output(out, "must be a file, not a folder")
    try:
        text = out.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        rule = f"must be UTF-8 text (byte {exc.start} is not)"
        raise _not_a_scan_output(out, rule) from None
    complete = text[: text.rfind("\n") + 1] if not text.endswith("\n") else text
    records = _parse_csv(out, complete) if fmt == "csv" else _parse_json(out, complete)
    if complete != text:
        out.write_text(complete, encoding="utf-8")
    return records


def _not_a_scan_output(out: Path, rule: str) -> InputError:
    return InputError(
        "output",
        f"{rule} to resume a scan into it",
        str(out),
        fix="Pass a new --out file, or --restart to replace this one.",
    )


def _parse_csv(out: Path, text: str) -> list[dict[str, str | None]]:
    reader = csv.DictReader(io.StringIO(text))
    if text and tuple(reader.fieldnames or ()) != FIELDS:
        raise _not_a_scan_output(out, f"must have the scan's CSV header {FIELDS}")
    try:
        return list(reader)
    except csv.Error as exc:
        raise _not_a_scan_output(out, f"must be valid CSV ({exc})") from None


def _parse_json(out: Path, text: str) -> list[dict[str, str | None]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise _not_a_scan_output(
                out, f"must hold a JSON scan record on line {number}"
            )
        records.append(record)
    return records


def scan_folder(
    root: Path,
    out: Path,
    scanner: Scanner,
    *,
    fmt: Format = "csv",
    resume: bool = True,
    on_record: Callable[[ScanRecord, Verdict | None, Path], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Scan ``root`` into ``out``; returns (files scanned now, files skipped).

    ``on_start(total, skipped)`` is called once the files are listed and
    ``on_record(record, verdict, path)`` for each file, for progress and for
    queueing. ``on_record`` runs before the record is written, so every
    record in ``out`` has been handled; records are flushed once per batch, so
    after a hard kill the last few handled files have no record and are
    handled again on resume. A handler with an outside effect must therefore
    be idempotent (the CLI queues with ``unique=True``).
    """
    files = image_files(root)
    if out.is_dir():
        raise InputError(
            "--out",
            "must be a file path, not a folder",
            str(out),
            fix=f"Name a file in it, e.g. {out / 'scores.csv'}.",
        )
    if not out.parent.is_dir():
        raise InputError(
            "output",
            "must be in an existing folder",
            str(out),
            fix="Create the folder first, or pass another --out file.",
        )
    if not resume and out.exists():
        out.unlink()
    done = {record["path"] for record in read_records(out, fmt)}
    todo = [path for path in files if str(path.relative_to(root)) not in done]
    skipped = len(files) - len(todo)
    if on_start is not None:
        on_start(len(files), skipped)
    logger.info(
        "Scanning %d files in %s (%d already in %s)", len(todo), root, skipped, out
    )

    new_file = not out.exists() or out.stat().st_size == 0
    with out.open("a", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=FIELDS, lineterminator="\n")
        if fmt == "csv" and new_file:
            writer.writeheader()
        for count, (record, verdict) in enumerate(scanner.scan(todo, root), start=1):
            # Handled before written: a record in the output has always been
            # queued, and one lost in the buffer is handled again on resume.
            if on_record is not None:
                on_record(record, verdict, root / record.path)
            if fmt == "csv":
                writer.writerow(asdict(record))
            else:
                stream.write(json.dumps(asdict(record)) + "\n")
            if count % scanner.batch_size == 0:
                stream.flush()
    return len(todo), skipped
