"""Real public data sets shipped inside the package, with their licences.

``DATA_LICENSES.md`` at the repository root lists each set, its source and its
licence; each folder under ``bundled/`` holds its own licence notice.
"""

from __future__ import annotations

from pathlib import Path

from veedel.errors import NotFoundError

__all__ = ["BUNDLED", "bundled"]

_ROOT = Path(__file__).parent / "bundled"

BUNDLED = {
    "stackexchange/quantumcomputing": "Stack Exchange dump folder (CC BY-SA)",
    "reddit_geo": "Reddit city-community CSVs, one per subreddit (ODC PDDL 1.0)",
    "asos": "ASOS Digital Experiments Dataset (CC BY 4.0)",
    "upworthy": "Upworthy Research Archive, exploratory set (CC BY 4.0)",
}
"""The bundled data sets: name to a one-line description."""


def bundled(name: str) -> Path:
    """The folder of the bundled data set ``name`` (a key of :data:`BUNDLED`).

    Examples
    --------
    >>> sorted(p.name for p in bundled("reddit_geo").glob("*.csv"))[:2]
    ['berlin.csv', 'de.csv']
    """
    if name not in BUNDLED:
        raise NotFoundError(
            f"no bundled data set {name!r}; there are: {', '.join(BUNDLED)}"
        )
    return _ROOT / name
