"""Reports over the text features: languages, nouns, entities and labels.

Every figure is computed in the warehouse by one Ibis expression over
``post_text_features`` joined to ``posts``, so the same report runs on DuckDB,
PostgreSQL or Spark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import pandas as pd

from veedel.errors import DataError, InputError
from veedel.text.enrich import FEATURES_TABLE

__all__ = [
    "GROUPINGS",
    "TextReport",
    "build_report",
    "label_mix",
    "language_mix",
    "top_terms",
]

logger = logging.getLogger(__name__)

Grouping = Literal["city", "channel_id", "week"]
GROUPINGS: tuple[str, ...] = ("city", "channel_id", "week")
_NONE = "(none)"


def _joined(con: Any) -> Any:
    """Features joined to the posts' city, channel and week."""
    tables = con.list_tables()
    if "posts" not in tables:
        raise DataError(
            "posts",
            "must exist in the warehouse",
            sorted(tables),
            fix="Load posts first (`veedel demo`, or `veedel ingest`), then run"
            " `veedel text enrich`.",
        )
    if FEATURES_TABLE not in tables:
        raise DataError(
            FEATURES_TABLE,
            "must exist in the warehouse",
            sorted(tables),
            fix="Run `veedel text enrich` first.",
        )
    posts = con.table("posts")
    features = con.table(FEATURES_TABLE)
    joined = features.join(posts, features.post_id == posts.post_id)
    return joined.select(
        post_id=features.post_id,
        language=features.language,
        nouns=features.nouns,
        entities=features.entities,
        label=features.label,
        city=posts.city.fill_null(_NONE),
        channel_id=posts.channel_id.fill_null(_NONE),
        week=posts.created_at.truncate("W").date().cast("string"),
    )


def _check_grouping(by: str) -> None:
    if by not in GROUPINGS:
        raise InputError("by", f"must be one of {list(GROUPINGS)}", by)


def _largest_groups(t: Any, by: str, max_groups: int) -> Any:
    """The ``max_groups`` groups with the most enriched posts, ties by name."""
    return (
        t.group_by(group=t[by].cast("string"))
        .agg(posts=t.count())
        .order_by([ibis.desc("posts"), "group"])
        .limit(max_groups)
    )


def language_mix(
    con: Any, by: Grouping | None = None, max_groups: int | None = None
) -> pd.DataFrame:
    """Posts per language, overall or per group, with each language's share.

    Parameters
    ----------
    con
        Ibis backend of the warehouse (with ``post_text_features``).
    by
        ``city``, ``channel_id`` or ``week``; None for one group ``"all"``.
    max_groups
        Keep only the groups with the most enriched posts (all if None).

    Returns
    -------
    DataFrame
        Columns ``group`` (``"all"`` when ``by`` is None), ``language``, ``n``
        and ``share`` (of the group's enriched posts), by group and then by
        ``n``, most frequent first.
    """
    if by is not None:
        _check_grouping(by)
    if max_groups is not None and max_groups < 1:
        raise InputError("max_groups", "must be at least 1", max_groups)
    t = _joined(con)
    group = t[by].cast("string") if by else ibis.literal("all")
    counts = t.group_by(group=group, language=t.language).agg(n=t.count())
    if by is not None and max_groups is not None:
        counts = counts.filter(
            counts.group.isin(_largest_groups(t, by, max_groups).group)
        )
    total = counts.n.sum().over(group_by=counts.group)
    result = counts.mutate(share=counts.n / total).order_by(
        ["group", ibis.desc("n"), "language"]
    )
    frame: pd.DataFrame = result.execute()
    return frame


def top_terms(
    con: Any,
    kind: Literal["nouns", "entities"] = "nouns",
    by: Grouping = "city",
    n: int = 10,
    max_groups: int = 10,
) -> pd.DataFrame:
    """The ``n`` most frequent noun lemmas or entities of each group.

    Only the ``max_groups`` groups with the most enriched posts are shown.

    Returns
    -------
    DataFrame
        Columns ``group``, ``term``, ``n`` (posts mentioning it, counted
        once per mention) and ``rank`` (1 = most frequent; ties by term).
    """
    if kind not in ("nouns", "entities"):
        raise InputError("kind", "must be 'nouns' or 'entities'", kind)
    _check_grouping(by)
    if n < 1 or max_groups < 1:
        raise InputError("n", "and max_groups must be at least 1", (n, max_groups))
    t = _joined(con)
    groups = _largest_groups(t, by, max_groups)
    terms = t.select(group=t[by].cast("string"), term=t[kind].unnest())
    terms = terms.filter(terms.group.isin(groups.group))
    counts = terms.group_by(["group", "term"]).agg(n=terms.count())
    rank = ibis.row_number().over(
        group_by=counts.group, order_by=[ibis.desc(counts.n), counts.term]
    )
    ranked = counts.mutate(rank=rank + 1)
    result = ranked.filter(ranked["rank"] <= n).order_by(["group", "rank"])
    frame: pd.DataFrame = result.execute()
    return frame


