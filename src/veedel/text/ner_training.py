"""Train and evaluate the German named-entity recogniser from GermEval 2014.

The GermEval 2014 official training file is not available to the project, so
the shipped model is trained on ``NER-de-test.tsv`` and evaluated on
``NER-de-dev.tsv``. Every figure reported from this module says so.

Only the outer annotation layer is used, with the four base types PER, LOC, ORG
and OTH. Derived and part tags (``LOCderiv`` as in "deutsche", ``ORGpart`` as in
"EU-Kommission") are read as "no entity": a community app asks who and where,
not which adjective derives from a place.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veedel.errors import DataError, InputError

__all__ = [
    "ENTITY_TYPES",
    "GermEvalSentence",
    "NerScores",
    "TypeScore",
    "default_model_dir",
    "evaluate_ner",
    "read_germeval",
    "train_ner",
]

logger = logging.getLogger(__name__)

ENTITY_TYPES: tuple[str, ...] = ("PER", "LOC", "ORG", "OTH")


def default_model_dir() -> Path:
    """Return the folder inside the package that holds the shipped model."""
    return Path(__file__).parent / "models" / "ner_de"


@dataclass(frozen=True)
class GermEvalSentence:
    """One sentence of GermEval 2014: its tokens and their outer IOB tags."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TypeScore:
    """Precision, recall and F1 of one entity type (or of all types)."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class NerScores:
    """Entity-level scores of a model on one evaluation file.

    Attributes
    ----------
    overall : TypeScore
        Micro-averaged over all entity types.
    per_type : dict of str to TypeScore
        One score per entity type.
    n_sentences : int
        Sentences evaluated.
    train_file, eval_file : str
        File names the model was trained and evaluated on.
    """

    overall: TypeScore
    per_type: dict[str, TypeScore]
    n_sentences: int
    train_file: str
    eval_file: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_markdown(self) -> str:
        """Render the scores as a Markdown table naming the files used."""
        lines = [
            f"Trained on `{self.train_file}`, evaluated on `{self.eval_file}` "
            f"({self.n_sentences} sentences), exact entity spans.",
            "",
            "| type | precision | recall | F1 |",
            "|---|---|---|---|",
        ]
        rows = [*sorted(self.per_type.items()), ("all (micro)", self.overall)]
        for name, score in rows:
            lines.append(
                f"| {name} | {score.precision:.3f} | {score.recall:.3f} "
                f"| {score.f1:.3f} |"
            )
        return "\n".join(lines)


def _base_tag(tag: str) -> str:
    """Map a GermEval outer tag to O or B-/I- of a base type."""
    if tag == "O" or "-" not in tag:
        return "O"
    prefix, kind = tag.split("-", 1)
    if kind not in ENTITY_TYPES or prefix not in ("B", "I"):
        return "O"
    return f"{prefix}-{kind}"


def _repair_iob(tags: list[str]) -> list[str]:
    """Turn an I- tag that does not continue its type into a B- tag."""
    repaired: list[str] = []
    for tag in tags:
        previous = repaired[-1] if repaired else "O"
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        repaired.append(tag)
    return repaired


def read_germeval(path: str | Path) -> list[GermEvalSentence]:
    """Read a GermEval 2014 TSV file into sentences with base-type IOB tags.

    Parameters
    ----------
    path
        A file in the GermEval 2014 format: comment lines starting with ``#``,
        one token a line as ``index<TAB>token<TAB>outer<TAB>nested``, and a
        blank line after each sentence.

    Returns
    -------
    list of GermEvalSentence
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "path", "must be an existing GermEval 2014 TSV file", str(path)
        )
    return list(_iter_sentences(path))


