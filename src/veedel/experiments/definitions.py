"""Experiment definitions: a few lines of YAML per experiment, validated on load.

An experiment names its variants (with weights and one control), where its
assignments live in the warehouse, when it runs, which metrics decide it
(primary), which must not get worse (guardrails, each with a non-inferiority
margin) and which are only informative (secondary), the user properties to
slice by, and the analysis settings.

Examples
--------
>>> definition = load_experiment_text(
...     '''
... key: bigger_compose_button
... name: Bigger compose button
... hypothesis: A bigger button makes more people post.
... owner: product@example.org
... variants:
...   - {key: control, weight: 1, control: true}
...   - {key: big_button, weight: 1}
... start: 2026-01-05
... end: 2026-02-02
... metrics:
...   primary: [posting_rate]
...   guardrails: [{metric: reports_per_user, margin: 0.05}]
... '''
... )
>>> definition.control.key
'control'
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from veedel.errors import ConfigError, NotFoundError
from veedel.experiments.definition_model import DefinitionModel
from veedel.experiments.metrics import (
    MetricLibrary,
    parse_definition_yaml,
    read_definition_file,
    shown,
)
from veedel.experiments.randomisation import MAX_WEIGHT, WEIGHT_RULE
from veedel.warehouse.schema import TABLES

__all__ = [
    "AnalysisSettings",
    "Assignment",
    "Cuped",
    "DecisionRule",
    "ExperimentDefinition",
    "Guardrail",
    "MetricSet",
    "Variant",
    "example_experiments",
    "find_experiment",
    "load_experiment_file",
    "load_experiment_text",
    "load_experiments",
]

_KEY = r"^[a-z][a-z0-9_\-]*$"
SLICE_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in TABLES["users"].schema.names
    if name not in ("user_id", "created_at", "latitude", "longitude", "location_text")
)


_Strict = DefinitionModel


class _DefinitionRule(ValueError):
    """A rule across fields broken, with the one field and value to name.

    Raised inside a model validator, whose own error would show the whole
    definition as the value.
    """

    def __init__(
        self, field: str, rule: str, value: Any, fix: str | None = None
    ) -> None:
        super().__init__(f"{field} {rule}")
        self.field = field
        self.rule = rule
        self.value = value
        self.fix = fix


class Variant(_Strict):
    """One arm: its key, its share of traffic (a relative weight) and role."""

    key: str = Field(pattern=_KEY, max_length=64)
    weight: float = 1.0
    control: bool = False
    description: str = ""

    @field_validator("weight")
    @classmethod
    def _bounded_weight(cls, weight: float) -> float:
        # Weights are relative: past a million to one the smaller arm gets no
        # users, and 1e32 next to 1 is a typo, not a design.
        if not 0 < weight <= MAX_WEIGHT:
            raise ValueError(WEIGHT_RULE)
        return weight


class Assignment(_Strict):
    """Where the analysis finds who got which variant.

    ``source`` is ``exposures`` (a user counts from the first time the surface
    was seen) or ``assignments`` (from assignment). ``experiment_id`` is the id
    used in those warehouse tables; it defaults to the experiment's key.
    """

    source: Literal["exposures", "assignments"] = "exposures"
    experiment_id: str | None = None
    salt: str | None = None
    holdout: float = Field(default=0.0, ge=0.0, lt=1.0)


class Guardrail(_Strict):
    """A metric that must not get worse by more than ``margin`` (relative)."""

    metric: str
    margin: float = Field(default=0.0, ge=0.0, lt=1.0)


class MetricSet(_Strict):
    """The metrics of an experiment by role."""

    primary: tuple[str, ...] = Field(min_length=1)
    guardrails: tuple[Guardrail, ...] = ()
    secondary: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _guardrail_shorthand(cls, data: Any) -> Any:
        # A bare metric key in guardrails means a margin of zero.
        if isinstance(data, dict) and isinstance(data.get("guardrails"), list):
            data = dict(data)
            data["guardrails"] = [
                {"metric": item} if isinstance(item, str) else item
                for item in data["guardrails"]
            ]
        return data

    @model_validator(mode="after")
    def _each_metric_once(self) -> MetricSet:
        keys = [*self.primary, *(g.metric for g in self.guardrails), *self.secondary]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise _DefinitionRule(
                "metrics",
                "must list each metric once, in one role (those repeated are shown)",
                twice,
            )
        return self

    @property
    def all_keys(self) -> tuple[str, ...]:
        """Every metric key once: primary, guardrails, secondary."""
        keys = [*self.primary, *(g.metric for g in self.guardrails), *self.secondary]
        return tuple(dict.fromkeys(keys))

    def role(self, key: str) -> Literal["primary", "guardrail", "secondary"]:
        """The role of metric ``key`` (primary wins over the others)."""
        if key in self.primary:
            return "primary"
        if any(g.metric == key for g in self.guardrails):
            return "guardrail"
        return "secondary"

    def margin(self, key: str) -> float:
        """The non-inferiority margin of guardrail ``key`` (0 if none)."""
        return next((g.margin for g in self.guardrails if g.metric == key), 0.0)


class Cuped(_Strict):
    """CUPED variance reduction with the same metric over a pre-period."""

    enabled: bool = False
    pre_period_days: int = Field(default=14, ge=1, le=365)


class DecisionRule(_Strict):
    """When to ship.

    ``primary``: ``any`` (default) ships when at least one primary metric is
    significantly better, ``all`` when every one is. Guardrails must never be
    significantly worse beyond their margin.
    """

    primary: Literal["any", "all"] = "any"
    guardrails_must_hold: bool = True


class AnalysisSettings(_Strict):
    """How the statistics are computed."""

    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1.0)
    correction: Literal["none", "bonferroni", "holm", "bh"] = "none"
    sequential: bool = False
    cuped: Cuped = Cuped()
    mde: float = Field(default=0.05, gt=0.0, lt=10.0)
    srm_threshold: float = Field(default=0.001, gt=0.0, lt=0.5)
    freshness_hours: float = Field(default=36.0, gt=0.0)
    decision: DecisionRule = DecisionRule()


class ExperimentDefinition(_Strict):
    """An experiment, as read from one YAML file."""

    key: str = Field(pattern=_KEY, max_length=64)
    # Name and owner fit the store's 200-character columns.
    name: str = Field(min_length=1, max_length=200)
    hypothesis: str = ""
    owner: str = Field(default="", max_length=200)
    variants: tuple[Variant, ...] = Field(min_length=2)
    assignment: Assignment = Assignment()
    start: dt.date
    end: dt.date | None = None
    metrics: MetricSet
    slices: tuple[str, ...] = ()
    analysis: AnalysisSettings = AnalysisSettings()

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentDefinition:
        controls = [v.key for v in self.variants if v.control]
        if len(controls) != 1:
            raise _DefinitionRule(
                "variants.control",
                "must be true on exactly one variant (those marked are shown)",
                controls,
                fix="Mark the variant with today's experience control: true.",
            )
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise _DefinitionRule(
                "variants.key", "must be unique (those repeated are shown)", twice
            )
        if self.end is not None and self.end < self.start:
            raise _DefinitionRule(
                "end",
                f"must not be before start ({self.start.isoformat()})",
                self.end.isoformat(),
            )
        for column in self.slices:
            if column not in SLICE_COLUMNS:
                raise _DefinitionRule(
                    "slices",
                    "must name user properties",
                    column,
                    fix=f"Use one of: {', '.join(SLICE_COLUMNS)}.",
                )
        return self

    # Where the definition was read from, for errors found after loading (an
    # unknown metric). Not part of the definition: == and hash leave it out.
    _source: str = PrivateAttr(default="")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExperimentDefinition):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash(self.model_dump_json())

    @property
    def control(self) -> Variant:
        """The control variant."""
        return next(v for v in self.variants if v.control)

    @property
    def treatments(self) -> tuple[Variant, ...]:
        """The variants that are not the control, in definition order."""
        return tuple(v for v in self.variants if not v.control)

    @property
    def weights(self) -> dict[str, float]:
        """Each variant's share of assigned traffic (summing to 1)."""
        total = sum(v.weight for v in self.variants)
        return {v.key: v.weight / total for v in self.variants}

    @property
    def warehouse_id(self) -> str:
        """The experiment's id in the warehouse's assignment tables."""
        return self.assignment.experiment_id or self.key

    def check_metrics(self, library: MetricLibrary, where: str = "") -> None:
        """Raise a ConfigError naming the first metric key the library lacks,
        its role and the file the definition came from."""
        roles = (
            ("primary", self.metrics.primary),
            ("guardrails", tuple(g.metric for g in self.metrics.guardrails)),
            ("secondary", self.metrics.secondary),
        )
        if not where:
            where = f"experiment {self.key}"
            if self._source:
                where = f"{self._source} ({where})"
        for role, keys in roles:
            for key in keys:
                if key not in library:
                    raise ConfigError(
                        f"metrics.{role}",
                        "must name metrics of the library",
                        key,
                        where=where,
                        fix=f"Known metrics: {', '.join(library.keys())}.",
                    )


