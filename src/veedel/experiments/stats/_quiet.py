"""A decorator that keeps numpy quiet inside the engine's public functions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np

P = ParamSpec("P")
R = TypeVar("R")


def quiet_numpy(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with numpy floating-point warnings off.

    Division by zero and NaN arithmetic are expected on degenerate inputs; the
    engine turns them into reason codes instead of warnings.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return wrapper
