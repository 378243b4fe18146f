"""Ingest: real sources into the canonical tables, streaming and idempotent.

Each source converts its rows to canonical rows and writes them through
:mod:`veedel.warehouse.load`: staged first, then inserted in one transaction,
new keys only. Malformed input raises :class:`~veedel.errors.DataError` naming
the file, the line or row, the field and the value, and leaves the warehouse
as it was; with ``skip_bad_rows`` bad rows are set aside with their reason.
"""

from veedel.warehouse.ingest.bundled import bundled_files, ingest_bundled
from veedel.warehouse.ingest.mapping import MappedInput, ingest_files, read_mapping
from veedel.warehouse.ingest.reddit import ingest_reddit
from veedel.warehouse.ingest.rejects import Reject, RejectSink, RowProblem
from veedel.warehouse.ingest.stackexchange import dump_files, ingest_stackexchange
from veedel.warehouse.ingest.summary import IngestSummary, TableCounts

__all__ = [
    "IngestSummary",
    "MappedInput",
    "Reject",
    "RejectSink",
    "RowProblem",
    "TableCounts",
    "bundled_files",
    "dump_files",
    "ingest_bundled",
    "ingest_files",
    "ingest_reddit",
    "ingest_stackexchange",
    "read_mapping",
]