def _config_error(exc: ValidationError, where: str) -> ConfigError:
    first = exc.errors()[0]
    problem = first.get("ctx", {}).get("error")
    if isinstance(problem, _DefinitionRule):
        return ConfigError(
            problem.field,
            problem.rule,
            shown(problem.value),
            where=where,
            fix=problem.fix
            or "Correct the experiment file; docs/experiments.md lists every field.",
        )
    field = ".".join(str(part) for part in first["loc"]) or "experiment"
    message = str(first["msg"]).removeprefix("Value error, ")
    return ConfigError(
        field,
        message if message.startswith("must ") else f"must be valid ({message})",
        shown(first.get("input")),
        where=where,
        fix="Correct the experiment file; docs/experiments.md lists every field.",
    )


def load_experiment_text(text: str, where: str = "<text>") -> ExperimentDefinition:
    """Validate one experiment definition given as YAML text."""
    document = parse_definition_yaml(text, where)
    try:
        definition = ExperimentDefinition.model_validate(document)
    except ValidationError as exc:
        raise _config_error(exc, where) from None
    definition._source = where
    return definition


def load_experiment_file(path: str | Path) -> ExperimentDefinition:
    """Read and validate one experiment YAML file."""
    path = Path(path)
    return load_experiment_text(read_definition_file(path), where=str(path))


