"""Two real experiment archives, analysed with veedel's engine.

**ASOS Digital Experiments Dataset** (Liu et al., 2021; CC BY 4.0): 78 online
experiments of a fashion retailer, 99 treatment-control pairs, 4 metrics, with
each arm's count, mean and variance at every (half-)daily look. veedel
analyses every series twice: fixed-horizon (one Welch test at the last look)
and sequentially (an always-valid confidence sequence checked at every look,
stopping at the first look that excludes zero), and counts how many are
significant each way and where the two disagree. The naive habit of running
the fixed test at every look is counted too, to show what it costs.

**Upworthy Research Archive**, exploratory set (Matias et al., 2021; CC BY
4.0): 4,873 headline tests with 2 to 14 arms, impressions and clicks per arm,
and the publisher's own flags (``significance``, ``first_place``, ``winner``).
For every test veedel compares the arm with the highest click rate against
each other arm (two-proportion z tests, Holm-adjusted within the test) and
calls a winner when the top arm beats every other arm; it then compares that
call with the publisher's flags.

Both files ship with veedel (``veedel/data/bundled/``) with their licence
notices; :func:`load_asos` and :func:`load_upworthy` read them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from veedel.errors import DataError
from veedel.experiments import stats

__all__ = [
    "AsosSummary",
    "UpworthySummary",
    "analyze_asos",
    "analyze_upworthy",
    "load_asos",
    "load_upworthy",
]

log = logging.getLogger(__name__)

_ASOS_COLUMNS = (
    "experiment_id", "variant_id", "metric_id", "time_since_start",
    "count_c", "count_t", "mean_c", "mean_t", "variance_c", "variance_t",
)  # fmt: skip
_UPWORTHY_COLUMNS = (
    "clickability_test_id", "impressions", "clicks", "significance", "winner",
    "first_place",
)  # fmt: skip
_SERIES = ["experiment_id", "variant_id", "metric_id"]


def _bundled(folder: str, name: str) -> Path:
    return Path(str(resources.files("veedel.data") / "bundled" / folder / name))


def _read(path: Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError("path", f"must name the {what} parquet file", str(path))
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        # pyarrow's ArrowInvalid is a ValueError: not a parquet file at all.
        raise DataError(
            "path", f"must name the {what} parquet file", str(path),
            fix=f"It could not be read as parquet ({exc}).",
        ) from None  # fmt: skip
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            "columns", f"must include every column of the {what} file", missing,
            where=str(path),
        )  # fmt: skip
    log.info("Read %d rows of %s from %s", len(frame), what, path)
    return frame


def load_asos(path: str | Path | None = None) -> pd.DataFrame:
    """The ASOS dataset (the bundled copy unless ``path`` is given)."""
    default = _bundled("asos", "asos_digital_experiments_dataset.parquet")
    return _read(Path(path) if path else default, _ASOS_COLUMNS, "ASOS")


def load_upworthy(path: str | Path | None = None) -> pd.DataFrame:
    """The Upworthy exploratory archive (the bundled copy unless ``path``)."""
    default = _bundled("upworthy", "upworthy_exploratory_clean.parquet")
    return _read(Path(path) if path else default, _UPWORTHY_COLUMNS, "Upworthy")


def _arm(n: pd.Series, mean: pd.Series, variance: pd.Series) -> stats.SampleStats:
    count = n.to_numpy(dtype=np.float64)
    average = mean.to_numpy(dtype=np.float64)
    spread = variance.to_numpy(dtype=np.float64)
    return stats.SampleStats(
        count, average * count, spread * (count - 1) + count * average * average
    )


@dataclass(frozen=True)
class AsosSummary:
    """How fixed-horizon and sequential analyses of the ASOS series compare.

    Counts are over treatment-control-metric series; ``series`` holds one
    record per series (JSON-ready).
    """

    experiments: int
    series: int
    not_computable: int
    alpha: float
    fixed: dict[str, int]
    sequential: dict[str, int]
    naive_peeking: dict[str, int]
    agreement: dict[str, int]
    median_share_of_duration_at_stop: float | None
    records: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def __rich__(self) -> RenderableType:
        table = Table(
            title=f"ASOS: {self.experiments} experiments, {self.series} series",
            title_justify="left",
        )
        for name in ("analysis", "significant up", "significant down", "neither"):
            table.add_column(name, justify="right" if name != "analysis" else "left")
        for label, counts in (
            ("fixed horizon, last look", self.fixed),
            ("sequential, every look", self.sequential),
            ("fixed test at every look (naive)", self.naive_peeking),
        ):
            table.add_row(label, *(str(counts[k]) for k in ("up", "down", "none")))
        lines = [
            f"{key.replace('_', ' ')}: {value}" for key, value in self.agreement.items()
        ]
        share = self.median_share_of_duration_at_stop
        if share is not None:
            lines.append(
                f"median share of the experiment's duration at the sequential stop: "
                f"{share:.0%}"
            )
        lines.append(f"series that could not be analysed: {self.not_computable}")
        return Group(table, Text("\n".join(lines)))


def analyze_asos(frame: pd.DataFrame, alpha: float = 0.05) -> AsosSummary:
    """Analyse every ASOS series fixed-horizon and sequentially.

    Notes
    -----
    Each look's Welch test uses ``n``, ``sum = mean n`` and ``sum_sq =
    variance (n - 1) + n mean**2`` per arm. The sequential analysis uses one
    mixing variance per series on every look, tuned so that the confidence
    sequence is narrowest at the series' final look (``tau2 = r V`` with ``V``
    the variance of the effect at the last look with variances), and keeps
    the running minimum of the always-valid p-values (what stays valid over
    looks); a series stops at the first look whose always-valid p-value is
    below ``alpha``, in the direction of that look's estimate.
    """
    data = frame.sort_values([*_SERIES, "time_since_start"]).reset_index(drop=True)
    control = _arm(data["count_c"], data["mean_c"], data["variance_c"])
    treatment = _arm(data["count_t"], data["mean_t"], data["variance_t"])
    fixed = stats.compare_means(control, treatment, alpha=alpha)

    sequential = stats.sequential_effect(
        fixed, mixing_variance=_asos_mixing_variance(data, fixed, alpha)
    )

    data["estimate"] = fixed.point_estimate
    data["p_fixed"] = np.where(fixed.ok, _p_values(fixed), np.nan)
    data["p_seq"] = np.where(sequential.ok, _p_values(sequential), np.nan)
    data["p_seq"] = data.groupby(_SERIES, sort=False)["p_seq"].cummin()
    records = [_asos_series(key, part, alpha) for key, part in data.groupby(_SERIES)]
    return _asos_summary(data, records, alpha)


def _asos_mixing_variance(
    data: pd.DataFrame, fixed: stats.Effect, alpha: float
) -> np.ndarray[Any, Any]:
    """``tau2`` per row: the same for every look of a series (1 when none fits)."""
    variance = pd.Series(
        np.where(fixed.ok, fixed.standard_error**2, np.nan), index=data.index
    )
    # groupby's "last" skips NaN: the latest look with usable variances.
    final = variance.groupby([data[c] for c in _SERIES], sort=False).transform("last")
    tau2 = stats.tuned_mixing_variance(final.to_numpy(dtype=np.float64), alpha)
    return np.where(np.isfinite(tau2) & (tau2 > 0), tau2, 1.0)


def _p_values(effect: stats.Effect) -> np.ndarray[Any, Any]:
    """The effect's p-values (NaN everywhere for a method without them)."""
    if effect.p_value is None:
        return np.full(effect.shape, np.nan)
    return effect.p_value


