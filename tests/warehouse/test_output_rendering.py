"""How ingest and simulation summaries read on an 80-column terminal."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from rich.console import Console

from veedel.warehouse.ingest.summary import IngestSummary, TableCounts
from veedel.warehouse.simulator.simulation import SimulationSummary


def _render(renderable: object) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_rejects_path_stays_on_one_line_for_copying() -> None:
    """A long rejects path is printed whole, not wrapped at the table's width."""
    path = Path("veedel-data/rejects/ingest-files-mapping-20261204T060424Z.jsonl")
    summary = IngestSummary(
        "files:mapping",
        tables={"posts": TableCounts(read=3, written=2, rejected=1)},
        skipped=Counter({"posts that are neither questions nor answers": 314}),
        rejects_path=path,
    )

    lines = _render(summary).splitlines()

    assert f"  {path}" in lines
    assert "not represented: 314 posts that are neither questions nor answers" in lines


def test_simulation_title_names_the_last_simulated_day() -> None:
    """7 days from 2025-01-06 end on 2025-01-12, as the warehouse summary shows."""
    summary = SimulationSummary(
        users=300, days=7, seed=1, start=date(2025, 1, 6), rows={"users": 300}
    )

    text = " ".join(_render(summary).split())

    assert "(2025-01-06 to 2025-01-12, seed 1)" in text
    assert "written in 0.0 s" in text