def _iter_sentences(path: Path) -> Iterator[GermEvalSentence]:
    words: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                if words:
                    yield GermEvalSentence(tuple(words), tuple(_repair_iob(tags)))
                words, tags = [], []
                continue
            columns = line.split("\t")
            if len(columns) < 3:
                raise DataError(
                    "line",
                    "must have at least three tab-separated columns",
                    line,
                    where=f"{path.name}:{number}",
                )
            words.append(columns[1])
            tags.append(_base_tag(columns[2]))
    if words:
        yield GermEvalSentence(tuple(words), tuple(_repair_iob(tags)))


def write_notice(target: Path, train_file: str, seed: int) -> None:
    """Write the attribution the CC BY 4.0 licence of GermEval 2014 asks for."""
    (target / "NOTICE.md").write_text(
        f"""# German NER pipeline of veedel

Trained by `veedel text train-ner` (seed {seed}) on `{train_file}` of the
GermEval 2014 NER shared task corpus (NoSta-D), by Darina Benikova, Chris
Biemann and Marc Reznicek, licensed under CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). The model weights are derived
from that corpus and are shared under the same licence, with this attribution.
""",
        encoding="utf-8",
    )
    meta_path = target / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta.update(
            name="veedel_ner_de",
            license="CC BY 4.0",
            sources=[{"name": "GermEval 2014 NER", "license": "CC BY 4.0"}],
        )
        meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _to_docbin(sentences: list[GermEvalSentence], target: Path) -> None:
    import spacy
    from spacy.tokens import Doc, DocBin

    nlp = spacy.blank("de")
    bin_ = DocBin(attrs=["ENT_IOB", "ENT_TYPE"])
    for sentence in sentences:
        doc = Doc(nlp.vocab, words=list(sentence.words), ents=list(sentence.tags))
        bin_.add(doc)
    bin_.to_disk(target)


def _training_config(seed: int, max_epochs: int, width: int, dropout: float) -> str:
    # A CPU-sized pipeline: hashed embeddings and a small CNN, no static vectors,
    # so the model stays a few MB and trains in minutes on two cores.
    return f"""
[paths]
train = null
dev = null
vectors = null
init_tok2vec = null

[system]
gpu_allocator = null
seed = {seed}

[nlp]
lang = "de"
pipeline = ["tok2vec", "ner"]
batch_size = 256

[nlp.tokenizer]
@tokenizers = "spacy.Tokenizer.v1"

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {width}
depth = 4
window_size = 1
maxout_pieces = 3

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = true

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = {width}
upstream = "*"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${{system.seed}}
gpu_allocator = ${{system.gpu_allocator}}
dropout = {dropout}
accumulate_gradient = 1
patience = 2000
max_epochs = {max_epochs}
max_steps = 0
eval_frequency = 200
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2

[training.batcher.size]
@schedules = "compounding.v1"
start = 100
stop = 1000
compound = 1.001

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.001
L2 = 0.01
grad_clip = 1.0

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.score_weights]
ents_f = 1.0
ents_p = 0.0
ents_r = 0.0

[initialize]
vectors = null
init_tok2vec = null
vocab_data = null
lookups = null
before_init = null
after_init = null
"""


