"""``veedel experiments``: define, bucket, plan and analyse experiments.

Experiments come from the definitions shipped with veedel (the simulated
experiments), the YAML files in ``<data_dir>/experiments/`` and the
application store; metrics from the starter library and
``<data_dir>/metrics/``.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from veedel.cli.console import console
from veedel.errors import InputError
from veedel.log import quiet_info
from veedel.settings import get_settings

if TYPE_CHECKING:
    from veedel.cli.demo import DemoContext
    from veedel.experiments.definitions import ExperimentDefinition
    from veedel.experiments.metrics import MetricLibrary
    from veedel.experiments.results import Verdict

__all__ = ["app", "demo_step"]

app = typer.Typer(
    help=(
        "Define, bucket, plan and analyse experiments in the warehouse.\n\n"
        "Example: veedel experiments analyze feed_ranking_v2"
    ),
    no_args_is_help=True,
)


class SummaryFormat(StrEnum):
    """How ``plan`` and ``real-data`` print their answer."""

    table = "table"
    json = "json"


class ResultFormat(StrEnum):
    """How ``analyze`` prints its result."""

    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


class Archive(StrEnum):
    """The real experiment archives shipped with veedel."""

    asos = "asos"
    upworthy = "upworthy"


WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="Warehouse URL (default: VEEDEL_WAREHOUSE_URL, veedel.toml, data folder).",
        show_default=False,
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Application store URL (default: the settings').",
                 show_default=False),
]  # fmt: skip


def _library() -> MetricLibrary:
    from veedel.experiments.metrics import load_metrics

    folder = get_settings().data_dir / "metrics"
    return load_metrics(folder) if folder.is_dir() else load_metrics()


def _experiments(store: str | None = None) -> dict[str, ExperimentDefinition]:
    from veedel.experiments.definitions import load_experiments

    folder = get_settings().data_dir / "experiments"
    found = load_experiments(folder) if folder.is_dir() else load_experiments()
    for definition in _stored_definitions(store):
        found.setdefault(definition.key, definition)
    return found


def _stored_definitions(store: str | None) -> list[ExperimentDefinition]:
    from sqlalchemy.exc import SQLAlchemyError

    from veedel.experiments.store import list_definitions

    try:
        return list_definitions(_store_engine(store))
    except SQLAlchemyError:
        return []  # no store yet: only the files count


def _store_engine(store: str | None) -> Any:
    from veedel.store import get_engine, init_store

    engine = get_engine(get_settings(store_url=store).resolved_store_url())
    import veedel.experiments.store  # noqa: F401  (declares the tables)

    init_store(engine)
    return engine


def _quiet_stdout(machine_output: bool) -> None:
    """Keep INFO logs off stdout when stdout carries JSON, CSV or HTML."""
    if machine_output:
        quiet_info()


def _warehouse(url: str | None) -> Any:
    from veedel.cli.warehouse import open_warehouse

    return open_warehouse(url)


@app.command("list")
def list_command(store: StoreOption = None) -> None:
    """List the experiments veedel knows, with variants, dates and metrics.

    Example: veedel experiments list
    """
    # Four columns, key, name and owner stacked, so 80 columns cut nothing;
    # primary metrics and each verdict's sentence follow the table, where
    # they have the full width.
    experiments = sorted(_experiments(store).items())
    widest = max((len(key) for key, _ in experiments), default=10)
    table = Table(title="Experiments", title_justify="left")
    table.add_column("experiment", overflow="fold", min_width=min(widest, 30))
    table.add_column("variants", overflow="fold")
    table.add_column("dates", no_wrap=True)
    table.add_column("verdict", overflow="fold")
    verdicts = _latest_verdicts(store)
    for key, definition in experiments:
        variants = "\n".join(
            f"{v.key} {share:.0%}" for v, share in
            zip(definition.variants, definition.weights.values(), strict=True)
        )  # fmt: skip
        experiment = Text(key, style="bold")
        experiment.append(f"\n{definition.name}\n")
        experiment.append(definition.owner, style="dim")
        label, _, as_of = verdicts.get(key, ("not analysed yet", "", ""))
        table.add_row(
            experiment,
            variants,
            f"{definition.start.isoformat()}\n"
            f"to {definition.end.isoformat() if definition.end else 'open'}",
            Text(label + (f"\nas of {as_of}" if as_of else "")),
        )
    console.print(table)
    for key, definition in experiments:
        _, sentence, _ = verdicts.get(key, ("", "not analysed yet", ""))
        primary = ", ".join(definition.metrics.primary)
        console.print(
            Text.assemble((key, "bold"), f" (primary: {primary}): {sentence}")
        )


def _latest_verdicts(store: str | None) -> dict[str, tuple[str, str, str]]:
    """Each stored experiment's newest verdict: label, sentence, as-of date."""
    from sqlalchemy.exc import SQLAlchemyError

    from veedel.experiments.store import latest_result, list_results

    try:
        engine = _store_engine(store)
        keys = {row[1] for row in list_results(engine)}
        results = [latest_result(engine, key) for key in sorted(keys)]
    except SQLAlchemyError:
        return {}  # no store yet: nothing analysed
    return {
        result.key: (
            result.verdict.label,
            result.verdict.sentence,
            str(result.as_of),
        )
        for result in results
    }


