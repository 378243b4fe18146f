"""Metric and experiment YAML: valid files load, bad ones name file, field, value."""

from __future__ import annotations

from pathlib import Path

import pytest

from veedel.errors import ConfigError, NotFoundError
from veedel.experiments.definitions import (
    example_experiments,
    load_experiment_text,
)
from veedel.experiments.metrics import (
    MetricLibrary,
    load_metric_file,
    load_metric_text,
    load_metrics,
    starter_metrics,
)

GOOD = """
name: Shares per user
kind: mean
numerator:
  source: events
  aggregate: count
  filter: [{column: name, op: eq, value: share}]
window: {start_day: 0, end_day: 7}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_library_holds_the_community_metrics() -> None:
    """The shipped library has every metric the issue lists, all valid."""
    keys = set(starter_metrics().keys())
    assert {
        "posting_rate",
        "replies_per_post",
        "votes_per_post",
        "day1_retention",
        "day7_retention",
        "sessions_per_user",
        "reports_per_user",
        "channel_joins_per_user",
    } <= keys


def test_metric_key_defaults_to_the_file_stem(tmp_path: Path) -> None:
    """A file without a key takes its name from the file."""
    metric = load_metric_file(_write(tmp_path, "shares_per_user.yaml", GOOD))
    assert metric.key == "shares_per_user"
    assert metric.window.end_day == 7


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (("source: events", "source: clicks"), "numerator", "clicks"),
        (("column: name", "column: colour"), "numerator", "colour"),
        (("kind: mean", "kind: median"), "kind", "median"),
        (("end_day: 7", "end_day: 0"), "window.end_day", 0),
        (("op: eq", "op: like"), "numerator.filter.0.op", "like"),
    ],
)
def test_bad_metric_names_file_field_and_value(
    tmp_path: Path, change: tuple[str, str], field: str, value: object
) -> None:
    """Each broken rule is reported with the file, the field and the value."""
    path = _write(tmp_path, "broken.yaml", GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_metric_file(path)
    error = caught.value
    assert error.where == str(path)
    assert error.field.startswith(field)
    assert str(value) in str(error)


def test_ratio_metric_needs_a_denominator() -> None:
    """A ratio without a denominator is refused with the reason."""
    text = GOOD.replace("kind: mean", "kind: ratio")
    with pytest.raises(ConfigError, match="needs a denominator"):
        load_metric_text(text, where="ratio.yaml", key="ratio")


def test_proportion_must_aggregate_with_any() -> None:
    """A proportion counting rows is not a proportion."""
    text = GOOD.replace("kind: mean", "kind: proportion")
    with pytest.raises(ConfigError, match="'any'"):
        load_metric_text(text, key="p")


def test_invalid_yaml_is_a_config_error() -> None:
    """Broken YAML syntax is reported, not raised from the parser."""
    with pytest.raises(ConfigError) as caught:
        load_metric_text("name: [unclosed", where="x.yaml")
    assert caught.value.where == "x.yaml"


def test_duplicate_metric_key_names_the_second_file(tmp_path: Path) -> None:
    """A user folder may not redefine a starter metric."""
    _write(tmp_path, "sessions_per_user.yaml", GOOD)
    with pytest.raises(ConfigError) as caught:
        load_metrics(tmp_path)
    assert "sessions_per_user" in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_unknown_metric_is_not_found() -> None:
    """Asking the library for a missing key lists what exists."""
    with pytest.raises(NotFoundError, match="posting_rate"):
        starter_metrics()["nope"]
    assert len(MetricLibrary()) == 0


EXPERIMENT = """
key: demo
name: Demo
variants:
  - {key: control, weight: 1, control: true}
  - {key: treatment, weight: 3}
start: 2025-01-06
metrics:
  primary: [sessions_per_user]
  guardrails: [reports_per_user, {metric: day1_retention, margin: 0.02}]