def _asos_series(key: Any, part: pd.DataFrame, alpha: float) -> dict[str, Any]:
    experiment, variant, metric = key
    last = part.iloc[-1]
    computable = bool(np.isfinite(last["p_fixed"]))
    fixed_call = _call(last["p_fixed"], last["estimate"], alpha)
    crossed = part[part["p_seq"] < alpha]
    seq_call, stop_time = "none", None
    if len(crossed):
        first = crossed.iloc[0]
        seq_call = "up" if first["estimate"] > 0 else "down"
        stop_time = float(first["time_since_start"])
    naive = part[part["p_fixed"] < alpha]
    naive_call = "none"
    if len(naive):
        naive_call = "up" if naive.iloc[0]["estimate"] > 0 else "down"
    duration = float(last["time_since_start"])
    return {
        "experiment_id": str(experiment),
        "variant_id": int(variant),
        "metric_id": int(metric),
        "looks": len(part),
        "duration_days": duration,
        "computable": computable,
        "fixed": fixed_call if computable else "not_computed",
        "fixed_p_value": float(last["p_fixed"]) if computable else None,
        "sequential": seq_call if computable else "not_computed",
        "sequential_stop_day": stop_time,
        "naive_peeking": naive_call if computable else "not_computed",
    }


def _call(p_value: float, estimate: float, alpha: float) -> str:
    if not np.isfinite(p_value) or p_value >= alpha:
        return "none"
    return "up" if estimate > 0 else "down"


