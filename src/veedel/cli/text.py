"""``veedel text``: language, nouns, entities and content labels of posts."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from veedel.cli.console import console
from veedel.cli.warehouse import WarehouseOption, open_warehouse
from veedel.errors import InputError

if TYPE_CHECKING:
    from veedel.cli.demo import DemoContext

__all__ = ["app", "demo_step"]

app = typer.Typer(
    help=(
        "Text analytics: language, nouns, entities and a content label for "
        'every post.\n\nExample: veedel text analyze "Wer kommt mit zum '
        'Flohmarkt in Köln?"'
    ),
    no_args_is_help=True,
)


class Detector(StrEnum):
    """Language detector."""

    lingua = "lingua"
    py3langid = "py3langid"


class Grouping(StrEnum):
    """Grouping of the language mix, top nouns and entities."""

    city = "city"
    channel_id = "channel_id"
    week = "week"


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DetectorOption = Annotated[
    Detector | None,
    typer.Option(
        "--detector",
        help="Language detector (default: \\[text] language_detector, lingua).",
        case_sensitive=False,
    ),
]


def _analyzer(detector: Detector | None) -> Any:
    from veedel.text import TextAnalyzer, get_text_settings

    flags = {"language_detector": detector.value if detector else None}
    return TextAnalyzer(get_text_settings(**flags))


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command("analyze")
def analyze_command(
    texts: Annotated[list[str], typer.Argument(help="One or more texts.")],
    as_json: JsonOption = False,
    detector: DetectorOption = None,
) -> None:
    """Show language, nouns, entities and content label of each text.

    Example: veedel text analyze "Verkaufe mein Fahrrad, 80 Euro VB" "Lost my
    keys near Central Park"
    """
    results = _analyzer(detector).analyze_many(texts)
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in results]))
        return
    for text, result in zip(texts, results, strict=True):
        console.rule(text[:70], style="dim")
        console.print(result)


@app.command("enrich")
def enrich_command(
    warehouse: WarehouseOption = None,
    limit: Annotated[
        int | None, typer.Option(help="Enrich at most this many posts.", min=0)
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Posts per batch [256].", min=1)
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="Only posts of this source (repeatable): reddit, "
            "stackexchange:quantumcomputing, simulator, ..."
        ),
    ] = None,
    detector: DetectorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write post_text_features for every post that has none yet.

    Reads the posts table of the warehouse and appends one row per new post
    (language and confidence, noun lemmas, entities, label and confidence).
    Posts enriched before are skipped, so it is safe to run on a schedule.

    Example: veedel text enrich --limit 1000 --source reddit
    """
    from veedel.text import enrich_posts

    con = open_warehouse(warehouse)
    analyzer = _analyzer(detector)
    with _progress() as progress:
        task = progress.add_task("Enriching posts", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = enrich_posts(
            con,
            analyzer=analyzer,
            batch_size=batch_size,
            limit=limit,
            sources=source or None,
            progress=advance,
        )
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
    else:
        console.print(result)


@app.command("report")
def report_command(
    warehouse: WarehouseOption = None,
    by: Annotated[
        Grouping,
        typer.Option(help="Group the language mix, top nouns and entities by this."),
    ] = Grouping.city,
    top: Annotated[int, typer.Option(help="Terms per group.", min=1)] = 8,
    groups: Annotated[int, typer.Option(help="Groups shown.", min=1)] = 8,
    as_json: JsonOption = False,
) -> None:
    """Language mix overall and per group, top terms per group, labels per week.

    Example: veedel text report --by channel_id --top 5
    """
    from veedel.text import build_report

    report = build_report(open_warehouse(warehouse), by.value, top, groups)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(report)


@app.command("train-labels")
def train_labels_command(
    file: Annotated[Path, typer.Argument(help="CSV with the columns text and label.")],
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the classifier "
            "[<data_dir>/text/label_model.npz or \\[text] label_model_path]."
        ),
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.", min=2)] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold shuffle.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Retrain the content-label classifier from labelled posts.

    Reports the stratified k-fold cross-validated macro-F1, then fits on all
    rows and saves the classifier, which enrich and analyze then use. Labels
    must be ids of the taxonomy.

    Example: veedel text train-labels labelled_posts.csv --folds 5
    """
    from veedel.text import get_text_settings, load_taxonomy, read_labelled_csv
    from veedel.text.analyzer import default_label_model_path
    from veedel.text.embedding import SentenceEncoder
    from veedel.text.labels import train_labels

    settings = get_text_settings()
    taxonomy = load_taxonomy(settings.taxonomy_path)
    texts, labels = read_labelled_csv(file, taxonomy)
    if len(set(labels)) < 2:
        raise InputError("labels", "must hold at least two labels", sorted(set(labels)))
    target = output or default_label_model_path(settings)
    with console.status(f"Embedding {len(texts)} posts and cross-validating"):
        scores = train_labels(
            texts, labels, SentenceEncoder(), target, n_splits=folds, seed=seed
        )
    if as_json:
        console.print_json(json.dumps({**scores.__dict__, "model": str(target)}))
        return
    table = Table(title=f"{folds}-fold cross-validated F1 ({scores.n} posts)")
    table.add_column("label")
    table.add_column("F1", justify="right")
    for label, f1 in sorted(scores.per_label_f1.items()):
        table.add_row(label, f"{f1:.3f}")
    table.add_row("[bold]macro-F1[/]", f"[bold]{scores.macro_f1:.3f}[/]")
    console.print(table)
    console.print(f"Saved the classifier to {target}.")
    unseen = sorted(set(taxonomy.ids) - set(labels))
    if unseen:
        console.print(
            f"It knows {len(set(labels))} of the taxonomy's {len(taxonomy.ids)}"
            f" labels: posts will never be labelled {', '.join(unseen)}."
        )


CorpusArgument = Annotated[
    Path,
    typer.Argument(
        help="Folder with GermEval 2014's NER-de-test.tsv and NER-de-dev.tsv."
    ),
]


def _corpus_files(corpus: Path) -> tuple[Path, Path]:
    train, evaluate = corpus / "NER-de-test.tsv", corpus / "NER-de-dev.tsv"
    for path in (train, evaluate):
        if not path.is_file():
            raise InputError(
                "corpus",
                "must be a folder holding NER-de-test.tsv and NER-de-dev.tsv",
                str(corpus),
            )
    return train, evaluate


def _print_scores(scores: Any, as_json: bool) -> None:
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "train_file": scores.train_file,
                    "eval_file": scores.eval_file,
                    "n_sentences": scores.n_sentences,
                    "overall": scores.overall.__dict__,
                    "per_type": {k: v.__dict__ for k, v in scores.per_type.items()},
                }
            )
        )
        return
    table = Table(
        title=f"NER trained on {scores.train_file}, evaluated on "
        f"{scores.eval_file} ({scores.n_sentences} sentences)"
    )
    for column in ("type", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "type" else "right")
    rows = [*sorted(scores.per_type.items()), ("all (micro)", scores.overall)]
    for name, score in rows:
        table.add_row(
            name, f"{score.precision:.3f}", f"{score.recall:.3f}", f"{score.f1:.3f}"
        )
    console.print(table)


@app.command("train-ner")
def train_ner_command(
    corpus: CorpusArgument,
    output: Annotated[
        Path | None,
        typer.Option(help="Model folder \\[the one inside the package]."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_epochs: Annotated[int, typer.Option(help="Passes over the data.", min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Train the German NER pipeline on GermEval 2014 and report its scores.

    Trains on NER-de-test.tsv (the official training file is not available;
    10 % of it is held out to choose the checkpoint) and scores the result on
    NER-de-dev.tsv. The same seed gives the same model. About 5 minutes on
    two cores.

    Example: veedel text train-ner data/germeval2014_ner --seed 0
    """
    from veedel.text import train_ner

    train, evaluate = _corpus_files(corpus)
    scores = train_ner(train, evaluate, output, seed=seed, max_epochs=max_epochs)
    _print_scores(scores, as_json)


@app.command("eval-ner")
def eval_ner_command(
    corpus: CorpusArgument,
    model: Annotated[
        Path | None, typer.Option(help="Model folder \\[the one inside the package].")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score the German NER pipeline on GermEval 2014's NER-de-dev.tsv.

    Example: veedel text eval-ner data/germeval2014_ner
    """
    from veedel.text import evaluate_ner
    from veedel.text.ner_training import default_model_dir

    _, evaluate = _corpus_files(corpus)
    _print_scores(evaluate_ner(model or default_model_dir(), evaluate), as_json)


# Simulated posts the demo enriches per run: every real post (Reddit, Stack
# Exchange) is enriched, the simulated community only up to this many, to keep
# the demo within minutes; `veedel text enrich --source simulator` does the rest.
DEMO_SIMULATED_POSTS = 3000
SIMULATED_SOURCE = "simulator"


def _demo_limit(source: str, text_posts: int | None) -> int | None:
    """The most new posts of ``source`` the demo enriches in this run."""
    if text_posts is not None:
        return text_posts
    return DEMO_SIMULATED_POSTS if source == SIMULATED_SOURCE else None


def _cap_note(text_posts: int | None, simulated: bool) -> str | None:
    """The sentence that says which posts this demo run left for later."""
    if text_posts is not None:
        return (
            f"At most {text_posts:,} new posts per source are enriched in this "
            f"run (--text-posts {text_posts}); the rest wait for the next demo "
            "run or veedel text enrich."
        )
    if not simulated:
        return None
    return (
        "Every real post is enriched; the simulated community is capped at "
        f"{DEMO_SIMULATED_POSTS:,} new posts per demo run (veedel text "
        "enrich --source simulator --limit N enriches N more; without "
        "--limit, all the rest, which takes many minutes)."
    )


def _enrichment_table(results: dict[str, Any]) -> Table:
    """One row per source, so the figures line up instead of wrapping.

    A result's ``n_already`` counts every source's posts, so it is left out of
    this per-source table.
    """
    table = Table(title="Posts enriched in this run", title_justify="left")
    table.add_column("source")
    for name in ("posts", "failed", "seconds", "posts/s"):
        table.add_column(name, justify="right")
    for source, r in results.items():
        table.add_row(
            source,
            f"{r.n_enriched:,}",
            f"{r.n_failed:,}",
            f"{r.seconds:.1f}",
            f"{r.posts_per_second:.1f}",
        )
    return table


def demo_step(ctx: DemoContext) -> None:
    """Enrich the demo posts and print the text report's highlights.

    Every post of the real sources (the Reddit city communities, the Stack
    Exchange) is enriched, and up to DEMO_SIMULATED_POSTS new posts of the
    simulator, so the report shows the real posts next to simulated ones;
    ``ctx.text_posts`` (``veedel demo --text-posts N``) caps every source at N
    new posts instead. The report is printed per city, then the language mix
    and top nouns per channel, where the real posts without a city (Stack
    Exchange, the country subreddits) show too.
    """
    from veedel.text import TextAnalyzer, build_report, enrich_posts

    posts = ctx.warehouse.table("posts")
    sources = sorted(posts.select("source").distinct().execute()["source"].dropna())
    analyzer = TextAnalyzer()
    results = {}
    with _progress() as progress:
        for source in sources:
            task = progress.add_task(f"Enriching {source} posts", total=None)

            def advance(done: int, total: int, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            results[source] = enrich_posts(
                ctx.warehouse,
                analyzer=analyzer,
                sources=[source],
                limit=_demo_limit(source, ctx.text_posts),
                progress=advance,
            )
    console.print(_enrichment_table(results))
    note = _cap_note(ctx.text_posts, SIMULATED_SOURCE in results)
    if note:
        console.print(note)

    report = build_report(ctx.warehouse, "city", n=5, max_groups=8)
    per_channel = build_report(ctx.warehouse, "channel_id", n=5, max_groups=12)
    ctx.results["text"] = {
        "enriched": {source: r.to_dict() for source, r in results.items()},
        "n_posts": report.n_posts,
    }
    console.print(report)
    console.print(per_channel.languages_by_table())
    console.print(per_channel.terms_table("nouns"))
    console.print(
        "More: veedel text report --by channel_id (or --by week); the web page /text."
    )
