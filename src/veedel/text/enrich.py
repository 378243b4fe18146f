"""Batch enrichment: text features for every post not yet enriched.

Reads ``posts`` from the warehouse, analyses the posts that have no row in
``post_text_features`` yet, and appends their rows. Running it again only
touches new posts, so it can run on a schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import pandas as pd

from veedel.errors import DataError
from veedel.text.analyzer import Progress, TextAnalysis, TextAnalyzer
from veedel.text.language import UNKNOWN

__all__ = [
    "FEATURES_SCHEMA",
    "FEATURES_TABLE",
    "EnrichResult",
    "enrich_posts",
    "features_table",
]

logger = logging.getLogger(__name__)

FEATURES_TABLE = "post_text_features"

# PostgreSQL advisory lock key of enrichment runs ("veedel:t" as an integer).
_ADVISORY_KEY = 0x76656564656C3A74
# DuckDB admits one process per file; within that process, one run at a time.
_IN_PROCESS = threading.Lock()

FEATURES_SCHEMA = ibis.schema(
    {
        "post_id": "!string",
        "language": "string",
        "language_confidence": "float64",
        "nouns": "array<string>",
        "entities": "array<string>",
        "label": "string",
        "label_confidence": "float64",
        "enriched_at": "timestamp",
    }
)


@dataclass(frozen=True)
class EnrichResult:
    """What one enrichment run did.

    Attributes
    ----------
    n_enriched : int
        Posts analysed and written in this run.
    n_failed : int
        Posts whose analysis raised; written with language "unknown" and no
        features so the run can go on (the error is logged).
    n_already : int
        Posts that had features before this run.
    seconds : float
        Wall time of the run.
    """

    n_enriched: int
    n_failed: int
    n_already: int
    seconds: float

    @property
    def posts_per_second(self) -> float:
        """Enriched posts per second of wall time (0 when none)."""
        if self.n_enriched == 0 or self.seconds <= 0:
            return 0.0
        return self.n_enriched / self.seconds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {**asdict(self), "posts_per_second": self.posts_per_second}

    def __rich__(self) -> str:
        return (
            f"Enriched {self.n_enriched} new posts "
            f"({self.n_failed} failed, {self.n_already} done before) "
            f"in {self.seconds:.1f} s, {self.posts_per_second:.1f} posts/s."
        )


def features_table(con: Any) -> Any:
    """The ``post_text_features`` table, created empty if it does not exist."""
    if FEATURES_TABLE not in con.list_tables():
        con.create_table(FEATURES_TABLE, schema=FEATURES_SCHEMA)
        logger.info("created warehouse table %s", FEATURES_TABLE)
    return con.table(FEATURES_TABLE)


def _new_posts(con: Any, sources: Sequence[str] | None = None) -> Any:
    if "posts" not in con.list_tables():
        raise DataError(
            "posts",
            "must exist in the warehouse",
            con.list_tables(),
            fix="Load data first, e.g. with `veedel demo`.",
        )
    posts = con.table("posts")
    missing = {"post_id", "text"} - set(posts.columns)
    if missing:
        raise DataError("posts", "must have the columns post_id and text", missing)
    if sources is not None:
        if "source" not in posts.columns:
            raise DataError("posts", "must have a source column to filter on", None)
        posts = posts.filter(posts.source.isin(list(sources)))
    done = features_table(con)
    return posts.anti_join(done, posts.post_id == done.post_id).select(
        "post_id", "text"
    )


def _busy(con: Any) -> DataError:
    return DataError(
        "warehouse",
        "takes one enrichment run at a time, and another veedel text enrich is"
        " running on it",
        con.name,
        fix="Wait for that run to finish and start this one again; it will pick"
        " up every post still without features. Nothing was written.",
    )


@contextmanager
def _one_run_at_a_time(con: Any) -> Iterator[None]:
    """Hold the warehouse's enrichment lock for one run, or fail at once.

    Two runs that overlap would both find the same posts without features and
    write them twice. PostgreSQL gets a session advisory lock (other processes
    and connections); DuckDB needs only a lock in this process, since DuckDB
    refuses a second process on the same file. Other engines are not guarded.
    """
    if con.name == "postgres":
        cursor = con.raw_sql(f"SELECT pg_try_advisory_lock({_ADVISORY_KEY})")
        (locked,) = cursor.fetchone()
        cursor.close()
        if not locked:
            raise _busy(con)
        try:
            yield
        finally:
            con.raw_sql(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})").close()
        return

    if not _IN_PROCESS.acquire(blocking=False):
        raise _busy(con)
    try:
        yield
    finally:
        _IN_PROCESS.release()


def _row(post_id: str, result: TextAnalysis, now: datetime) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "language": result.language,
        "language_confidence": result.language_confidence,
        "nouns": result.noun_lemmas(),
        "entities": result.entity_keys(),
        "label": result.label,
        "label_confidence": result.label_confidence,
        "enriched_at": now,
    }


def _analyze_isolated(
    analyzer: TextAnalyzer, texts: list[object]
) -> tuple[list[TextAnalysis], int]:
    """Analyse a batch, or post by post if the batch fails.

    One bad post must not stop the others; a post that still fails is counted
    and written without features.
    """
    try:
        return analyzer.analyze_many(texts), 0
    except Exception:
        logger.warning("batch analysis failed; retrying post by post", exc_info=True)
    results: list[TextAnalysis] = []
    failed = 0
    for text in texts:
        try:
            results.append(analyzer.analyze(text))
        except Exception:
            logger.exception("analysis of one post failed")
            results.append(
                TextAnalysis(text="", language=UNKNOWN, language_confidence=0.0)
            )
            failed += 1
    return results, failed


def enrich_posts(
    con: Any | None = None,
    *,
    analyzer: TextAnalyzer | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    sources: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> EnrichResult:
    """Write text features for posts that have none yet.

    Parameters
    ----------
    con
        Ibis backend of the warehouse; ``veedel.warehouse.connect()`` if None.
    analyzer
        The analyzer to use; one built from the settings if None.
    batch_size
        Posts read, analysed and written per round; the settings' value if
        None.
    limit
        Enrich at most this many posts in this run.
    sources
        Enrich only posts whose ``source`` column is one of these
        (``reddit``, ``stackexchange:quantumcomputing``, ``simulator``, ...).
    progress
        Called with (done, total) after each written batch.

    Returns
    -------
    EnrichResult
    """
    from veedel.warehouse import connect

    start = time.perf_counter()
    con = con if con is not None else connect()
    analyzer = analyzer or TextAnalyzer()
    size = batch_size or analyzer.settings.batch_size
    if limit is not None and limit < 0:
        raise DataError("limit", "must be zero or more", limit)

    with _one_run_at_a_time(con):
        done, failed, n_already = _enrich_locked(
            con, analyzer, size, limit, sources, progress
        )

    seconds = time.perf_counter() - start
    logger.info("enriched %d posts in %.1f s", done, seconds)
    return EnrichResult(done, failed, n_already, seconds)


def _enrich_locked(
    con: Any,
    analyzer: TextAnalyzer,
    size: int,
    limit: int | None,
    sources: Sequence[str] | None,
    progress: Progress | None,
) -> tuple[int, int, int]:
    """(enriched, failed, done before); the caller holds the run lock."""
    n_already = int(features_table(con).count().execute())
    total = int(_new_posts(con, sources).count().execute())
    if limit is not None:
        total = min(total, limit)
    logger.info("enriching %d new posts (%d done before)", total, n_already)

    done = failed = 0
    while done < total:
        take = min(size, total - done)
        new = _new_posts(con, sources)
        batch = new.order_by("post_id").limit(take).execute()
        if batch.empty:
            break
        results, n_bad = _analyze_isolated(analyzer, batch["text"].tolist())
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            _row(str(post_id), result, now)
            for post_id, result in zip(batch["post_id"], results, strict=True)
        ]
        con.insert(FEATURES_TABLE, pd.DataFrame(rows, columns=FEATURES_SCHEMA.names))
        done += len(rows)
        failed += n_bad
        if progress is not None:
            progress(done, total)
    return done, failed, n_already
