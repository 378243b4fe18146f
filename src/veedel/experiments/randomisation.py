"""Deterministic, salted-hash assignment of users to variants.

The same user always gets the same variant of an experiment; each experiment
hashes with its own salt, so buckets of different experiments are independent;
a holdout share can be kept out of every variant. The app buckets users with
:func:`assign` and the analysis expects exactly those buckets.

Notes
-----
A user's position is ``u = H(salt ":" user_id) / 2**64`` where ``H`` is the
first eight bytes of SHA-256 read as a big-endian integer, so ``u`` is uniform
on ``[0, 1)``. Users with ``u < holdout`` are held out; the others are mapped to
``(u - holdout) / (1 - holdout)`` and given the variant whose cumulative weight
interval holds that value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from veedel.errors import InputError

#: The largest variant weight; weights are relative shares, e.g. 1 and 3.
MAX_WEIGHT = 1e6
WEIGHT_RULE = "must be a positive, finite number of at most 1000000 (e.g. 1 and 3)"

__all__ = [
    "HOLDOUT",
    "MAX_WEIGHT",
    "WEIGHT_RULE",
    "assign",
    "assign_many",
    "bucket_position",
]

HOLDOUT = "holdout"
_SCALE = float(2**64)


def bucket_position(user_id: str, salt: str) -> float:
    """The user's uniform position in ``[0, 1)`` for ``salt``."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def _checked_weights(weights: Mapping[str, float]) -> list[tuple[str, float]]:
    if not weights:
        raise InputError("weights", "must name at least one variant", dict(weights))
    for key, weight in weights.items():
        if not 0 < weight <= MAX_WEIGHT:
            raise InputError(f"weights[{key}]", WEIGHT_RULE, weight)
    total = float(sum(weights.values()))
    cumulative, bounds = 0.0, []
    for key, weight in weights.items():
        cumulative += weight / total
        bounds.append((key, cumulative))
    return bounds


def _variant_at(
    position: float, bounds: list[tuple[str, float]], holdout: float
) -> str:
    if position < holdout:
        return HOLDOUT
    scaled = (position - holdout) / (1.0 - holdout)
    for key, upper in bounds:
        if scaled < upper:
            return key
    return bounds[-1][0]  # rounding at the very top of the last interval


def assign(
    user_id: str,
    salt: str,
    weights: Mapping[str, float],
    holdout: float = 0.0,
) -> str:
    """The variant of ``user_id`` (or :data:`HOLDOUT`).

    Parameters
    ----------
    user_id
        The user's id as the app knows it.
    salt
        The experiment's salt; by default an experiment's key.
    weights
        Variant key to weight (any positive numbers; shares are weight / total).
    holdout
        Share of users kept out of every variant, in ``[0, 1)``.

    Examples
    --------
    >>> assign("u1", "exp", {"control": 1, "treatment": 1})
    'treatment'
    """
    if not 0.0 <= holdout < 1.0:
        raise InputError("holdout", "must be at least 0 and below 1", holdout)
    if not str(user_id).strip():
        raise InputError(
            "user_id", "must not be empty", user_id, fix="Give the user's id."
        )
    bounds = _checked_weights(weights)
    return _variant_at(bucket_position(str(user_id), salt), bounds, holdout)


def assign_many(
    user_ids: Iterable[str],
    salt: str,
    weights: Mapping[str, float],
    holdout: float = 0.0,
) -> list[str]:
    """Variants of many users at once, in the order given."""
    if not 0.0 <= holdout < 1.0:
        raise InputError("holdout", "must be at least 0 and below 1", holdout)
    bounds = _checked_weights(weights)
    return [
        _variant_at(bucket_position(str(user), salt), bounds, holdout)
        for user in user_ids
    ]