"""


def test_experiment_weights_and_guardrail_margins() -> None:
    """Weights become shares; a bare guardrail has margin zero."""
    definition = load_experiment_text(EXPERIMENT)
    assert definition.weights == {"control": 0.25, "treatment": 0.75}
    assert definition.metrics.margin("reports_per_user") == 0.0
    assert definition.metrics.margin("day1_retention") == 0.02
    assert definition.metrics.role("day1_retention") == "guardrail"
    assert definition.warehouse_id == "demo"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("weight: 3}", "weight: 3, control: true}"), "exactly one variant"),
        (("weight: 3", "weight: -1"), "weight must be a positive, finite number"),
        (("start: 2025-01-06", "start: 2025-01-06\nend: 2025-01-01"), "end must"),
        (("start: 2025-01-06", "start: 2025-01-06\nslices: [shoe_size]"), "shoe_size"),
    ],
)
def test_bad_experiment_is_refused(change: tuple[str, str], message: str) -> None:
    """Broken experiment definitions say what is wrong."""
    with pytest.raises(ConfigError, match=message):
        load_experiment_text(EXPERIMENT.replace(*change), where="demo.yaml")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("weight: 3}", "weight: 3, control: true}"),
            "demo.yaml: variants.control must be true on exactly one variant (those"
            " marked are shown); got ['control', 'treatment'].",
        ),
        (
            ("key: treatment", "key: control"),
            "demo.yaml: variants.key must be unique (those repeated are shown);"
            " got ['control'].",
        ),
        (
            ("start: 2025-01-06", "start: 2025-01-06\nend: 2025-01-01"),
            "demo.yaml: end must not be before start (2025-01-06); got '2025-01-01'.",
        ),
        (
            ("start: 2025-01-06", "start: 2025-01-06\nslices: [shoe_size]"),
            "demo.yaml: slices must name user properties; got 'shoe_size'. Use one"
            " of: city, language, source.",
        ),
        (
            ("guardrails: [reports_per_user", "guardrails: [sessions_per_user"),
            "demo.yaml: metrics must list each metric once, in one role (those"
            " repeated are shown); got ['sessions_per_user'].",
        ),
    ],
)
def test_rules_across_fields_name_one_field_and_value(
    change: tuple[str, str], expected: str
) -> None:
    """A rule across fields names the field and the values that break it, not
    the whole definition (whose dates would print as datetime.date(...))."""
    with pytest.raises(ConfigError) as caught:
        load_experiment_text(EXPERIMENT.replace(*change), where="demo.yaml")

    assert str(caught.value).startswith(expected)
    assert "datetime" not in str(caught.value)
    assert "{" not in str(caught.value)


def test_experiment_metrics_must_exist_in_the_library() -> None:
    """An experiment naming an unknown metric fails before any query runs, and
    names the role, the key and the file the experiment came from."""
    text = EXPERIMENT.replace("[sessions_per_user]", "[x]")
    definition = load_experiment_text(text, where="experiments/demo.yaml")
    with pytest.raises(ConfigError) as caught:
        definition.check_metrics(starter_metrics())

    assert caught.value.value == "x"
    assert str(caught.value).startswith(
        "experiments/demo.yaml (experiment demo): metrics.primary must name"
        " metrics of the library; got 'x'. Known metrics: channel_joins_per_user,"
    )


def test_where_a_definition_came_from_is_not_part_of_it() -> None:
    """The same definition read from two places is equal and hashes alike."""
    one = load_experiment_text(EXPERIMENT, where="a.yaml")
    two = load_experiment_text(EXPERIMENT, where="store:demo")

    assert one == two
    assert hash(one) == hash(two)


def test_shipped_examples_match_the_simulator() -> None:
    """The example definitions use the simulator's ids, variants and weights."""
    from veedel.warehouse.simulator.config import SimulationConfig

    examples = example_experiments()
    library = starter_metrics()
    for spec in SimulationConfig().experiments:
        definition = examples[spec.experiment_id]
        definition.check_metrics(library)
        assert [(v.key, v.weight) for v in definition.variants] == list(spec.variants)
        assert definition.control.key == spec.control


_WEIGHT_RULE = "must be a positive, finite number of at most 1000000 (e.g. 1 and 3)"


@pytest.mark.parametrize(
    ("weight", "shown"),
    [
        ("1.0e+32", "1e+32"),
        ("0", "0"),
        ("-2.5", "-2.5"),
        (".inf", "inf"),
        (".nan", "nan"),
    ],
)
def test_variant_weight_is_positive_finite_and_bounded(weight: str, shown: str) -> None:
    """A weight of 1e32 next to 1 would starve the other arm; the weight must be
    in (0, 1e6], and the error names the field, the rule and the value."""
    text = EXPERIMENT.replace("weight: 3", f"weight: {weight}")
    with pytest.raises(ConfigError) as caught:
        load_experiment_text(text, where="demo.yaml")

    assert str(caught.value).startswith(
        f"demo.yaml: variants.1.weight {_WEIGHT_RULE}; got {shown}."
    )


def test_variant_weight_of_a_million_is_accepted() -> None:
    """The bound itself is allowed: shares 1/1000001 and 1000000/1000001."""
    text = EXPERIMENT.replace("weight: 3", "weight: 1000000")

    weights = load_experiment_text(text).weights

    assert weights == {"control": 1 / 1000001, "treatment": 1000000 / 1000001}
