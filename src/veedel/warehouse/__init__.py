"""The warehouse: one connection URL, one canonical data model."""

from veedel.warehouse.connection import connect, redact
from veedel.warehouse.schema import CANONICAL_TABLES, KEYS, TABLES, TableSpec

__all__ = ["CANONICAL_TABLES", "KEYS", "TABLES", "TableSpec", "connect", "redact"]
