"""The warehouse: one connection URL, one canonical data model."""

from veedel.warehouse.check import check_warehouse
from veedel.warehouse.connection import connect, redact
from veedel.warehouse.report import CheckReport, Violation
from veedel.warehouse.schema import CANONICAL_TABLES, KEYS, TABLES, TableSpec
from veedel.warehouse.summary import WarehouseSummary, summarise_warehouse

__all__ = [
    "CANONICAL_TABLES",
    "KEYS",
    "TABLES",
    "CheckReport",
    "TableSpec",
    "Violation",
    "WarehouseSummary",
    "check_warehouse",
    "connect",
    "redact",
    "summarise_warehouse",
]
