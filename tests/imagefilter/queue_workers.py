"""Code run in worker processes by the queue tests (importable by spawn)."""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

import veedel.imagefilter.tables  # noqa: F401  (registers the tables)
from veedel.imagefilter.policy import Policy
from veedel.imagefilter.queue import ReviewQueue
from veedel.store import get_engine


def fill(queue: ReviewQueue, n: int, score: float = 0.5) -> list[int]:
    """Submit ``n`` distinct images in the review band; their item ids."""
    policy = Policy({"post_image": (0.3, 0.8)})
    ids = []
    for index in range(n):
        verdict = policy.decide(score, "post_image", "test-model")
        submission = queue.submit(
            verdict, f"image-{index}".encode(), ref=f"{index}.jpg"
        )
        assert submission.item_id is not None
        ids.append(submission.item_id)
    return ids


def work_queue(
    url: str, name: str, n_threads: int, start: Any = None, results: Any = None
) -> list[int]:
    """Claim and decide items on ``n_threads`` threads until the queue is empty.

    With ``start`` (a multiprocessing barrier) every process begins at once;
    with ``results`` (a multiprocessing queue) the item ids are put there.
    """
    try:
        taken = _work(url, name, n_threads, start)
    except Exception as exc:  # report to the parent instead of dying silently
        if results is not None:
            results.put(f"{name}: {type(exc).__name__}: {exc}")
        raise
    if results is not None:
        results.put(taken)
    return taken


def _work(url: str, name: str, n_threads: int, start: Any) -> list[int]:
    engine = get_engine(url)
    queue = ReviewQueue(engine, second_review_share=0.0)
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)
    taken: list[int] = []
    lock = threading.Lock()

    def reviewer(number: int) -> None:
        me = f"{name}-t{number}"
        barrier.wait()
        try:
            while (claim := queue.claim(me)) is not None:
                queue.decide(claim.item_id, me, "approve", "fine", token=claim.token)
                with lock:
                    taken.append(claim.item_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(n_threads)]
    if start is not None:
        start.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    if errors:
        raise errors[0]
    return taken


def decide_then_crash(url: str, item_id: int, reviewer: str) -> None:
    """Decide an item but die (os._exit) just before the transaction commits."""
    engine = get_engine(url)

    @event.listens_for(Session, "before_commit")
    def _crash(session: Session) -> None:
        # Everything is flushed by now; dying here is a crash before COMMIT.
        session.flush()
        os._exit(17)

    ReviewQueue(engine).decide(item_id, reviewer, "reject", "explicit")
