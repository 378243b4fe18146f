"""``veedel images``: scan, classify, queue statistics, tuning and evaluation."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from veedel.cli.console import console
from veedel.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from veedel.cli.demo import DemoContext
    from veedel.imagefilter import ImageFilterSettings, ReviewQueue

__all__ = ["app", "demo_step"]

app = typer.Typer(
    help=(
        "Image filter: score pictures for explicit content, queue unclear ones "
        "for human review, tune thresholds.\n\n"
        "Example: veedel images scan ./uploads --out scores.csv"
    ),
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    """Format of the scan output."""

    csv = "csv"
    json = "json"


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SurfaceOption = Annotated[
    str | None,
    typer.Option(help="Surface whose thresholds apply \\[images.default_surface]."),
]


def _settings(**flags: Any) -> ImageFilterSettings:
    from veedel.imagefilter import load_settings

    return load_settings(**flags)


def _store() -> Engine:
    import veedel.imagefilter.tables  # noqa: F401  (registers the tables)
    from veedel.api.state import open_store
    from veedel.settings import get_settings

    return open_store(get_settings().resolved_store_url())


def _progress(disable: bool = False) -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
    )


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@app.command("scan")
def scan_command(
    folder: Annotated[Path, typer.Argument(help="Folder of images (recursive).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output file, appended to.")
    ] = Path("image-scores.csv"),
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", help="csv, or json (JSON Lines, one object a line)."),
    ] = OutputFormat.csv,
    surface: SurfaceOption = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per model call \\[images.batch_size].")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume/--restart", help="Skip files already in --out."),
    ] = True,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue/--no-queue",
            help="Store every decision and queue images for review in the store.",
        ),
    ] = False,
) -> None:
    """Score every image under FOLDER and write one record per file.

    Each record has the score, the action (allow, review, block) or the error
    code of a file that cannot be decoded. Interrupted, the same command picks
    up where it stopped (--restart starts over).

    Example: veedel images scan ./uploads --out scores.csv --queue
    """
    from veedel.imagefilter import scan_folder

    # Checked before the model loads, so a mistyped folder is one clear line.
    if not folder.is_dir():
        raise InputError("DIR", "must be an existing folder", str(folder))
    settings = _settings(batch_size=batch_size)
    surface = surface or settings.default_surface
    scanner = settings.scanner(surface)
    review_queue = settings.queue(_store()) if queue else None
    counts: Counter[str] = Counter()

    with _progress() as progress:
        task = progress.add_task("Scanning", total=None)

        def started(total: int, skipped: int) -> None:
            progress.update(task, total=total, completed=skipped)

        def recorded(record: Any, verdict: Any, path: Path) -> None:
            counts[record.action or f"error: {record.error}"] += 1
            if review_queue is not None and verdict is not None:
                # Unique: a resumed scan meets again the files whose records
                # were still in the buffer when it was killed.
                review_queue.submit(
                    verdict,
                    path.read_bytes(),
                    ref=str(path),
                    media_type=_media_type(path),
                    unique=True,
                )
            progress.advance(task)

        scanned, skipped = scan_folder(
            folder,
            out,
            scanner,
            fmt=fmt.value,
            resume=resume,
            on_record=recorded,
            on_start=started,
        )

    if scanned + skipped == 0:
        from veedel.imagefilter.evaluation import IMAGE_SUFFIXES

        kinds = ", ".join(sorted(IMAGE_SUFFIXES))
        console.print(
            f"No images found in {escape(str(folder))} "
            f"(looked for {kinds} files, subfolders included)."
        )
        return
    console.print(f"{scanned} scanned, {skipped} already in {out}")
    table = Table()
    table.add_column("outcome")
    table.add_column("files", justify="right")
    for outcome, count in sorted(counts.items()):
        table.add_row(outcome, str(count))
    console.print(table)


@app.command("classify")
def classify_command(
    file: Annotated[Path, typer.Argument(help="One image file.")],
    surface: SurfaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score one image and show the action its surface's thresholds give.

    Example: veedel images classify photo.jpg --surface profile_picture
    """
    from veedel.imagefilter import read_image_file

    if not file.is_file():
        raise InputError("FILE", "must be an existing file", str(file))
    settings = _settings()
    image = read_image_file(file, settings.limits())
    classifier = settings.classifier()
    score = float(classifier.score([image])[0])
    verdict = settings.policy().decide(
        score, surface or settings.default_surface, classifier.model_version
    )
    data = verdict.to_dict() | {"file": str(file), "frames": len(image.frames)}
    if as_json:
        console.print_json(json.dumps(data))
        return
    colour = {"allow": "green", "review": "yellow", "block": "red"}[data["action"]]
    console.print(
        f"{escape(str(file))}: score [bold]{score:.4f}[/] → "
        f"[bold {colour}]{data['action']}[/] "
        f"on {data['surface']} (review ≥ {data['review_threshold']}, "
        f"block ≥ {data['block_threshold']}; {data['model_version']})"
    )


