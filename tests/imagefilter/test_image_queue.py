"""The review queue: claims under a lease, decisions, sampling, audit log, kappa."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from queue_workers import decide_then_crash, fill
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from veedel.errors import InputError, NotFoundError
from veedel.imagefilter import Policy, ReviewQueue
from veedel.imagefilter.queue import ClaimConflict, utcnow
from veedel.imagefilter.stats import (
    agreement,
    queue_stats,
    review_labels,
    wilson_interval,
)
from veedel.imagefilter.tables import AuditEvent, ReviewDecision, ReviewItem
from veedel.store import session_scope

POLICY = Policy({"post_image": (0.3, 0.8)})


def _queue(engine: Engine, **options: float) -> ReviewQueue:
    settings = {
        "audit_allow_share": 0.0,
        "audit_block_share": 0.0,
        "second_review_share": 0.0,
    } | options
    return ReviewQueue(engine, lease_seconds=60, **settings)  # type: ignore[arg-type]


def _events(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)))


def test_only_the_review_band_is_queued_without_audits(sqlite_engine: Engine) -> None:
    """Allow and block store a decision but no item; review queues one."""
    queue = _queue(sqlite_engine)

    kinds = [
        queue.submit(
            POLICY.decide(score, "post_image", "m"), bytes([n]), ref=str(n)
        ).kind
        for n, score in enumerate((0.1, 0.5, 0.9))
    ]

    assert kinds == [None, "review", None]
    assert queue_stats(sqlite_engine).decisions == {"allow": 1, "review": 1, "block": 1}


def test_claims_go_oldest_first_and_never_twice(sqlite_engine: Engine) -> None:
    """Two reviewers get the two oldest items; asking again returns one's own item."""
    queue = _queue(sqlite_engine)
    first, second, _third = fill(queue, 3)

    anna = queue.claim("anna")
    ben = queue.claim("ben")
    anna_again = queue.claim("anna")

    assert anna is not None and ben is not None and anna_again is not None
    assert (anna.item_id, ben.item_id) == (first, second)
    assert anna_again.item_id == first
    assert anna.score == 0.5 and "review band" in str(anna.reason)


def test_abandoned_claim_returns_after_the_lease(sqlite_engine: Engine) -> None:
    """An item whose lease ran out goes to the next reviewer; the first loses it."""
    queue = _queue(sqlite_engine)
    (item,) = fill(queue, 1)
    start = utcnow()

    held = queue.claim("anna", now=start)
    during = queue.claim("ben", now=start + timedelta(seconds=59))
    after = queue.claim("ben", now=start + timedelta(seconds=61))

    assert held is not None and held.item_id == item
    assert during is None
    assert after is not None and after.item_id == item
    with pytest.raises(ClaimConflict):
        queue.decide(item, "anna", "approve", token=held.token)


def test_a_refused_decision_names_the_rule_it_broke(sqlite_engine: Engine) -> None:
    """A wrong token for an item maria holds says the token is wrong, not that
    maria must hold it; someone else's item and a decided one say so too."""
    queue = _queue(sqlite_engine)
    mine, theirs = fill(queue, 2)
    claim = queue.claim("maria")
    assert claim is not None and claim.item_id == mine
    assert queue.claim("ben") is not None

    with pytest.raises(ClaimConflict) as wrong_token:
        queue.decide(mine, "maria", "approve", token="0" * 32)
    with pytest.raises(ClaimConflict) as not_held:
        queue.decide(theirs, "maria", "approve")
    queue.decide(mine, "maria", "approve", token=claim.token)
    with pytest.raises(ClaimConflict) as decided:
        queue.decide(mine, "maria", "reject")

    assert str(wrong_token.value).startswith(
        f"token must be the token of maria's current claim on item {mine}"
    )
    assert "held by" not in str(wrong_token.value)
    assert str(not_held.value).startswith(
        "item must be held by maria; another reviewer holds it"
    )
    assert str(decided.value).startswith(
        "item must still be open; it was already decided"
    )


def test_release_gives_the_item_back(sqlite_engine: Engine) -> None:
    """A released item can be claimed by someone else at once."""
    queue = _queue(sqlite_engine)
    (item,) = fill(queue, 1)
    claim = queue.claim("anna")
    assert claim is not None

    queue.release(item, "anna", claim.token)

    taken = queue.claim("ben")
    assert taken is not None and taken.item_id == item