@app.command("show")
def show_command(key: str, store: StoreOption = None) -> None:
    """Show an experiment's definition and the metrics it uses, as YAML.

    Example: veedel experiments show push_notifications
    """
    from veedel.experiments.definitions import find_experiment

    definition = find_experiment(key, _experiments(store))
    library = _library()
    definition.check_metrics(library)
    document = {
        "experiment": definition.model_dump(mode="json"),
        "metrics": {
            name: library[name].model_dump(mode="json", exclude_defaults=True)
            for name in definition.metrics.all_keys
        },
    }
    # Plain print: Rich would wrap long lines (and read [brackets] as markup),
    # and the output must stay YAML that reads back.
    print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")


def _check_writable(output: Path) -> None:
    """Refuse an --output path that cannot be written, before any analysis."""
    if output.is_dir() or not output.parent.is_dir():
        raise InputError(
            "--output",
            "must be a file in an existing folder",
            str(output),
            fix="Create the folder first, or give a file name.",
        )


def _parse_date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(field, "must be a date such as 2025-02-16", value) from None


@app.command("analyze")
def analyze_command(
    key: str,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Last day of data (YYYY-MM-DD); default: the last event."
        ),
    ] = None,
    output_format: Annotated[
        ResultFormat,
        typer.Option(
            "--format", "-f", help="table, json, csv or html.", case_sensitive=False
        ),
    ] = ResultFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead.")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Store the result in the store.")
    ] = True,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Analyse an experiment in the warehouse: health checks, verdict, metrics.

    Example: veedel experiments analyze feed_ranking_v2 --as-of 2025-02-10 -f html -o report.html
    """  # noqa: E501
    from veedel.experiments.analysis import analyze
    from veedel.experiments.definitions import find_experiment
    from veedel.experiments.store import save_definition, save_result

    _quiet_stdout(output_format != ResultFormat.table and output is None)
    definition = find_experiment(key, _experiments(store))
    if output is not None:
        _check_writable(output)
    with console.status(f"Analysing {key} in the warehouse"):
        result = analyze(
            _warehouse(warehouse), definition, _library(), _parse_date(as_of, "--as-of")
        )
    if save:
        engine = _store_engine(store)
        save_definition(engine, definition)
        save_result(engine, result)

    rendered = {
        ResultFormat.json: lambda: result.to_json(indent=2),
        ResultFormat.csv: result.to_csv,
        ResultFormat.html: result.to_html,
    }
    if output_format == ResultFormat.table:
        if output is not None:
            output.write_text(result.to_json(indent=2), encoding="utf-8")
        console.print(result)
        return
    text = rendered[output_format]()
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            # /proc, a full disk, a read-only mount: found only on writing.
            raise InputError(
                "--output",
                "must be a file that can be written",
                str(output),
                fix=f"The system said: {exc.strerror}. Give another path.",
            ) from None
        console.print(Text(f"Wrote {output}"))
    else:
        print(text)


@app.command("plan")
def plan_command(
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric key.")],
    mde: Annotated[
        float, typer.Option(help="Smallest change worth detecting (0.05 = 5%).")
    ] = 0.05,
    absolute: Annotated[
        bool, typer.Option("--absolute", help="MDE in the metric's unit, not relative.")
    ] = False,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power.")] = 0.8,
    weights: Annotated[
        str, typer.Option(help="Traffic split, e.g. 50,50 or 70,30.")
    ] = "50,50",
    lookback: Annotated[
        int, typer.Option(help="Days of warehouse history to plan from.")
    ] = 28,
    output_format: Annotated[
        SummaryFormat,
        typer.Option("--format", "-f", help="table or json.", case_sensitive=False),
    ] = SummaryFormat.table,
    warehouse: WarehouseOption = None,
) -> None:
    """Users per variant and days needed to detect an MDE, from the warehouse.

    Example: veedel experiments plan --metric day7_retention --mde 0.05
    """
    from veedel.experiments.planning import plan_from_history

    _quiet_stdout(output_format == SummaryFormat.json)
    try:
        split = tuple(float(part) for part in weights.split(","))
    except ValueError:
        raise InputError(
            "--weights", "must be numbers separated by commas", weights
        ) from None
    result = plan_from_history(
        _warehouse(warehouse), metric, mde, relative=not absolute, alpha=alpha,
        power=power, weights=split, lookback_days=lookback, library=_library(),
    )  # fmt: skip
    if output_format == SummaryFormat.json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    console.print(result.sentence)


@app.command("assign")
def assign_command(user_id: str, key: str, store: StoreOption = None) -> None:
    """The variant a user gets in an experiment (deterministic, salted hash).

    Example: veedel experiments assign u000123 feed_ranking_v2
    """
    from veedel.experiments.definitions import find_experiment
    from veedel.experiments.randomisation import assign

    definition = find_experiment(key, _experiments(store))
    salt = definition.assignment.salt or definition.warehouse_id
    weights = {v.key: v.weight for v in definition.variants}
    print(assign(user_id, salt, weights, definition.assignment.holdout))


@app.command("real-data")
def real_data_command(
    archive: Archive,
    path: Annotated[
        Path | None, typer.Option(help="Another copy of the parquet file.")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    output_format: Annotated[
        SummaryFormat,
        typer.Option("--format", "-f", help="table or json.", case_sensitive=False),
    ] = SummaryFormat.table,
) -> None:
    """Analyse a real experiment archive: asos (fixed vs sequential) or upworthy.

    Example: veedel experiments real-data asos
    """
    _quiet_stdout(output_format == SummaryFormat.json)
    summary = _real_data(archive, path, alpha)
    if output_format == SummaryFormat.json:
        print(json.dumps(summary.to_dict(), indent=2))
        return
    console.print(summary)


def _real_data(archive: Archive, path: Path | None, alpha: float) -> Any:
    from veedel.experiments import real_data

    if archive == Archive.asos:
        return real_data.analyze_asos(real_data.load_asos(path), alpha)
    return real_data.analyze_upworthy(real_data.load_upworthy(path), alpha)


def summary_row(key: str, verdict: Verdict) -> tuple[str, str, str]:
    """One line of a summary table: key, verdict label, and why.

    The why is the verdict's sentence and the sentence of the metric that
    decided it (the verdict lists that one first).
    """
    why = verdict.explanation
    if verdict.reasons and verdict.reasons[0] not in why:
        why += "\n" + verdict.reasons[0]
    return key, verdict.label, why


# The demo table's verdict for an experiment the warehouse cannot analyse.
NOT_ANALYSED = "not analysed"


def demo_step(ctx: DemoContext) -> None:
    """Analyse the simulated experiments and the full ASOS and Upworthy sets."""
    import veedel.experiments.store  # noqa: F401  (declares the tables)
    from veedel.experiments.analysis import analyze
    from veedel.experiments.definitions import example_experiments
    from veedel.experiments.store import save_definition, save_result
    from veedel.store import init_store

    init_store(ctx.store)
    library = _library()
    out = ctx.data_dir / "experiments-reports"
    out.mkdir(parents=True, exist_ok=True)
    definitions = example_experiments()
    summary = Table(title="Simulated experiments", title_justify="left")
    for name in ("experiment", "verdict", "why"):
        summary.add_column(name)
    not_analysed: list[str] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Analysing experiments", total=len(definitions) + 2)
        for key, definition in definitions.items():
            try:
                result = analyze(ctx.warehouse, definition, library)
            except InputError as exc:
                # One experiment the warehouse cannot analyse (it starts after
                # the last simulated day) gets its reason; the others still run.
                summary.add_row(key, NOT_ANALYSED, Text(str(exc)))
                not_analysed.append(key)
                progress.advance(task)
                continue
            save_definition(ctx.store, definition)
            save_result(ctx.store, result)
            (out / f"{key}.html").write_text(result.to_html(), encoding="utf-8")
            summary.add_row(*summary_row(key, result.verdict))
            progress.advance(task)
        asos = _real_data(Archive.asos, None, 0.05)
        progress.advance(task)
        upworthy = _real_data(Archive.upworthy, None, 0.05)
        progress.advance(task)
    console.print(summary)
    if not_analysed:
        console.print(
            f"An experiment {NOT_ANALYSED} does not fit the {ctx.days} simulated "
            "days (see why); the default of --days fits every one."
        )
    console.print(asos)
    console.print(upworthy)
    ctx.results["experiments"] = {
        "reports": str(out),
        "asos": {k: v for k, v in asos.to_dict().items() if k != "records"},
        "upworthy": {k: v for k, v in upworthy.to_dict().items() if k != "records"},
    }