def label_mix(con: Any) -> pd.DataFrame:
    """Posts per content label and week, with each label's share of the week.

    Returns
    -------
    DataFrame
        Columns ``week`` (ISO date of the Monday), ``label``, ``n``, ``share``.
    """
    t = _joined(con)
    t = t.filter(t.label.notnull())
    counts = t.group_by(["week", "label"]).agg(n=t.count())
    total = counts.n.sum().over(group_by=counts.week)
    result = counts.mutate(share=counts.n / total).order_by(["week", "label"])
    frame: pd.DataFrame = result.execute()
    return frame


@dataclass
class TextReport:
    """Language mix, top nouns and entities, and label mix of enriched posts.

    Attributes
    ----------
    n_posts : int
        Enriched posts covered.
    by : str
        Grouping of the language mix per group and the top terms: city,
        channel_id or week.
    languages : DataFrame
        Overall language mix (see :func:`language_mix`).
    languages_by : DataFrame
        Language mix of each of the groups shown (see :func:`language_mix`).
    nouns, entities : DataFrame
        Top terms per group (see :func:`top_terms`).
    labels : DataFrame
        Label mix per week (see :func:`label_mix`).
    """

    n_posts: int
    by: str
    languages: pd.DataFrame
    nouns: pd.DataFrame
    entities: pd.DataFrame
    labels: pd.DataFrame
    languages_by: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def label_totals(self) -> pd.DataFrame:
        """Posts per label over all weeks, most frequent first."""
        if self.labels.empty:
            return pd.DataFrame({"label": [], "n": [], "share": []})
        totals = self.labels.groupby("label", as_index=False).agg(n=("n", "sum"))
        totals["share"] = totals["n"] / totals["n"].sum()
        ordered: pd.DataFrame = totals.sort_values(
            ["n", "label"], ascending=[False, True]
        )
        return ordered

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (records per table)."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {str(key): _plain(value) for key, value in row.items()}
                for row in frame.to_dict(orient="records")
            ]

        return {
            "n_posts": self.n_posts,
            "by": self.by,
            "languages": records(self.languages),
            "languages_by": records(self.languages_by),
            "nouns": records(self.nouns),
            "entities": records(self.entities),
            "labels": records(self.labels),
            "notes": list(self.notes),
        }

    def label_chart(self) -> dict[str, Any]:
        """A Vega-Lite spec: weekly label shares as stacked bars."""
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "description": "Share of content labels per week",
            "data": {"values": self.to_dict()["labels"]},
            "mark": "bar",
            "width": 640,
            "height": 260,
            "encoding": {
                # A time axis, one week-wide bar a week: Vega thins the
                # labels to fit (one ordinal label a week overlapped past ~40
                # weeks), and weeks without posts stay gaps.
                "x": {
                    "field": "week",
                    "type": "temporal",
                    "timeUnit": "yearweek",
                    "title": "week",
                    "axis": {
                        "format": "%-d %b %Y",
                        "labelOverlap": True,
                        "labelSeparation": 8,
                    },
                },
                "y": {
                    "field": "n",
                    "type": "quantitative",
                    "stack": "normalize",
                    "title": "share of posts",
                    "axis": {"format": "%"},
                },
                "color": {"field": "label", "type": "nominal", "title": "label"},
                "tooltip": [
                    {"field": "week", "type": "ordinal"},
                    {"field": "label", "type": "nominal"},
                    {"field": "n", "type": "quantitative", "title": "posts"},
                    {"field": "share", "type": "quantitative", "format": ".1%"},
                ],
            },
        }

    def language_chart(self) -> dict[str, Any]:
        """A Vega-Lite spec: posts per language as horizontal bars."""
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "description": "Posts per detected language",
            "data": {"values": self.to_dict()["languages"]},
            "mark": "bar",
            "width": 480,
            "height": {"step": 18},
            "encoding": {
                "y": {"field": "language", "type": "nominal", "sort": "-x"},
                "x": {"field": "n", "type": "quantitative", "title": "posts"},
                "tooltip": [
                    {"field": "language", "type": "nominal"},
                    {"field": "n", "type": "quantitative"},
                    {"field": "share", "type": "quantitative", "format": ".1%"},
                ],
            },
        }

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        parts: list[Any] = [f"[bold]{self.n_posts:,}[/] enriched posts"]
        shares = (
            ("Languages", "language", self.languages),
            ("Content labels (all weeks)", "label", self.label_totals()),
        )
        for title, key, frame in shares:
            table = Table(title=title, show_edge=False)
            table.add_column(key)
            table.add_column("posts", justify="right")
            table.add_column("share", justify="right")
            for row in frame.to_dict(orient="records"):
                table.add_row(
                    str(row[key]), f"{int(row['n']):,}", f"{row['share']:.1%}"
                )
            parts.append(table)

        parts.append(self.languages_by_table())
        parts.append(self.terms_table("nouns"))
        parts.append(self.terms_table("entities"))
        parts.extend(f"[dim]{note}[/]" for note in self.notes)
        return Group(*parts)

    def terms_table(self, kind: Literal["nouns", "entities"]) -> Any:
        """A Rich table: the top nouns or entities of each group."""
        from rich.table import Table

        frame = self.nouns if kind == "nouns" else self.entities
        table = Table(title=f"Top {kind} per {self.by}", show_edge=False)
        table.add_column(self.by)
        table.add_column(kind)
        for group, rows in frame.groupby("group", sort=True):
            terms = ", ".join(
                f"{t} ({int(c):,})" for t, c in zip(rows.term, rows.n, strict=True)
            )
            table.add_row(str(group), terms)
        return table

    def language_rows(self) -> list[tuple[str, int, list[tuple[str, int, float]]]]:
        """Per group: (group, posts, [(language, n, share), ...])."""
        rows: list[tuple[str, int, list[tuple[str, int, float]]]] = []
        if self.languages_by.empty:
            return rows
        for group, part in self.languages_by.groupby("group", sort=True):
            mix = zip(part.language, part.n, part.share, strict=True)
            shares = [(str(lang), int(n), float(share)) for lang, n, share in mix]
            rows.append((str(group), sum(n for _, n, _ in shares), shares))
        return rows

    def languages_by_table(self) -> Any:
        """A Rich table: the language mix of each group."""
        from rich.table import Table

        table = Table(title=f"Languages per {self.by}", show_edge=False)
        table.add_column(self.by)
        table.add_column("posts", justify="right")
        table.add_column("languages (share of the group's posts)")
        for group, n, shares in self.language_rows():
            mix = ", ".join(f"{lang} {_percent(share)}" for lang, _, share in shares)
            table.add_row(group, f"{n:,}", mix)
        return table