def _asos_summary(
    data: pd.DataFrame, records: list[dict[str, Any]], alpha: float
) -> AsosSummary:
    usable = [r for r in records if r["computable"]]

    def count(field: str) -> dict[str, int]:
        return {k: sum(r[field] == k for r in usable) for k in ("up", "down", "none")}

    agreement = {
        "both_significant_same_direction": 0,
        "both_not_significant": 0,
        "fixed_only": 0,
        "sequential_only": 0,
        "opposite_directions": 0,
    }
    shares = []
    for r in usable:
        f, s = r["fixed"], r["sequential"]
        if f == s == "none":
            agreement["both_not_significant"] += 1
        elif f == s:
            agreement["both_significant_same_direction"] += 1
        elif s == "none":
            agreement["fixed_only"] += 1
        elif f == "none":
            agreement["sequential_only"] += 1
        else:
            agreement["opposite_directions"] += 1
        if r["sequential_stop_day"] is not None and r["duration_days"] > 0:
            shares.append(r["sequential_stop_day"] / r["duration_days"])
    return AsosSummary(
        experiments=int(data["experiment_id"].nunique()),
        series=len(records),
        not_computable=len(records) - len(usable),
        alpha=alpha,
        fixed=count("fixed"),
        sequential=count("sequential"),
        naive_peeking=count("naive_peeking"),
        agreement=agreement,
        median_share_of_duration_at_stop=float(np.median(shares)) if shares else None,
        records=tuple(records),
    )


@dataclass(frozen=True)
class UpworthySummary:
    """veedel's calls on the Upworthy tests against the publisher's flags."""

    tests: int
    arms: int
    alpha: float
    veedel_winner: int
    veedel_no_winner: int
    publisher_significant: int
    agreement_significance: dict[str, int]
    editor_winner_tests: int
    editor_winner_agreement: dict[str, int]
    records: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def __rich__(self) -> RenderableType:
        table = Table(
            title=f"Upworthy: {self.tests:,} tests, {self.arms:,} arms",
            title_justify="left",
        )
        table.add_column("comparison")
        table.add_column("tests", justify="right")
        table.add_row("veedel: top arm beats every other arm", str(self.veedel_winner))
        table.add_row("veedel: no clear winner", str(self.veedel_no_winner))
        table.add_row(
            "publisher: first place with significance >= 95",
            str(self.publisher_significant),
        )
        for key, value in self.agreement_significance.items():
            table.add_row(f"  {key.replace('_', ' ')}", str(value))
        table.add_row("editors picked a winner", str(self.editor_winner_tests))
        for key, value in self.editor_winner_agreement.items():
            table.add_row(f"  {key.replace('_', ' ')}", str(value))
        return table