def example_experiments() -> dict[str, ExperimentDefinition]:
    """The definitions of the simulated experiments that ship with veedel."""
    package = resources.files("veedel.experiments") / "examples"
    found: dict[str, ExperimentDefinition] = {}
    for entry in sorted(package.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            where = f"veedel/experiments/examples/{entry.name}"
            definition = load_experiment_text(entry.read_text("utf-8"), where=where)
            found[definition.key] = definition
    return found


def load_experiments(
    *folders: str | Path, examples: bool = True
) -> dict[str, ExperimentDefinition]:
    """Experiments by key from the shipped examples and ``folders``."""
    found = example_experiments() if examples else {}
    # A file may replace a shipped example, but not another file.
    from_files: set[str] = set()
    for folder in folders:
        for path in sorted(Path(folder).glob("*.y*ml")):
            definition = load_experiment_file(path)
            if definition.key in from_files:
                raise ConfigError(
                    "key",
                    "must be unique across experiments",
                    definition.key,
                    where=str(path),
                    fix="Give each experiment file its own key.",
                )
            from_files.add(definition.key)
            found[definition.key] = definition
    return found


def find_experiment(
    key: str, experiments: dict[str, ExperimentDefinition]
) -> ExperimentDefinition:
    """The experiment ``key`` or a NotFoundError listing the known keys."""
    try:
        return experiments[key]
    except KeyError:
        known = ", ".join(sorted(experiments)) or "none"
        raise NotFoundError(
            f"No experiment {key!r}; known experiments: {known}."
        ) from None