@app.command("stats")
def stats_command(as_json: JsonOption = False) -> None:
    """Queue size, decisions per reviewer, agreement and estimated error rates.

    Example: veedel images stats --json
    """
    from veedel.imagefilter import queue_stats

    stats = queue_stats(_store())
    if as_json:
        console.print_json(json.dumps(stats.to_dict(), default=str))
        return

    queue = Table(title="Review queue")
    for column in ("kind", "open", "held", "decided"):
        queue.add_column(column, justify="right" if column != "kind" else "left")
    for kind, counts in sorted(stats.by_kind.items()):
        queue.add_row(kind, *(str(counts[c]) for c in ("open", "held", "decided")))
    queue.add_row("all", str(stats.open), str(stats.held), str(stats.decided))
    console.print(queue)

    reviewers = Table(title="Decisions per reviewer")
    for column in ("reviewer", "decisions", "approve", "reject"):
        reviewers.add_column(column)
    for name, row in sorted(stats.reviewers.items()):
        reviewers.add_row(
            name, *(str(row[c]) for c in ("decisions", "approve", "reject"))
        )
    if not stats.reviewers:
        reviewers.add_row("[dim]no decisions yet: reviewers work /review[/]")
    console.print(reviewers)

    kappa = stats.agreement
    console.print(
        f"Agreement of second reviews: {kappa.n_pairs} pairs, observed "
        f"{_number(kappa.observed)}, Cohen's kappa {_number(kappa.kappa)}"
        + (f" ({kappa.reason_text})" if kappa.reason_text else "")
    )
    for label, rate in (
        ("Allowed but unsafe (audit)", stats.allowed_but_unsafe),
        ("Blocked but safe (audit)", stats.blocked_but_safe),
    ):
        interval = (
            f" [95 % {_number(rate.low)}–{_number(rate.high)}]"
            if rate.rate is not None
            else f" ({rate.reason_text})"
        )
        console.print(
            f"{label}: {rate.errors}/{rate.n} = {_number(rate.rate)}{interval}"
        )


