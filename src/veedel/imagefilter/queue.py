"""The human review queue: submit, claim under a lease, decide.

Every operation is one transaction, so a crash leaves either all of its rows
or none. Claims are safe under concurrency on SQLite and PostgreSQL alike: a
reviewer picks the oldest open item whose lease is free and takes it with a
conditional ``UPDATE`` that only succeeds if the item is still free, so when
two reviewers race for one item exactly one update changes a row and the
other tries the next item. On PostgreSQL the pick also uses ``FOR UPDATE SKIP
LOCKED`` so racing reviewers rarely collide at all. An item whose lease
expires is free again, so an abandoned claim returns to the queue.

Sampling is deterministic: whether an image goes to the blind audit sample,
and whether a decided item gets a second review, follows from a hash of the
image digest or item id, so a run can be reproduced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from veedel.errors import InputError, NotFoundError
from veedel.imagefilter.policy import Action, Verdict
from veedel.imagefilter.tables import (
    AuditEvent,
    DecisionKey,
    ImageBlob,
    ImageDecision,
    ReviewDecision,
    ReviewItem,
)
from veedel.store import session_scope

__all__ = ["Claim", "ClaimConflict", "ReviewQueue", "Submission", "utcnow"]

logger = logging.getLogger(__name__)

VERDICTS = ("approve", "reject")
_CLAIM_ATTEMPTS = 50


class ClaimConflict(InputError):
    """The item is not held by this reviewer (any more), or is already decided."""


def utcnow() -> datetime:
    """Now as naive UTC, the store's convention."""
    return datetime.now(UTC).replace(tzinfo=None)


class _Duplicate(Exception):
    """Raised inside a submission to roll it back: the image is already stored."""


@dataclass(frozen=True)
class Submission:
    """What :meth:`ReviewQueue.submit` stored for one image.

    ``duplicate`` is True when a ``unique`` submission found the image already
    stored: the ids are those of the earlier submission and nothing was added.
    """

    decision_id: int
    item_id: int | None
    kind: str | None
    duplicate: bool = False


