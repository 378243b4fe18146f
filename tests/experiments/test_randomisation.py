"""Salted-hash assignment: deterministic, weighted, independent, SRM-clean."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from veedel.errors import InputError
from veedel.experiments import stats
from veedel.experiments.randomisation import (
    HOLDOUT,
    WEIGHT_RULE,
    assign,
    assign_many,
    bucket_position,
)

USERS = [f"user-{i}" for i in range(40_000)]


def test_the_same_user_always_gets_the_same_variant() -> None:
    """Assignment is a pure function of user, salt and weights."""
    weights = {"control": 1.0, "treatment": 1.0}
    first = assign_many(USERS[:500], "exp-a", weights)
    assert first == assign_many(USERS[:500], "exp-a", weights)
    assert first[7] == assign(USERS[7], "exp-a", weights)


def test_position_is_the_documented_hash() -> None:
    """The position is the first 8 bytes of sha256('salt:user') over 2**64."""
    import hashlib

    digest = hashlib.sha256(b"exp:u1").digest()
    assert bucket_position("u1", "exp") == int.from_bytes(digest[:8], "big") / 2**64


def test_shares_follow_the_weights() -> None:
    """A 70/30 split passes the SRM test on 40,000 users."""
    variants = assign_many(USERS, "exp-b", {"control": 7, "push": 3})
    counts = [variants.count("control"), variants.count("push")]
    assert abs(counts[0] / len(USERS) - 0.7) < 0.01
    assert not bool(stats.srm_test(counts, [0.7, 0.3]).alarm)


def test_experiments_are_independent() -> None:
    """Buckets of two experiments are independent (chi-square on the 2x2)."""
    weights = {"a": 1.0, "b": 1.0}
    first = np.array(assign_many(USERS, "exp-1", weights)) == "a"
    second = np.array(assign_many(USERS, "exp-2", weights)) == "a"
    table = [
        [np.sum(first & second), np.sum(first & ~second)],
        [np.sum(~first & second), np.sum(~first & ~second)],
    ]
    assert scipy_stats.chi2_contingency(table).pvalue > 0.001
    assert 0.45 < np.mean(first == second) < 0.55


def test_holdout_share_is_kept_out() -> None:
    """A 10 % holdout keeps about 10 % of users out of every variant."""
    variants = assign_many(USERS, "exp-c", {"a": 1.0, "b": 1.0}, holdout=0.1)
    share = variants.count(HOLDOUT) / len(variants)
    assert abs(share - 0.1) < 0.01
    assert abs(variants.count("a") - variants.count("b")) < 0.03 * len(USERS)


def test_bad_weights_and_holdout_are_input_errors() -> None:
    """Zero weights and a holdout of 1 are refused with the field named."""
    with pytest.raises(InputError, match="weights"):
        assign("u", "s", {"a": 0.0, "b": 1.0})
    with pytest.raises(InputError, match="holdout"):
        assign("u", "s", {"a": 1.0}, holdout=1.0)


def test_matches_the_simulators_assignment() -> None:
    """The simulator buckets users exactly as the app would with assign()."""
    from veedel.warehouse.simulator.experiments import (
        bucket_positions,
        variant_indices,
    )

    users = USERS[:2000]
    indices = variant_indices(bucket_positions(users, "push_notifications"), [0.7, 0.3])
    expected = [["control", "daily_push"][i] for i in indices]
    got = assign_many(users, "push_notifications", {"control": 0.7, "daily_push": 0.3})
    assert got == expected


@pytest.mark.parametrize("weight", [0.0, -1.0, 1e32, float("inf"), float("nan")])
def test_assignment_refuses_weights_out_of_bounds(weight: float) -> None:
    """Weights must be in (0, 1e6]; the error names the variant and the value."""
    with pytest.raises(InputError) as caught:
        assign("u1", "salt", {"control": 1.0, "treatment": weight})

    assert caught.value.field == "weights[treatment]"
    assert caught.value.rule == WEIGHT_RULE
    assert caught.value.value is weight or caught.value.value == weight


def test_planning_refuses_weights_out_of_bounds() -> None:
    """The planner takes the same bound, before it reads the warehouse."""
    from veedel.experiments.planning import plan_from_history

    with pytest.raises(InputError) as caught:
        plan_from_history(None, "posts_per_user", 0.05, weights=(1.0, 1e32))

    assert str(caught.value) == (
        "weights must be two or more positive finite numbers of at most 1000000;"
        " got [1.0, 1e+32]."
    )
