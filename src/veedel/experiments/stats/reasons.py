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
    "CODES",
    "REASON_SENTENCES",
    "Reason",
    "explain",
    "first_reason",
    "merge_reasons",
    "no_reason",
    "reason_codes",
    "reason_names",
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
    OUT_OF_RANGE = "out_of_range"


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
    Reason.OUT_OF_RANGE: (
        "The numbers are too extreme to compute with reliably; check the metric's "
        "units and the query that produced them."
    ),
    Reason.NOT_ADJUSTED: (
        "This comparison had no p-value, so it was left out of the "
        "multiple-testing correction."
    ),
}


# Internally, reasons travel as small integer codes (fast to combine over millions
# of comparisons); results carry the names. Code 0 is "no reason".
CODES: tuple[str, ...] = tuple(str(reason) for reason in Reason)
_CODE_OF = {name: index for index, name in enumerate(CODES)}
_NAMES = np.array(CODES, dtype=f"<U{max(len(name) for name in CODES)}")

CodeArray = npt.NDArray[np.int8]


def code_of(reason: Reason | str) -> int:
    """The integer code of a reason."""
    return _CODE_OF[str(reason)]


def no_reason(shape: tuple[int, ...]) -> CodeArray:
    """Codes meaning "everything computable", of ``shape``."""
    return np.zeros(shape, dtype=np.int8)


def merge_reasons(
    codes: CodeArray, condition: npt.NDArray[np.bool_], reason: Reason
) -> CodeArray:
    """Set ``reason`` where ``condition`` holds and no earlier reason is set.

    Call in order of priority: the first reason found for an element stays.
    """
    return np.where((codes == 0) & condition, np.int8(code_of(reason)), codes).astype(
        np.int8
    )


def first_reason(*codes: CodeArray) -> CodeArray:
    """Combine code arrays element by element; the first non-zero one wins."""
    combined = codes[0]
    for other in codes[1:]:
        combined = np.where(combined == 0, other, combined)
    return np.asarray(combined, dtype=np.int8)


def reason_names(codes: CodeArray) -> npt.NDArray[np.str_]:
    """The reason names for integer codes ("" for none)."""
    return np.asarray(_NAMES[codes])


def reason_codes(names: npt.ArrayLike) -> CodeArray:
    """The integer codes for reason names (unknown names are an error)."""
    array = np.asarray(names)
    codes = np.zeros(array.shape, dtype=np.int8)
    for index, name in enumerate(CODES[1:], start=1):
        codes[array == name] = index
    return codes


def explain(code: str) -> str:
    """Return the plain sentence for a reason code ("" for no reason)."""
    return REASON_SENTENCES.get(code, code)
