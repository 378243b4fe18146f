"""A metric definition said in words, for people who do not read YAML."""

from __future__ import annotations

from veedel.experiments.metrics import Aggregation, Condition, Metric

__all__ = ["metric_in_words"]

_SOURCE_WORDS = {
    "events": "app events",
    "posts": "posts and replies written",
    "replies_received": "replies received",
    "votes_cast": "votes cast",
    "votes_received": "votes received",
}

_OPERATOR_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "is above",
    "ge": "is at least",
    "lt": "is below",
    "le": "is at most",
}


def _condition(condition: Condition) -> str:
    column = condition.column.replace("_", " ")
    if condition.op == "is_null":
        return f"{column} is empty"
    if condition.op == "not_null":
        return f"{column} is set"
    value = condition.value
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    return f"{column} {_OPERATOR_WORDS[condition.op]} {value}"


def _rows(aggregation: Aggregation) -> str:
    text = _SOURCE_WORDS.get(aggregation.source, aggregation.source)
    if aggregation.filter:
        text += " where " + " and ".join(_condition(c) for c in aggregation.filter)
    return text


def _per_user(aggregation: Aggregation) -> str:
    rows = _rows(aggregation)
    column = (aggregation.column or "").replace("_", " ")
    if aggregation.aggregate == "count":
        return f"the number of {rows}"
    if aggregation.aggregate == "sum":
        return f"the sum of {column} over {rows}"
    if aggregation.aggregate == "max":
        return f"the largest {column} among {rows}"
    return f"whether there was any of the {rows}"


def _window(metric: Metric) -> str:
    start, end = metric.window.start_day, metric.window.end_day
    if end is None:
        return (
            f"from day {start} after the user's first exposure up to the analysis date"
        )
    if end - start == 1:
        return f"on day {start} after the user's first exposure"
    return f"in days {start} to {end - 1} after the user's first exposure"


def metric_in_words(metric: Metric) -> str:
    """One or two sentences that say what ``metric`` measures and how.

    Examples
    --------
    >>> from veedel.experiments.metrics import starter_metrics
    >>> metric_in_words(starter_metrics()["day7_retention"]).startswith("The share")
    True
    """
    window = _window(metric)
    if metric.kind == "proportion":
        text = (
            f"The share of users with at least one of the {_rows(metric.numerator)},"
            f" {window}."
        )
    elif metric.kind == "ratio":
        assert metric.denominator is not None  # validated: ratios have one
        text = (
            f"All users' {_per_user(metric.numerator)[4:]} divided by all users'"
            f" {_per_user(metric.denominator)[4:]}, {window}."
        )
    elif metric.kind == "quantile":
        share = f"{(metric.quantile or 0.5) * 100:g} %"
        text = (
            f"The value below which {share} of users fall, of"
            f" {_per_user(metric.numerator)} per user, {window}."
        )
    else:
        text = f"The average over users of {_per_user(metric.numerator)}, {window}."
    if metric.capping is not None:
        cap = metric.capping
        limit = (
            f"{cap.value:g}"
            if cap.value is not None
            else f"the {(cap.percentile or 0) * 100:g}th percentile of all users"
        )
        text += (
            f" Each user's value is capped at {limit}, so that a few extreme users"
            " cannot dominate."
        )
    better = "Higher" if metric.direction == "increase" else "Lower"
    return f"{text} {better} is better."
