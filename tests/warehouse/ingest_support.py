"""Helpers shared by the ingest tests: fixtures on disk and warehouse snapshots."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

CONLANG = Path(__file__).parents[1] / "fixtures" / "stackexchange" / "conlang"


def dump_copy(tmp_path: Path, name: str = "broken") -> Path:
    """A writable copy of the conlang dump under ``tmp_path/name``."""
    target = tmp_path / name
    shutil.copytree(CONLANG, target)
    for path in target.iterdir():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def snapshot(con: Any) -> dict[str, list[str]]:
    """Every table's full contents, order-independent, for before/after checks."""
    return {
        name: sorted(repr(row) for row in con.table(name).to_pyarrow().to_pylist())
        for name in sorted(con.list_tables())
    }


def replace_once(path: Path, old: bytes, new: bytes) -> None:
    """Replace the single occurrence of ``old`` in a file (asserting it is there)."""
    data = path.read_bytes()
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times in {path}"
    path.write_bytes(data.replace(old, new))


def line_of(path: Path, needle: bytes) -> int:
    """The 1-based line of the first line holding ``needle``."""
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