@app.command("tune")
def tune_command(
    target_precision: Annotated[
        float, typer.Option(help="Least share of unsafe among blocked.", min=0, max=1)
    ] = 0.95,
    target_miss_rate: Annotated[
        float, typer.Option(help="Most share of unsafe that is allowed.", min=0, max=1)
    ] = 0.05,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="CSV with score,label[,weight] (label 1 = unsafe) "
            "instead of the reviewers' decisions in the store."
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write the trade-off plot: .json (Vega-Lite) or .png."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Find the thresholds that meet both targets with the least review work.

    Labels are the reviewers' first decisions (reject = unsafe), weighted by
    the inverse of each image's chance to be queued, so audit samples stand for
    all automatic decisions.

    Example: veedel images tune --target-precision 0.9 --target-miss-rate 0.02
    --plot tuning.json
    """
    from veedel.imagefilter import review_labels, tradeoff, tune_thresholds

    data: tuple[Any, Any, Any] = (
        _read_labels(labels) if labels is not None else review_labels(_store())
    )
    scores, classes, weights = data
    if len(scores) == 0:
        raise InputError(
            "labels",
            "must hold at least one reviewed image",
            0,
            fix="Review images first (veedel images scan --queue, then /review).",
        )
    result = tune_thresholds(
        scores,
        classes,
        weights,
        target_block_precision=target_precision,
        target_allow_miss_rate=target_miss_rate,
    )
    if plot is not None:
        result.write_plot(plot)
    if as_json:
        summary = result.to_dict() | {
            "table": result.table(),
            "tradeoff": tradeoff(scores, classes, weights),
        }
        console.print_json(json.dumps(summary))
        return

    table = Table(
        title=f"Trade-off by threshold ({result.n} labels, {result.n_unsafe} unsafe)"
    )
    for column in (
        "threshold",
        "at or above",
        "block precision",
        "miss rate",
        "review share",
    ):
        table.add_column(column, justify="right")
    for row in result.table(steps=10):
        table.add_row(
            *(
                _number(row[key])
                for key in (
                    "threshold",
                    "share_at_or_above",
                    "block_precision",
                    "allow_miss_rate",
                    "review_share",
                )
            )
        )
    console.print(table)
    verdict = (
        "[green]both targets met[/]"
        if result.feasible
        else ("[red]not met: " + "; ".join(result.reason_texts) + "[/]")
    )
    console.print(
        f"Review ≥ [bold]{result.thresholds.review:.4f}[/], block ≥ "
        f"[bold]{result.thresholds.block:.4f}[/]: review share "
        f"{result.review_share:.3f}, block precision "
        f"{_number(result.block_precision)}, miss rate "
        f"{_number(result.allow_miss_rate)} — {verdict}"
    )
    if plot is not None:
        console.print(f"Plot written to {plot}")


@app.command("evaluate")
def evaluate_command(
    folder: Annotated[Path, typer.Argument(help="Folder with safe/ and unsafe/.")],
    fpr: Annotated[
        float, typer.Option(help="False-positive rate for the recall.", min=0, max=1)
    ] = 0.01,
    surface: SurfaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """ROC AUC, recall at a false-positive rate, and shares at the thresholds.

    Example: veedel images evaluate ./labelled --fpr 0.05
    """
    from veedel.imagefilter import ERROR_CODES, evaluate_folder
    from veedel.imagefilter.evaluation import labelled_images

    settings = _settings()
    thresholds = settings.policy().thresholds(surface or settings.default_surface)
    total = len(labelled_images(folder))
    classifier = settings.classifier()
    with _progress(disable=as_json) as progress:
        task = progress.add_task("Scoring", total=total)
        result = evaluate_folder(
            folder,
            classifier,
            thresholds,
            target_fpr=fpr,
            limits=settings.limits(),
            on_image=lambda _: progress.advance(task),
        )
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
        return
    table = Table(title=f"{result.n_safe} safe, {result.n_unsafe} unsafe images")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("ROC AUC", _number(result.roc_auc)),
        (f"recall at FPR {fpr:g}", _number(result.recall_at_fpr)),
        ("threshold for that FPR", _number(result.threshold_at_fpr, 4)),
        ("allowed share", _number(result.allow_share)),
        ("review share", _number(result.review_share)),
        ("blocked share", _number(result.block_share)),
        ("block precision", _number(result.block_precision)),
        ("allow miss rate", _number(result.allow_miss_rate)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for text in result.to_dict()["reasons"].values():
        console.print(f"[dim]{text}[/]")
    for path, code in result.errors:
        console.print(f"[yellow]skipped {escape(str(path))}: {ERROR_CODES[code]}[/]")


def demo_step(ctx: DemoContext) -> None:
    """Scan a few benign sample photos and show the decisions.

    The photos are scikit-learn's two sample images and variants of them
    (greyscale, rotated by EXIF, WebP, an animated GIF) and one broken file.
    Every photo also goes to the review queue as a blind audit sample, so the
    reviewer page has work to show.
    """
    from veedel.imagefilter import scan_folder

    folder = ctx.data_dir / "images-demo"
    _write_demo_photos(folder)
    settings = _settings()
    queue = _demo_queue(ctx.store, settings)
    scanner = settings.scanner()
    table = Table(title="Image filter on benign sample photos")
    for column in ("file", "score", "action / error", "queued as"):
        table.add_column(column)

    def recorded(record: Any, verdict: Any, path: Path) -> None:
        kind = "–"
        if verdict is not None:
            kind = (
                queue.submit(
                    verdict,
                    path.read_bytes(),
                    ref=str(path),
                    media_type=_media_type(path),
                    # A second demo run finds its photos already queued.
                    unique=True,
                ).kind
                or "–"
            )
        table.add_row(
            record.path, _number(record.score, 4), record.action or record.error, kind
        )

    out = ctx.data_dir / "images-demo-scores.csv"
    scan_folder(folder, out, scanner, resume=False, on_record=recorded)
    console.print(table)
    console.print(f"Scores written to {out}; review them at /review.")
    ctx.results["images"] = {"scores": str(out)}


def _demo_queue(engine: Engine, settings: ImageFilterSettings) -> ReviewQueue:
    from veedel.imagefilter import ReviewQueue

    return ReviewQueue(
        engine,
        lease_seconds=settings.lease_seconds,
        audit_allow_share=1.0,
        audit_block_share=1.0,
        second_review_share=settings.second_review_share,
    )


def _write_demo_photos(folder: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder.mkdir(parents=True, exist_ok=True)
    china, flower = (Image.fromarray(array) for array in load_sample_images().images)
    china.save(folder / "china.jpg", quality=90)
    flower.save(folder / "flower.webp", quality=85)
    china.convert("L").save(folder / "china-grey.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    flower.save(folder / "flower-rotated.jpg", exif=exif, quality=90)
    small = [image.resize((160, 120)) for image in (china, flower)]
    small[0].save(
        folder / "slideshow.gif",
        save_all=True,
        append_images=small[1:],
        duration=500,
        loop=0,
    )
    (folder / "broken.jpg").write_bytes((folder / "china.jpg").read_bytes()[:2000])


def _media_type(path: Path) -> str:
    return {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".webp": "image/webp",
        ".gif": "image/gif",
    }.get(path.suffix.lower(), "application/octet-stream")


def _read_labels(path: Path) -> tuple[list[float], list[int], list[float]]:
    if not path.is_file():
        raise InputError("--labels", "must be an existing CSV file", str(path))
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    if reader.fieldnames is None or not {"score", "label"} <= set(reader.fieldnames):
        raise InputError(
            "--labels", "must have the columns score and label", reader.fieldnames
        )
    scores, labels, weights = [], [], []
    for number, row in enumerate(reader, start=2):
        try:
            scores.append(float(row["score"]))
            labels.append(int(row["label"]))
            weights.append(float(row.get("weight") or 1.0))
        except ValueError:
            raise InputError(
                f"--labels line {number}", "must hold numbers", row
            ) from None
    return scores, labels, weights
