"""Stable reason codes for statistics that cannot be computed, with sentences.

A result that cannot stand behind a number carries one of these codes in its
``reason`` field instead of showing NaN. The codes are part of the public API:
they never change meaning, and new ones are only added. The sentences are
written for a product manager reading the web app.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "REASON_SENTENCES",
    "Reason",
    "explain",
    "first_reason",
    "merge_reasons",
    "no_reason",
]


class Reason(StrEnum):
    """Why a statistic was not computed; the empty string means it was."""

    OK = ""
    NON_FINITE_INPUT = "non_finite_input"
    NEGATIVE_COUNT = "negative_count"
    INVALID_PROPORTION = "invalid_proportion"
    MISSING_VARIANT = "missing_variant"
    TOO_FEW_UNITS = "too_few_units"
    INCONSISTENT_SUMS = "inconsistent_sums"
    ZERO_DENOMINATOR = "zero_denominator"
    ZERO_VARIANCE = "zero_variance"
    CONTROL_MEAN_NOT_POSITIVE = "control_mean_not_positive"
    NO_VALUES = "no_values"
    NO_UNITS = "no_units"
    NOT_ADJUSTED = "not_adjusted"


REASON_SENTENCES: dict[str, str] = {
    Reason.OK: "",
    Reason.NON_FINITE_INPUT: (
        "The input holds a missing or infinite value, so nothing was computed."
    ),
    Reason.NEGATIVE_COUNT: (
        "A count of users or events is negative, which cannot happen; "
        "check the query that produced it."
    ),
    Reason.INVALID_PROPORTION: (
        "More successes than users were reported (or fewer than none), "
        "so this is not a proportion."
    ),
    Reason.MISSING_VARIANT: (
        "One of the variants has no users yet, so there is nothing to compare."
    ),
    Reason.TOO_FEW_UNITS: (
        "A variant has fewer than two users, too few to measure how much "
        "the metric varies."
    ),
    Reason.INCONSISTENT_SUMS: (
        "The sums handed to the engine contradict each other (a negative "
        "variance or an impossible correlation); check the query that produced "
        "them."
    ),
    Reason.ZERO_DENOMINATOR: (
        "The denominator of this ratio metric is zero in a variant, so the "
        "ratio is not defined."
    ),
    Reason.ZERO_VARIANCE: (
        "The metric has the same value for every user in both variants, so its "
        "uncertainty cannot be estimated."
    ),
    Reason.CONTROL_MEAN_NOT_POSITIVE: (
        "The control average is zero or negative, so a relative change "
        "(percent lift) is not meaningful; use the absolute difference."
    ),
    Reason.NO_VALUES: ("There are no values for this metric in one of the variants."),
    Reason.NO_UNITS: "No users have been assigned to any variant yet.",
    Reason.NOT_ADJUSTED: (
        "This comparison had no p-value, so it was left out of the "
        "multiple-testing correction."
    ),
}


def no_reason(shape: tuple[int, ...]) -> npt.NDArray[np.str_]:
    """Return an array of empty reasons (everything computable) of ``shape``."""
    return np.full(shape, "", dtype="<U32")


def merge_reasons(
    reason: npt.NDArray[np.str_],
    condition: npt.NDArray[np.bool_],
    code: Reason,
) -> npt.NDArray[np.str_]:
    """Set ``code`` where ``condition`` holds and no earlier reason is set.

    Call in order of priority: the first reason found for an element stays.
    """
    reason, condition = np.broadcast_arrays(reason, condition)
    return np.where((reason == "") & condition, str(code), reason).astype("<U32")


def first_reason(*reasons: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """Combine reason arrays element by element; the first non-empty one wins."""
    combined = reasons[0]
    for reason in reasons[1:]:
        combined, reason = np.broadcast_arrays(combined, reason)
        combined = np.where(combined == "", reason, combined)
    return np.asarray(combined, dtype="<U32")


def explain(code: str) -> str:
    """Return the plain sentence for a reason code ("" for no reason)."""
    return REASON_SENTENCES.get(code, code)