def test_decision_records_reviewer_reason_and_time(sqlite_engine: Engine) -> None:
    """The decision carries verdict, reason, reviewer and time; the item is done."""
    queue = _queue(sqlite_engine)
    (item,) = fill(queue, 1)
    claim = queue.claim("anna")
    assert claim is not None
    before = utcnow()

    queue.decide(item, "anna", "reject", "nudity", token=claim.token)

    with session_scope(sqlite_engine) as session:
        decision = session.scalars(select(ReviewDecision)).one()
        status = session.get(ReviewItem, item).status  # type: ignore[union-attr]
    assert (decision.reviewer, decision.verdict, decision.reason) == (
        "anna",
        "reject",
        "nudity",
    )
    assert before <= decision.decided_at <= utcnow()
    assert status == "done"
    assert _events(sqlite_engine) == ["queued", "claimed", "decided"]


def test_an_item_is_decided_once(sqlite_engine: Engine) -> None:
    """Deciding again, or deciding an unclaimed or unknown item, is refused."""
    queue = _queue(sqlite_engine)
    one, two = fill(queue, 2)
    claim = queue.claim("anna")
    assert claim is not None
    queue.decide(one, "anna", "approve")

    with pytest.raises(ClaimConflict):
        queue.decide(one, "anna", "reject")
    with pytest.raises(ClaimConflict):
        queue.decide(two, "anna", "approve")
    with pytest.raises(NotFoundError):
        queue.decide(999, "anna", "approve")
    with pytest.raises(InputError, match="verdict"):
        queue.decide(two, "anna", "maybe")


def test_second_review_goes_to_someone_else_blind(sqlite_engine: Engine) -> None:
    """With share 1 every first decision gets a blind second look by another."""
    queue = _queue(sqlite_engine, second_review_share=1.0)
    (item,) = fill(queue, 1)
    claim = queue.claim("anna")
    assert claim is not None
    queue.decide(item, "anna", "reject", "explicit")

    assert queue.claim("anna") is None
    second = queue.claim("ben")

    assert second is not None and second.item_id != item
    assert second.blind and second.score is None and second.reason is None
    assert queue.image(second.item_id) == (b"image-0", "application/octet-stream")


def test_audit_sample_share_and_weights(sqlite_engine: Engine) -> None:
    """Half of 200 allowed images are sampled (within 4 sigma), blind, weight 2."""
    queue = _queue(sqlite_engine, audit_allow_share=0.5)
    verdict = POLICY.decide(0.05, "post_image", "m")

    kinds = [queue.submit(verdict, f"a{n}".encode(), ref="x").kind for n in range(200)]

    sampled = kinds.count("audit")
    assert abs(sampled - 100) <= 28  # 4 sd, sd = sqrt(200 * 0.25) = 7.07
    with session_scope(sqlite_engine) as session:
        items = session.scalars(select(ReviewItem)).all()
        assert all(item.blind and item.inclusion_probability == 0.5 for item in items)
    # Sampling is a function of the image: the same image is sampled again.
    again = [queue.submit(verdict, f"a{n}".encode(), ref="x").kind for n in range(200)]
    assert again == kinds


def test_labels_and_error_rates_from_audits(sqlite_engine: Engine) -> None:
    """Audited allows rejected 1 of 4 times: rate 0.25 with the Wilson interval."""
    queue = _queue(sqlite_engine, audit_allow_share=1.0)
    verdict = POLICY.decide(0.1, "post_image", "m")
    for n in range(4):
        queue.submit(verdict, f"x{n}".encode(), ref="x")
    for verdict_name in ("reject", "approve", "approve", "approve"):
        claim = queue.claim("anna")
        assert claim is not None
        queue.decide(claim.item_id, "anna", verdict_name)

    stats = queue_stats(sqlite_engine)
    scores, labels, weights = review_labels(sqlite_engine)

    assert stats.allowed_but_unsafe.rate == 0.25
    assert (stats.allowed_but_unsafe.low, stats.allowed_but_unsafe.high) == (
        pytest.approx(wilson_interval(1, 4)[0]),
        pytest.approx(wilson_interval(1, 4)[1]),
    )
    assert stats.blocked_but_safe.reason == "no_audits"
    assert stats.reviewers == {"anna": {"decisions": 4, "approve": 3, "reject": 1}}
    assert labels.tolist() == [1, 0, 0, 0] and weights.tolist() == [1.0] * 4
    assert scores.tolist() == [0.1] * 4


