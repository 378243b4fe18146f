"""The data shipped in the package: present, licensed, and loadable twice."""

from __future__ import annotations

from pathlib import Path

from veedel.data import BUNDLED, bundled
from veedel.warehouse import connect
from veedel.warehouse.ingest import bundled_files, ingest_bundled

REPO = Path(__file__).parents[2]


def test_every_bundled_set_has_a_licence_and_is_listed() -> None:
    """Each bundled folder holds a notice and appears in DATA_LICENSES.md."""
    listing = (REPO / "DATA_LICENSES.md").read_text(encoding="utf-8")

    for name in BUNDLED:
        folder = bundled(name)
        assert folder.is_dir(), name
        assert {"LICENSE", "NOTICE.md"} & {p.name for p in folder.iterdir()}, name
        assert f"src/veedel/data/bundled/{name}/" in listing, name


# Real data copied into the repository outside the package's bundled folder.
COPIED_DATA = [
    "tests/fixtures/stackexchange/conlang",
    "tests/fixtures/germeval2014",
    "src/veedel/text/models/ner_de",
]


def test_every_copied_data_folder_keeps_its_notice_and_is_listed() -> None:
    """Test fixtures and the trained model derived from real data carry a
    notice and a row in DATA_LICENSES.md, like the bundled sets."""
    listing = (REPO / "DATA_LICENSES.md").read_text(encoding="utf-8")
    fixtures = REPO / "tests" / "fixtures"
    found = {
        str(folder.relative_to(REPO))
        for folder in fixtures.rglob("*")
        if folder.is_dir() and any(p.is_file() for p in folder.iterdir())
    }
    assert found <= set(COPIED_DATA), found - set(COPIED_DATA)

    for name in COPIED_DATA:
        folder = REPO / name
        assert (folder / "NOTICE.md").is_file(), name
        assert f"`{name}/`" in listing, name


def test_bundled_data_loads_with_pinned_counts_and_twice(tmp_path: Path) -> None:
    """The demo's real data: pinned counts, and a second load writes nothing."""
    con = connect(f"duckdb://{tmp_path / 'w.duckdb'}")
    assert sum(p.stat().st_size for p in bundled_files()) > 10_000_000

    first = ingest_bundled(con)
    second = ingest_bundled(con)

    written = {s.source: {t: c.written for t, c in s.tables.items()} for s in first}
    assert written == {
        # 612 questions + 1,060 answers + 3,413 comments; 10,771 up and down
        # votes less 396 on deleted posts and tag wikis.
        "stackexchange:quantumcomputing": {
            "users": 3461,
            "channels": 154,
            "posts": 5085,
            "votes": 10375,
            "events": 5709,
        },
        "reddit": {"channels": 10, "posts": 10000},
    }
    assert [s.written for s in second] == [0, 0]