@dataclass(frozen=True)
class Claim:
    """An item held by one reviewer until ``lease_expires_at``.

    For blind items (audit samples and second reviews) ``score`` and
    ``reason`` are None: the reviewer should not be anchored by the model or
    by the first reviewer.
    """

    item_id: int
    token: str
    reviewer: str
    lease_expires_at: datetime
    sha256: str
    media_type: str
    surface: str
    blind: bool
    score: float | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (times in ISO 8601, UTC)."""
        return {
            "item_id": self.item_id,
            "token": self.token,
            "reviewer": self.reviewer,
            "lease_expires_at": self.lease_expires_at.replace(tzinfo=UTC).isoformat(),
            "sha256": self.sha256,
            "media_type": self.media_type,
            "surface": self.surface,
            "blind": self.blind,
            "score": self.score,
            "reason": self.reason,
        }


class ReviewQueue:
    """The review queue in the application store at ``engine``.

    Parameters
    ----------
    engine
        The store; its tables must exist (``init_store``).
    lease_seconds
        How long a claim lasts.
    audit_allow_share, audit_block_share
        Shares of automatically allowed and blocked images queued blind.
    second_review_share
        Share of decided first reviews that get an independent second review.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: int = 300,
        audit_allow_share: float = 0.02,
        audit_block_share: float = 0.05,
        second_review_share: float = 0.10,
    ) -> None:
        for name, share in (
            ("audit_allow_share", audit_allow_share),
            ("audit_block_share", audit_block_share),
            ("second_review_share", second_review_share),
        ):
            if not 0.0 <= share <= 1.0:
                raise InputError(name, "must be a share in [0, 1]", share)
        if lease_seconds < 1:
            raise InputError("lease_seconds", "must be at least 1", lease_seconds)
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        self.audit_allow_share = audit_allow_share
        self.audit_block_share = audit_block_share
        self.second_review_share = second_review_share

    # -- submitting ---------------------------------------------------------

    def submit(
        self,
        verdict: Verdict,
        content: bytes,
        *,
        ref: str,
        media_type: str = "application/octet-stream",
        unique: bool = False,
    ) -> Submission:
        """Store the automatic decision and queue the image if a human must look.

        The image is queued when the action is ``review``, or as a blind audit
        sample of an ``allow`` or ``block`` with the configured shares.

        With ``unique``, at most one decision is ever stored per content
        digest, surface and model version: submitting the same image again
        (a resumed scan, or two at once) stores nothing and returns the first
        submission with ``duplicate=True``. The database enforces it, with an
        insert that skips a duplicate key on SQLite and PostgreSQL.
        """
        sha256 = hashlib.sha256(content).hexdigest()
        try:
            return self._store(verdict, content, sha256, ref, media_type, unique)
        except _Duplicate:
            return self._stored(sha256, verdict)

    def _store(
        self,
        verdict: Verdict,
        content: bytes,
        sha256: str,
        ref: str,
        media_type: str,
        unique: bool,
    ) -> Submission:
        kind, probability = self._queue_kind(verdict, sha256)
        now = utcnow()
        with session_scope(self.engine) as session:
            decision = ImageDecision(
                sha256=sha256,
                ref=ref[:1024],
                surface=verdict.surface,
                score=verdict.score,
                action=verdict.action.value,
                review_threshold=verdict.thresholds.review,
                block_threshold=verdict.thresholds.block,
                model_version=verdict.model_version,
                decided_at=verdict.decided_at.astimezone(UTC).replace(tzinfo=None),
            )
            session.add(decision)
            session.flush()
            # Leaving the scope by an exception rolls the decision back too.
            if unique and not _insert_key(session, sha256, verdict, decision.id):
                raise _Duplicate
            if kind is None:
                return Submission(decision.id, None, None)

            _store_blob(session, sha256, media_type, content)
            item = ReviewItem(
                decision_id=decision.id,
                kind=kind,
                blind=kind != "review",
                inclusion_probability=probability,
                status="open",
                created_at=now,
            )
            session.add(item)
            session.flush()
            _audit(
                session,
                "system",
                "queued",
                item.id,
                kind=kind,
                action=verdict.action.value,
                score=verdict.score,
            )
            return Submission(decision.id, item.id, kind)

    def _stored(self, sha256: str, verdict: Verdict) -> Submission:
        """The earlier unique submission of ``sha256`` on the verdict's surface."""
        with session_scope(self.engine) as session:
            decision_id = session.scalar(
                select(DecisionKey.decision_id).where(
                    DecisionKey.sha256 == sha256,
                    DecisionKey.surface == verdict.surface,
                    DecisionKey.model_version == verdict.model_version,
                )
            )
            if decision_id is None:
                # The key's insert was refused, so a committed row holds it;
                # only a store edited by hand between the two queries lands here.
                raise NotFoundError(
                    f"No stored decision holds image {sha256} on surface "
                    f"{verdict.surface!r}, although its key was taken; "
                    "check imagefilter_decision_keys in the store."
                )
            item = session.scalars(
                select(ReviewItem)
                .where(ReviewItem.decision_id == decision_id)
                .order_by(ReviewItem.id)
                .limit(1)
            ).first()
            logger.debug("Image %s already stored as decision %d", sha256, decision_id)
            return Submission(
                decision_id,
                None if item is None else item.id,
                None if item is None else item.kind,
                duplicate=True,
            )

    def _queue_kind(self, verdict: Verdict, sha256: str) -> tuple[str | None, float]:
        if verdict.action is Action.REVIEW:
            return "review", 1.0
        share = (
            self.audit_allow_share
            if verdict.action is Action.ALLOW
            else self.audit_block_share
        )
        if share > 0 and _uniform(f"audit:{verdict.surface}:{sha256}") < share:
            return "audit", share
        return None, 0.0

    # -- claiming -------------------------------------------------------------

    def claim(self, reviewer: str, *, now: datetime | None = None) -> Claim | None:
        """Hold the oldest free item for ``reviewer``; None if the queue is empty.

        A reviewer who already holds an unexpired claim gets that item back,
        so reloading the page does not take a second item.
        """
        reviewer = _checked_reviewer(reviewer)
        now = now or utcnow()
        held = self._held(reviewer, now)
        if held is not None:
            return held
        for _ in range(_CLAIM_ATTEMPTS):
            settled, claim = self._try_claim(reviewer, now)
            if settled:
                return claim
        logger.warning(
            "Reviewer %s lost %d claim races in a row", reviewer, _CLAIM_ATTEMPTS
        )
        return None

    def _try_claim(self, reviewer: str, now: datetime) -> tuple[bool, Claim | None]:
        """(True, claim); (True, None) if nothing is free; (False, None) lost a race."""
        with session_scope(self.engine) as session:
            pick = (
                select(ReviewItem.id)
                .where(_is_free(now))
                .where(
                    or_(
                        ReviewItem.exclude_reviewer.is_(None),
                        ReviewItem.exclude_reviewer != reviewer,
                    )
                )
                .order_by(ReviewItem.id)
                .limit(1)
            )
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            item_id = session.scalar(pick)
            if item_id is None:
                return True, None

            token = uuid.uuid4().hex
            expires = now + self.lease
            taken = session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id, _is_free(now))
                .values(
                    claimed_by=reviewer, claim_token=token, lease_expires_at=expires
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return False, None
            _audit(
                session,
                reviewer,
                "claimed",
                item_id,
                lease_expires_at=expires.isoformat(),
            )
            return True, self._claim_of(session, item_id)

    def _held(self, reviewer: str, now: datetime) -> Claim | None:
        with session_scope(self.engine) as session:
            item_id = session.scalar(
                select(ReviewItem.id)
                .where(
                    ReviewItem.status == "open",
                    ReviewItem.claimed_by == reviewer,
                    ReviewItem.lease_expires_at > now,
                )
                .order_by(ReviewItem.id)
                .limit(1)
            )
            return None if item_id is None else self._claim_of(session, item_id)

    def release(self, item_id: int, reviewer: str, token: str) -> None:
        """Give a claimed item back to the queue before its lease ends."""
        with session_scope(self.engine) as session:
            released = session.execute(
                update(ReviewItem)
                .where(
                    ReviewItem.id == item_id,
                    ReviewItem.status == "open",
                    ReviewItem.claimed_by == reviewer,
                    ReviewItem.claim_token == token,
                )
                .values(claimed_by=None, claim_token=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            if released.rowcount != 1:  # type: ignore[attr-defined]
                raise ClaimConflict("item", f"must be held by {reviewer}", item_id)
            _audit(session, reviewer, "released", item_id)

    # -- deciding -------------------------------------------------------------

    def decide(
        self,
        item_id: int,
        reviewer: str,
        verdict: str,
        reason: str = "",
        *,
        token: str | None = None,
        now: datetime | None = None,
    ) -> ReviewDecision:
        """Record ``reviewer``'s ``verdict`` (approve or reject) on a held item.

        The item must be open and held by ``reviewer`` (with ``token`` if
        given); a lease that ran out still counts as long as nobody else has
        claimed the item since. The decision, the item's new state, the audit
        line and any second-review item are written in one transaction.

        Raises
        ------
        NotFoundError
            No item ``item_id``.
        ClaimConflict
            Already decided, or held by someone else.
        """
        reviewer = _checked_reviewer(reviewer)
        if verdict not in VERDICTS:
            raise InputError("verdict", f"must be one of {list(VERDICTS)}", verdict)
        if len(reason) > 2000:
            raise InputError("reason", "must be at most 2000 characters", len(reason))
        now = now or utcnow()

        with session_scope(self.engine) as session:
            item = session.get(ReviewItem, item_id)
            if item is None:
                raise NotFoundError(f"Review item {item_id} does not exist.")
            conditions = [
                ReviewItem.id == item_id,
                ReviewItem.status == "open",
                ReviewItem.claimed_by == reviewer,
            ]
            if token is not None:
                conditions.append(ReviewItem.claim_token == token)
            closed = session.execute(
                update(ReviewItem)
                .where(*conditions)
                .values(status="done", lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            if closed.rowcount != 1:  # type: ignore[attr-defined]
                raise _decide_conflict(item, reviewer, token)
            decision = ReviewDecision(
                item_id=item_id,
                reviewer=reviewer,
                verdict=verdict,
                reason=reason,
                decided_at=now,
            )
            session.add(decision)
            session.flush()
            _audit(
                session, reviewer, "decided", item_id, verdict=verdict, reason=reason
            )
            self._maybe_second_review(session, item, reviewer, now)
            return decision

    def _maybe_second_review(
        self, session: Session, item: ReviewItem, reviewer: str, now: datetime
    ) -> None:
        if item.kind == "second" or self.second_review_share == 0:
            return
        if _uniform(f"second:{item.id}") >= self.second_review_share:
            return
        second = ReviewItem(
            decision_id=item.decision_id,
            kind="second",
            blind=True,
            inclusion_probability=item.inclusion_probability,
            status="open",
            exclude_reviewer=reviewer,
            first_item_id=item.id,
            created_at=now,
        )
        session.add(second)
        session.flush()
        _audit(
            session, "system", "queued", second.id, kind="second", first_item_id=item.id
        )

    # -- reading --------------------------------------------------------------

    def image(self, item_id: int) -> tuple[bytes, str]:
        """The bytes and media type of an item's image."""
        with session_scope(self.engine) as session:
            row = session.execute(
                select(ImageBlob.content, ImageBlob.media_type)
                .join(ImageDecision, ImageDecision.sha256 == ImageBlob.sha256)
                .join(ReviewItem, ReviewItem.decision_id == ImageDecision.id)
                .where(ReviewItem.id == item_id)
            ).first()
            if row is None:
                raise NotFoundError(f"Review item {item_id} has no image.")
            return bytes(row[0]), str(row[1])

    def holds(
        self, item_id: int, reviewer: str, *, now: datetime | None = None
    ) -> bool:
        """Whether ``reviewer`` holds an unexpired claim on ``item_id``."""
        now = now or utcnow()
        with session_scope(self.engine) as session:
            item = session.get(ReviewItem, item_id)
            return (
                item is not None
                and item.status == "open"
                and item.claimed_by == reviewer
                and item.lease_expires_at is not None
                and item.lease_expires_at > now
            )

    def _claim_of(self, session: Session, item_id: int) -> Claim:
        item, decision, media_type = session.execute(
            select(ReviewItem, ImageDecision, ImageBlob.media_type)
            .join(ImageDecision, ImageDecision.id == ReviewItem.decision_id)
            .join(ImageBlob, ImageBlob.sha256 == ImageDecision.sha256)
            .where(ReviewItem.id == item_id)
        ).one()
        reason = None
        if not item.blind:
            reason = (
                f"score {decision.score:.3f} is in the review band "
                f"[{decision.review_threshold:.2f}, {decision.block_threshold:.2f}) "
                f"of {decision.surface}"
            )
        assert item.claim_token is not None and item.lease_expires_at is not None
        return Claim(
            item_id=item.id,
            token=item.claim_token,
            reviewer=str(item.claimed_by),
            lease_expires_at=item.lease_expires_at,
            sha256=decision.sha256,
            media_type=media_type,
            surface=decision.surface,
            blind=item.blind,
            score=None if item.blind else decision.score,
            reason=reason,
        )


def _is_free(now: datetime) -> Any:
    return (ReviewItem.status == "open") & or_(
        ReviewItem.lease_expires_at.is_(None), ReviewItem.lease_expires_at <= now
    )


def _audit(
    session: Session, actor: str, name: str, item_id: int | None, **details: Any
) -> None:
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=actor,
            event=name,
            item_id=item_id,
            details=json.dumps(details, sort_keys=True, default=str),
        )
    )


def _uniform(key: str) -> float:
    """A number in [0, 1) fixed by ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _checked_reviewer(reviewer: str) -> str:
    if not reviewer or len(reviewer) > 64:
        raise InputError("reviewer", "must be a name of 1 to 64 characters", reviewer)
    return reviewer


def _store_blob(session: Session, sha256: str, media_type: str, content: bytes) -> None:
    """Store an image's bytes once, however many uploads of it arrive at once.

    A look-up then an insert races: two uploads of the same bytes both find
    nothing, and the second insert breaks the primary key. PostgreSQL and
    SQLite skip the duplicate in the insert itself.
    """
    values = {"sha256": sha256, "media_type": media_type, "content": content}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(ImageBlob).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(
            sqlite_insert(ImageBlob).values(values).on_conflict_do_nothing()
        )
    elif session.get(ImageBlob, sha256) is None:
        session.add(ImageBlob(**values))


def _insert_key(
    session: Session, sha256: str, verdict: Verdict, decision_id: int
) -> bool:
    """Claim the unique key of a decision; False if another decision holds it.

    A look-up before the insert would race with a concurrent submission of
    the same image, so the insert itself skips a duplicate key; on PostgreSQL
    it waits for the other transaction and skips once that one has committed.
    Whether a row went in is read from ``RETURNING`` (psycopg may report no
    row count for this insert).
    """
    values = {
        "sha256": sha256,
        "surface": verdict.surface,
        "model_version": verdict.model_version,
        "decision_id": decision_id,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(DecisionKey).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(DecisionKey).values(values).on_conflict_do_nothing()
    else:
        key = (sha256, verdict.surface, verdict.model_version)
        if session.get(DecisionKey, key) is not None:
            return False
        session.add(DecisionKey(**values))
        return True
    inserted = session.execute(statement.returning(DecisionKey.decision_id))
    return inserted.first() is not None


def _decide_conflict(
    item: ReviewItem, reviewer: str, token: str | None
) -> ClaimConflict:
    """The rule a refused decision broke, read from the item as it stands."""
    fix = "Claim the next item with GET /api/v1/review/next."
    if item.status != "open":
        return ClaimConflict(
            "item", "must still be open; it was already decided", item.id, fix=fix
        )
    if item.claimed_by != reviewer:
        holder = "nobody" if item.claimed_by is None else "another reviewer"
        return ClaimConflict(
            "item", f"must be held by {reviewer}; {holder} holds it", item.id, fix=fix
        )
    return ClaimConflict(
        "token",
        f"must be the token of {reviewer}'s current claim on item {item.id} (one"
        " from an older claim or from another item is refused)",
        token,
        fix="Send the token that GET /api/v1/review/next returned with this item.",
    )