def analyze_upworthy(frame: pd.DataFrame, alpha: float = 0.05) -> UpworthySummary:
    """Call a winner in every Upworthy test and compare with the publisher.

    Notes
    -----
    In each test the arm with the highest click rate is compared with every
    other arm by the pooled two-proportion z test; the k - 1 p-values are
    Holm-adjusted within the test. veedel calls the top arm the winner when
    every adjusted p-value is below ``alpha``. The publisher's call is
    significant when its first-place arm has ``significance >= 95`` (the
    dashboard's percentage).
    """
    data = frame.copy()
    data["rate"] = data["clicks"] / data["impressions"].where(data["impressions"] > 0)
    data = data.sort_values(["clickability_test_id", "rate"], ascending=[True, False])
    top = data.groupby("clickability_test_id", sort=False).head(1)
    others = data.drop(top.index)
    paired = others.merge(
        top[["clickability_test_id", "impressions", "clicks"]],
        on="clickability_test_id",
        suffixes=("", "_top"),
    )
    effect = stats.compare_proportions(
        stats.SampleStats.from_counts(paired["clicks"], paired["impressions"]),
        stats.SampleStats.from_counts(paired["clicks_top"], paired["impressions_top"]),
        alpha=alpha,
    )
    paired["p"] = np.where(effect.ok, _p_values(effect), np.nan)
    paired["p_holm"] = paired.groupby("clickability_test_id")["p"].transform(
        lambda p: stats.adjust_pvalues(p.to_numpy(dtype=np.float64), "holm")
    )
    worst = paired.groupby("clickability_test_id")["p_holm"].max()
    records = [
        _upworthy_test(str(test), part, worst.get(test, np.nan), alpha)
        for test, part in frame.groupby("clickability_test_id")
    ]
    return _upworthy_summary(records, len(frame), alpha)


def _upworthy_test(
    test: str, part: pd.DataFrame, worst_p: float, alpha: float
) -> dict[str, Any]:
    first = part[part["first_place"]]
    publisher = bool(len(first)) and float(first["significance"].max()) >= 95.0
    rates = part["clicks"] / part["impressions"].where(part["impressions"] > 0)
    best = int(np.nanargmax(rates.to_numpy(dtype=np.float64)))
    winners = part[part["winner"]]
    return {
        "test_id": test,
        "arms": len(part),
        "impressions": int(part["impressions"].sum()),
        "veedel_winner": bool(np.isfinite(worst_p) and worst_p < alpha),
        "veedel_max_adjusted_p": float(worst_p) if np.isfinite(worst_p) else None,
        "publisher_significant": publisher,
        "editor_winner": bool(len(winners)),
        "editor_winner_is_top_arm": bool(
            len(winners) and part.index[best] in winners.index
        ),
    }


def _upworthy_summary(
    records: list[dict[str, Any]], arms: int, alpha: float
) -> UpworthySummary:
    both = sum(r["veedel_winner"] and r["publisher_significant"] for r in records)
    publisher_only = sum(
        r["publisher_significant"] and not r["veedel_winner"] for r in records
    )
    veedel_only = sum(
        r["veedel_winner"] and not r["publisher_significant"] for r in records
    )
    neither = len(records) - both - publisher_only - veedel_only
    editor = [r for r in records if r["editor_winner"]]
    return UpworthySummary(
        tests=len(records),
        arms=arms,
        alpha=alpha,
        veedel_winner=sum(r["veedel_winner"] for r in records),
        veedel_no_winner=sum(not r["veedel_winner"] for r in records),
        publisher_significant=sum(r["publisher_significant"] for r in records),
        agreement_significance={
            "both_call_a_winner": both,
            "publisher_only": publisher_only,
            "veedel_only": veedel_only,
            "neither": neither,
        },
        editor_winner_tests=len(editor),
        editor_winner_agreement={
            "editor_winner_is_top_arm_and_veedel_winner": sum(
                r["editor_winner_is_top_arm"] and r["veedel_winner"] for r in editor
            ),
            "editor_winner_is_top_arm_veedel_unsure": sum(
                r["editor_winner_is_top_arm"] and not r["veedel_winner"] for r in editor
            ),
            "editor_winner_not_top_arm": sum(
                not r["editor_winner_is_top_arm"] for r in editor
            ),
        },
        records=tuple(records),
    )
