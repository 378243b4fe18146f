"""The image filter's tables in the application store.

* ``imagefilter_decisions``: every automatic decision, with score, model
  version, thresholds and time.
* ``imagefilter_decision_keys``: at most one decision per content digest,
  surface and model version for submissions that ask for it (a scan), so a
  resumed scan never stores or queues an image twice.
* ``imagefilter_images``: the bytes of images a human has to look at, once per
  content digest.
* ``imagefilter_review_items``: the review queue; an item is open until
  decided and is held by at most one reviewer at a time under a lease.
* ``imagefilter_review_decisions``: a reviewer's approve or reject, at most one
  per item (a unique constraint guards it).
* ``imagefilter_audit_log``: append-only; the database itself refuses updates
  and deletes (a trigger on SQLite and on PostgreSQL).

Times are stored as naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from veedel.store import Base

__all__ = [
    "AuditEvent",
    "DecisionKey",
    "ImageBlob",
    "ImageDecision",
    "ReviewDecision",
    "ReviewItem",
]


class ImageDecision(Base):
    """One automatic decision on one image."""

    __tablename__ = "imagefilter_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    ref: Mapped[str] = mapped_column(String(1024))
    surface: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(16))
    review_threshold: Mapped[float] = mapped_column(Float)
    block_threshold: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime)


class DecisionKey(Base):
    """The one decision stored for an image on a surface under a model version.

    Its own table rather than a unique column on ``imagefilter_decisions``, so
    a store created before it gains the table without a migration; uploads
    through the API are separate events and store no key.
    """

    __tablename__ = "imagefilter_decision_keys"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    surface: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(128), primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("imagefilter_decisions.id"))


class ImageBlob(Base):
    """The bytes of an image that is (or was) in the review queue."""

    __tablename__ = "imagefilter_images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ReviewItem(Base):
    """A request for a human decision on one automatic decision.

    ``kind`` is ``review`` (the score fell in the review band), ``audit`` (a
    blind sample of automatically allowed or blocked images) or ``second`` (an
    independent second look at an item already decided, by someone else).
    ``inclusion_probability`` is the chance that the image was queued at all,
    used to weight its label when thresholds are tuned.
    """

    __tablename__ = "imagefilter_review_items"
    __table_args__ = (Index("ix_imagefilter_items_open", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("imagefilter_decisions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    inclusion_probability: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    exclude_reviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("imagefilter_review_items.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ReviewDecision(Base):
    """A reviewer's verdict on one item."""

    __tablename__ = "imagefilter_review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("imagefilter_review_items.id"), unique=True
    )
    reviewer: Mapped[str] = mapped_column(String(64), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEvent(Base):
    """One line of the append-only audit log."""

    __tablename__ = "imagefilter_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    details: Mapped[str] = mapped_column(Text, default="{}")


_AUDIT = AuditEvent.__table__


def _trigger(statement: str, dialect: str) -> Any:
    """DDL run right after the audit table is created, on one dialect only."""
    ddl: Any = DDL(statement)  # type: ignore[no-untyped-call]
    return ddl.execute_if(dialect=dialect)


event.listen(
    _AUDIT,
    "after_create",
    _trigger(
        "CREATE TRIGGER imagefilter_audit_no_update BEFORE UPDATE ON "
        "imagefilter_audit_log BEGIN SELECT RAISE(ABORT, "
        "'imagefilter_audit_log is append-only'); END",
        "sqlite",
    ),
)
event.listen(
    _AUDIT,
    "after_create",
    _trigger(
        "CREATE TRIGGER imagefilter_audit_no_delete BEFORE DELETE ON "
        "imagefilter_audit_log BEGIN SELECT RAISE(ABORT, "
        "'imagefilter_audit_log is append-only'); END",
        "sqlite",
    ),
)
event.listen(
    _AUDIT,
    "after_create",
    _trigger(
        "CREATE OR REPLACE FUNCTION imagefilter_audit_append_only() "
        "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
        "'imagefilter_audit_log is append-only'; END $$",
        "postgresql",
    ),
)
event.listen(
    _AUDIT,
    "after_create",
    _trigger(
        "CREATE TRIGGER imagefilter_audit_append_only BEFORE UPDATE OR DELETE "
        "ON imagefilter_audit_log FOR EACH ROW EXECUTE FUNCTION "
        "imagefilter_audit_append_only()",
        "postgresql",
    ),
)