def train_ner(
    train_path: str | Path,
    eval_path: str | Path,
    output_dir: str | Path | None = None,
    *,
    seed: int = 0,
    max_epochs: int = 20,
    width: int = 64,
    holdout: float = 0.1,
    dropout: float = 0.1,
) -> NerScores:
    """Train the German NER pipeline and write it to ``output_dir``.

    Parameters
    ----------
    train_path
        GermEval 2014 file to train on (the project uses ``NER-de-test.tsv``,
        because the official training file is not available).
    eval_path
        GermEval 2014 file the saved model is scored on (the project uses
        ``NER-de-dev.tsv``). It plays no part in training or in choosing the
        checkpoint.
    output_dir
        Target folder; by default the model folder inside the package.
    seed
        Seed of spaCy's and numpy's random generators; the same seed, data
        and library versions give the same model.
    max_epochs
        Passes over the training file; training also stops after 2,000 steps
        without a better dev F1.
    width
        Width of the token vectors; the model size grows linearly with it.
    holdout
        Share of the training sentences (drawn with ``seed``) held out to
        choose the best checkpoint.
    dropout
        Dropout rate while training.

    Returns
    -------
    NerScores
        Scores of the saved model on ``eval_path``.
    """
    from spacy.cli.train import train as spacy_train

    if max_epochs < 1:
        raise InputError("max_epochs", "must be at least 1", max_epochs)
    if not 0.0 < holdout < 0.5:
        raise InputError("holdout", "must be between 0 and 0.5", holdout)
    target = Path(output_dir) if output_dir is not None else default_model_dir()
    sentences = read_germeval(train_path)
    read_germeval(eval_path)  # fail before training if the file is unusable

    # Checkpoints are chosen on sentences held out of the training file, so
    # the evaluation file stays unseen until the final score.
    order = random.Random(seed).sample(range(len(sentences)), len(sentences))
    n_holdout = max(1, round(holdout * len(sentences)))
    dev_sentences = [sentences[i] for i in sorted(order[:n_holdout])]
    train_sentences = [sentences[i] for i in sorted(order[n_holdout:])]
    logger.info(
        "training NER on %d sentences of %s, choosing checkpoints on %d held out",
        len(train_sentences),
        Path(train_path).name,
        len(dev_sentences),
    )

    with tempfile.TemporaryDirectory(prefix="veedel-ner-") as scratch:
        work = Path(scratch)
        _to_docbin(train_sentences, work / "train.spacy")
        _to_docbin(dev_sentences, work / "dev.spacy")
        config_path = work / "config.cfg"
        config_path.write_text(_training_config(seed, max_epochs, width, dropout))
        overrides = {
            "paths.train": str(work / "train.spacy"),
            "paths.dev": str(work / "dev.spacy"),
        }
        spacy_train(config_path, work / "out", overrides=overrides, use_gpu=-1)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(work / "out" / "model-best", target)
    write_notice(target, Path(train_path).name, seed)
    logger.info("wrote NER model to %s", target)

    return evaluate_ner(target, eval_path, train_file=Path(train_path).name)


def evaluate_ner(
    model_dir: str | Path,
    eval_path: str | Path,
    *,
    train_file: str = "NER-de-test.tsv",
    limit: int | None = None,
) -> NerScores:
    """Score a trained pipeline on a GermEval 2014 file, entity by entity.

    Parameters
    ----------
    model_dir
        Folder of a spaCy pipeline with an ``ner`` component.
    eval_path
        GermEval 2014 file with gold tags.
    train_file
        Name of the file the model was trained on, for the report.
    limit
        Evaluate only the first ``limit`` sentences (for quick checks).

    Returns
    -------
    NerScores
        Exact-span precision, recall and F1 over all types and per type.
    """
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    sentences = read_germeval(eval_path)
    if limit is not None:
        sentences = sentences[:limit]
    nlp = spacy.load(model_dir)

    # Gold tokens go in as they are, so spans compare token for token.
    docs = [Doc(nlp.vocab, words=list(s.words)) for s in sentences]
    predicted = list(nlp.pipe(docs, batch_size=256))
    examples = [
        Example(doc, Doc(nlp.vocab, words=list(s.words), ents=list(s.tags)))
        for s, doc in zip(sentences, predicted, strict=True)
    ]

    scores = nlp.get_pipe("ner").score(examples)  # type: ignore[attr-defined]
    per_type = {
        kind: TypeScore(float(s["p"]), float(s["r"]), float(s["f"]))
        for kind, s in (scores.get("ents_per_type") or {}).items()
    }
    overall = TypeScore(
        float(scores["ents_p"] or 0.0),
        float(scores["ents_r"] or 0.0),
        float(scores["ents_f"] or 0.0),
    )
    return NerScores(
        overall=overall,
        per_type=per_type,
        n_sentences=len(sentences),
        train_file=train_file,
        eval_file=Path(eval_path).name,
    )
