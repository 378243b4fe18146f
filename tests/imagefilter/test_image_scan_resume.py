"""A queueing scan stores and queues every image once, however it is stopped."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from image_samples import PHOTOS
from PIL import Image
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from veedel.cli.main import app
from veedel.imagefilter import Policy, ReviewQueue, Submission
from veedel.imagefilter.tables import DecisionKey, ImageDecision, ReviewItem
from veedel.settings import get_settings
from veedel.store import get_engine, init_store, session_scope

POLICY = Policy({"post_image": (0.3, 0.8), "profile_picture": (0.2, 0.7)})
N_IMAGES = 16


def _queue(engine: Engine) -> ReviewQueue:
    return ReviewQueue(
        engine, audit_allow_share=0.0, audit_block_share=0.0, second_review_share=0.0
    )


def _count(engine: Engine, table: type) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_unique_submission_is_stored_once(sqlite_engine: Engine) -> None:
    """The same bytes on the same surface and model: the second submission
    stores nothing and returns the first one's ids; another surface or model
    version is a decision of its own."""
    queue = _queue(sqlite_engine)
    verdict = POLICY.decide(0.5, "post_image", "m1")

    first = queue.submit(verdict, b"photo", ref="a.jpg", unique=True)
    again = queue.submit(verdict, b"photo", ref="b.jpg", unique=True)
    surface = queue.submit(
        POLICY.decide(0.5, "profile_picture", "m1"), b"photo", ref="a", unique=True
    )
    model = queue.submit(
        POLICY.decide(0.5, "post_image", "m2"), b"photo", ref="a", unique=True
    )
    upload = queue.submit(verdict, b"photo", ref="upload")

    assert first.item_id is not None and not first.duplicate
    assert again == Submission(first.decision_id, first.item_id, "review", True)
    assert len({first.decision_id, surface.decision_id, model.decision_id}) == 3
    assert not upload.duplicate and upload.decision_id not in {first.decision_id}
    assert _count(sqlite_engine, ImageDecision) == 4
    assert _count(sqlite_engine, ReviewItem) == 4
    assert _count(sqlite_engine, DecisionKey) == 3


def _same_image_unique_at_once(engine: Engine, n_threads: int) -> list[object]:
    queue = _queue(engine)
    verdict = POLICY.decide(0.5, "post_image", "m")
    barrier = threading.Barrier(n_threads)
    outcomes: list[object] = []

    def submit(n: int) -> None:
        barrier.wait()
        try:
            outcomes.append(queue.submit(verdict, b"same", ref=str(n), unique=True))
        except Exception as exc:  # a duplicate key must not surface as an error
            outcomes.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _check_once(engine: Engine, outcomes: list[object]) -> None:
    assert all(isinstance(outcome, Submission) for outcome in outcomes), outcomes
    submissions = [o for o in outcomes if isinstance(o, Submission)]
    assert len({(s.decision_id, s.item_id) for s in submissions}) == 1
    assert sum(not s.duplicate for s in submissions) == 1
    assert _count(engine, ImageDecision) == _count(engine, ReviewItem) == 1


def test_the_same_image_submitted_unique_at_once_on_sqlite(
    sqlite_engine: Engine,
) -> None:
    """Eight threads submit one image at once: one decision, one item, and
    every thread gets its ids (SQLite)."""
    _check_once(sqlite_engine, _same_image_unique_at_once(sqlite_engine, 8))


@pytest.mark.postgres
def test_the_same_image_submitted_unique_at_once_on_postgres(
    postgres_url: str,
) -> None:
    """The same on PostgreSQL, where the racing inserts wait on the key."""
    engine = get_engine(postgres_url)
    init_store(engine)
    try:
        _check_once(engine, _same_image_unique_at_once(engine, 8))
    finally:
        engine.dispose()


def _distinct_photos(folder: Path, n: int) -> list[str]:
    """``n`` small PNGs with distinct bytes (one pixel differs)."""
    folder.mkdir()
    base = np.asarray(Image.open(PHOTOS["chelsea"]).convert("RGB").resize((80, 60)))
    names = []
    for index in range(n):
        pixels = base.copy()
        pixels[0, 0] = (index, 255 - index, 7)
        names.append(f"photo-{index:03d}.png")
        Image.fromarray(pixels).save(folder / names[-1])
    return names


def _scan(folder: Path, out: Path) -> list[str]:
    """The scan command line, for a fresh interpreter."""
    options = ["--out", str(out), "--queue", "--batch-size", "2"]
    code = "from veedel.cli.main import app; app()"
    return [sys.executable, "-c", code, "images", "scan", str(folder), *options]


def _lines(out: Path) -> list[str]:
    if not out.exists():
        return []
    return [row["path"] for row in csv.DictReader(out.open(newline=""))]


def _queued_refs(engine: Engine) -> list[str]:
    try:
        with session_scope(engine) as session:
            return [
                Path(ref).name
                for ref in session.scalars(
                    select(ImageDecision.ref).join(
                        ReviewItem, ReviewItem.decision_id == ImageDecision.id
                    )
                )
            ]
    except OperationalError:  # the scan has not created the tables yet
        return []


@pytest.mark.slow  # a second interpreter loads the CLI and the model: ~15 s
def test_scan_killed_hard_then_resumed_queues_every_image_once(
    tmp_path: Path, review_config: Path
) -> None:
    """SIGKILL in the middle of a queueing scan, then the same command again:
    every image has exactly one line, one decision and one review item. At the
    kill, every line already written stands for an image already queued."""
    folder = tmp_path / "photos"
    names = _distinct_photos(folder, N_IMAGES)
    out = tmp_path / "scores.csv"
    engine = get_engine(get_settings().resolved_store_url())

    scan = subprocess.Popen(
        _scan(folder, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(_lines(out)) < 4 and scan.poll() is None:
        assert time.monotonic() < deadline, "the scan wrote nothing in a minute"
        time.sleep(0.005)
    os.kill(scan.pid, signal.SIGKILL)
    scan.wait()
    written, queued = _lines(out), _queued_refs(engine)

    assert scan.returncode == -signal.SIGKILL, "the scan finished before the kill"
    assert len(written) < N_IMAGES
    assert set(written) <= set(queued)

    # The same command again, in this process (one interpreter start less).
    resumed = CliRunner().invoke(app, _scan(folder, out)[3:])

    assert resumed.exit_code == 0, resumed.output
    assert sorted(_lines(out)) == names
    assert sorted(_queued_refs(engine)) == names
    assert _count(engine, ImageDecision) == N_IMAGES
    engine.dispose()