def _percent(share: float) -> str:
    """A share as a whole percentage; a share that rounds to 0 as "<1%"."""
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def _plain(value: Any) -> Any:
    """Numpy and pandas scalars as plain Python values for JSON."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def build_report(
    con: Any, by: Grouping = "city", n: int = 10, max_groups: int = 10
) -> TextReport:
    """Compute every part of the text report.

    Parameters
    ----------
    con
        Ibis backend of the warehouse (with ``post_text_features``).
    by
        Grouping of the language mix per group and the top nouns and entities.
    n
        Terms per group.
    max_groups
        Groups shown, those with the most enriched posts.
    """
    _check_grouping(by)
    languages = language_mix(con)
    n_posts = int(languages["n"].sum()) if not languages.empty else 0
    notes = []
    if n_posts == 0:
        notes.append("No enriched posts yet: run `veedel text enrich`.")
    notes.append(
        "Entities are typed (PER, LOC, ORG, OTH) for German; English entities "
        "are untyped proper nouns (PROPN); other languages have none."
    )
    # DEBUG: the report prints its own post count where it is shown.
    logger.debug("built text report over %d posts", n_posts)
    return TextReport(
        n_posts=n_posts,
        by=by,
        languages=languages,
        nouns=top_terms(con, "nouns", by, n, max_groups),
        entities=top_terms(con, "entities", by, n, max_groups),
        labels=label_mix(con),
        languages_by=language_mix(con, by, max_groups),
        notes=notes,
    )
