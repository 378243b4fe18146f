"""Ingest Reddit export CSVs (one file per subreddit) into the canonical tables.

Each file becomes one channel ``reddit:<file stem>`` named ``r/<file stem>``,
and each record a post in it: title and self-text as the text, the net score,
the creation time. A file of a city's subreddit (``berlin.csv``, ``nyc.csv``,
see :data:`CITY_SUBREDDITS`) gives its posts that city, as a location-based
app puts a post in the city whose feed it is written to. What the export lacks
is not invented: there are no authors (``user_id`` stays empty, so no users are
written), no individual votes (``ups`` and ``downs`` are totals without voters
or times, so they do not become ``votes`` rows; the net ``score`` is kept), no
comments, and no coordinates (a city subreddit says which city a post is for,
not where its author was). Link targets (``url``) are not kept as images;
veedel fetches nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veedel.errors import DataError
from veedel.warehouse.ingest.readers import (
    CsvRecord,
    check_int64,
    iter_csv,
    require,
)
from veedel.warehouse.ingest.rejects import RowProblem
from veedel.warehouse.ingest.run import IngestRun, Progress
from veedel.warehouse.ingest.summary import IngestSummary

__all__ = ["CITY_SUBREDDITS", "REDDIT_COLUMNS", "ingest_reddit"]

log = logging.getLogger(__name__)

REDDIT_COLUMNS = ("id", "title", "created_utc")
"""Columns every Reddit export file must have; ``score`` and ``selftext`` are
used when present."""

SOURCE = "reddit"
_CHANNEL = re.compile(r"[^\s:]+")

CITY_SUBREDDITS: Mapping[str, str] = {
    "berlin": "Berlin",
    "london": "London",
    "nyc": "New York",
    "paris": "Paris",
    "sanfrancisco": "San Francisco",
    "sydney": "Sydney",
    "toronto": "Toronto",
}
"""City of each city subreddit, by the file stem (the subreddit's name in lower
case). Country and region subreddits (``de``, ``germany``, ``europe``) have no
city."""


def ingest_reddit(
    con: Any,
    files: Iterable[str | Path],
    *,
    skip_bad_rows: bool = False,
    rejects: str | Path | None = None,
    progress: Progress | None = None,
    cities: Mapping[str, str] | None = None,
) -> IngestSummary:
    """Load Reddit export CSVs into the warehouse, one channel per file.

    Parameters
    ----------
    con
        The warehouse, from :func:`veedel.warehouse.connect`.
    files
        CSV files with a header line holding at least :data:`REDDIT_COLUMNS`.
    skip_bad_rows
        Set bad rows aside (counted, written to ``rejects``) instead of failing.
    rejects
        File for the rejected rows with their reason (``.csv`` or ``.jsonl``).
    progress
        Called with the number of bytes read as reading advances.
    cities
        City of the posts of each file, by file stem, compared in lower case;
        :data:`CITY_SUBREDDITS` if None. Posts of other files have no city.

    Returns
    -------
    IngestSummary
        Rows read, written, already present and rejected per table.

    Raises
    ------
    DataError
        On malformed input, naming file, line, field and value; the warehouse
        is left unchanged.
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise DataError("files", "must name at least one Reddit CSV file", [])
    for path in paths:
        if not path.is_file():
            raise DataError("files", "must be existing files", str(path))
        # The stem becomes the channel id reddit:<stem>; a ':' or a space in
        # it would make an id that reads as another source or breaks in URLs.
        if not _CHANNEL.fullmatch(path.stem):
            raise DataError(
                "files",
                "must have names without ':' or whitespace (the name before"
                " .csv becomes the channel id reddit:<name>)",
                path.name,
                fix="Rename the file after its subreddit, e.g. cologne.csv.",
            )

    rejects_path = Path(rejects) if rejects is not None else None
    city_of = {
        stem.lower(): city
        for stem, city in (CITY_SUBREDDITS if cities is None else cities).items()
    }
    with IngestRun(
        con, SOURCE, skip_bad_rows=skip_bad_rows, rejects=rejects_path
    ) as run:
        for path in paths:
            run.summary.files.append(path)
            _read_file(path, run, progress, city_of.get(path.stem.lower()))
        return run.finish()


def _read_file(
    path: Path, run: IngestRun, progress: Progress | None, city: str | None
) -> None:
    log.debug("Reading %s", path)
    records = iter_csv(path, REDDIT_COLUMNS, progress=progress)

    channel = f"reddit:{path.stem}"
    run.add(
        "channels", {"channel_id": channel, "name": f"r/{path.stem}", "source": SOURCE}
    )
    for record in records:
        if not isinstance(record, CsvRecord):
            number, line, problem = record
            run.problem("posts", problem, path, f"line {line} (record {number})")
            continue
        try:
            run.add("posts", _post(record.values, channel, city))
        except RowProblem as problem:
            run.problem("posts", problem, path, record.location)


def _post(values: dict[str, str], channel: str, city: str | None) -> dict[str, Any]:
    """One record as a canonical post."""
    title = require(values, "title")
    text = values.get("selftext") or ""
    return {
        "post_id": f"reddit:{require(values, 'id')}",
        "channel_id": channel,
        "created_at": _epoch(require(values, "created_utc"), "created_utc"),
        "text": f"{title}\n\n{text}".strip() if text else title,
        "score": _score(values.get("score")),
        "city": city,
        "source": SOURCE,
    }


def _epoch(value: str, name: str) -> datetime:
    """Seconds since 1970 (UTC) as a naive UTC timestamp."""
    try:
        seconds = float(value)
        stamp = datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise RowProblem(
            name, "must be seconds since 1970-01-01 UTC, e.g. 1355441176.0", value
        ) from None
    return stamp.replace(tzinfo=None)


def _score(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        # Some exports write scores as floats ("12.0").
        try:
            number = int(float(value))
        except (ValueError, OverflowError):
            raise RowProblem("score", "must be a whole number", value) from None
    return check_int64(number, "score", value)