def test_wilson_interval_by_hand() -> None:
    """0 of 10: the interval is [0, z²/(n+z²)] = [0, 0.2775]."""
    low, high = wilson_interval(0, 10)

    assert low == 0.0
    assert high == pytest.approx(1.959964**2 / (10 + 1.959964**2))


def test_cohens_kappa_by_hand(sqlite_engine: Engine) -> None:
    """First reviews R R A A, second R A A A: p_o 0.75, p_e 0.5, kappa 0.5."""
    queue = _queue(sqlite_engine, second_review_share=1.0)
    fill(queue, 4)
    for verdict in ("reject", "reject", "approve", "approve"):
        claim = queue.claim("anna")
        assert claim is not None and not claim.blind
        queue.decide(claim.item_id, "anna", verdict)
    for verdict in ("reject", "approve", "approve", "approve"):
        claim = queue.claim("ben")
        assert claim is not None and claim.blind
        queue.decide(claim.item_id, "ben", verdict)

    result = agreement(sqlite_engine)

    assert result.n_pairs == 4
    assert result.observed == 0.75
    assert result.kappa == pytest.approx(0.5)


def test_kappa_undefined_gives_a_reason(sqlite_engine: Engine) -> None:
    """No pairs: kappa None with reason 'too_few_pairs', never NaN."""
    assert agreement(sqlite_engine).reason == "too_few_pairs"
    assert agreement(sqlite_engine).kappa is None


def test_audit_log_is_append_only(sqlite_engine: Engine) -> None:
    """The database refuses to update or delete audit lines."""
    queue = _queue(sqlite_engine)
    fill(queue, 1)

    for statement in (
        "UPDATE imagefilter_audit_log SET actor = 'x'",
        "DELETE FROM imagefilter_audit_log",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            sqlite_engine.begin() as c,
        ):
            c.execute(text(statement))
    assert _events(sqlite_engine) == ["queued"]


def test_failure_mid_decision_records_nothing(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing the audit line fails, neither decision nor item change remains."""
    queue = _queue(sqlite_engine)
    (item,) = fill(queue, 1)
    assert queue.claim("anna") is not None

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("veedel.imagefilter.queue._audit", broken)
    with pytest.raises(RuntimeError):
        queue.decide(item, "anna", "reject", "explicit")
    monkeypatch.undo()

    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(ReviewDecision)).all() == []
        assert session.get(ReviewItem, item).status == "open"  # type: ignore[union-attr]
    assert queue.holds(item, "anna")
    queue.decide(item, "anna", "reject", "explicit")  # and it can be decided after


def _crash_check(engine: Engine, url: str) -> None:
    queue = _queue(engine)
    (item,) = fill(queue, 1)
    assert queue.claim("anna") is not None

    # Spawn, not fork: a forked copy of a busy test worker can inherit a lock
    # held by one of its threads and hang before it gets to decide.
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=decide_then_crash, args=(url, item, "anna"))
    process.start()
    process.join(600)

    assert process.exitcode == 17
    with session_scope(engine) as session:
        assert session.scalars(select(ReviewDecision)).all() == []
        assert session.get(ReviewItem, item).status == "open"  # type: ignore[union-attr]
    assert _events(engine) == ["queued", "claimed"]
    queue.decide(item, "anna", "reject")
    assert _events(engine) == ["queued", "claimed", "decided"]


def test_process_killed_before_commit_records_nothing_sqlite(
    sqlite_engine: Engine,
) -> None:
    """A reviewer process that dies mid-decision leaves no trace (SQLite)."""
    _crash_check(sqlite_engine, str(sqlite_engine.url))


@pytest.mark.postgres
def test_process_killed_before_commit_records_nothing_postgres(
    postgres_url: str,
) -> None:
    """A reviewer process that dies mid-decision leaves no trace (PostgreSQL)."""
    from veedel.store import get_engine, init_store

    engine = get_engine(postgres_url)
    init_store(engine)
    try:
        _crash_check(engine, postgres_url)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_audit_log_is_append_only_postgres(postgres_url: str) -> None:
    """PostgreSQL's trigger refuses updates and deletes of audit lines too."""
    from veedel.store import get_engine, init_store

    engine = get_engine(postgres_url)
    init_store(engine)
    try:
        fill(_queue(engine), 1)
        for statement in (
            "UPDATE imagefilter_audit_log SET actor = 'x'",
            "DELETE FROM imagefilter_audit_log",
        ):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as c:
                c.execute(text(statement))
    finally:
        engine.dispose()
