"""Load the real data sets shipped with veedel (for the demo and first runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from veedel.data import bundled
from veedel.warehouse.ingest.reddit import ingest_reddit
from veedel.warehouse.ingest.run import Progress
from veedel.warehouse.ingest.stackexchange import dump_files, ingest_stackexchange
from veedel.warehouse.ingest.summary import IngestSummary

__all__ = ["bundled_files", "ingest_bundled"]


def bundled_files() -> list[Path]:
    """Every file :func:`ingest_bundled` reads (to size a progress bar)."""
    dump = bundled("stackexchange/quantumcomputing")
    return dump_files(dump) + sorted(bundled("reddit_geo").glob("*.csv"))


def ingest_bundled(
    con: Any, *, progress: Progress | None = None
) -> list[IngestSummary]:
    """Ingest the bundled quantumcomputing dump and Reddit city files.

    Idempotent like every ingest: a second call writes nothing. Returns one
    summary per source. The licences are listed in ``DATA_LICENSES.md``.
    """
    dump = bundled("stackexchange/quantumcomputing")
    reddit = sorted(bundled("reddit_geo").glob("*.csv"))
    return [
        ingest_stackexchange(con, dump, progress=progress),
        ingest_reddit(con, reddit, progress=progress),
    ]
