"""Content labels: sentence embeddings plus logistic regression.

A post is embedded with the multilingual sentence encoder and classified by a
multinomial logistic regression trained on labelled posts: the taxonomy's own
examples by default, or a CSV of the team's labelled posts
(``veedel text train-labels``). With no labelled posts at all, the label is the
one whose description is most similar to the post.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from veedel.errors import ConfigError, DataError, InputError
from veedel.text.embedding import SentenceEncoder
from veedel.text.taxonomy import Taxonomy

__all__ = [
    "CrossValidation",
    "LabelClassifier",
    "LabelResult",
    "Labeler",
    "cross_validate_labels",
    "read_labelled_csv",
    "train_labels",
]

logger = logging.getLogger(__name__)

Mode = Literal["trained", "examples", "descriptions"]

# Softmax temperature for description similarity: cosine similarities of
# sentence embeddings differ by a few hundredths between close labels.
_DESCRIPTION_TEMPERATURE = 0.05
_FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LabelResult:
    """The content label of one text and the classifier's probability for it."""

    label: str | None
    confidence: float


def _softmax(scores: _FloatArray) -> _FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: _FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result


@dataclass
class LabelClassifier:
    """Multinomial logistic regression over sentence embeddings.

    Only the fitted coefficients are kept, so a trained classifier is saved
    as plain arrays (``.npz``), never as a pickle.

    Parameters
    ----------
    C
        Inverse regularisation strength of the logistic regression.
    """

    C: float = 10.0
    classes_: list[str] = field(default_factory=list)
    coef_: _FloatArray | None = None
    intercept_: _FloatArray | None = None

    def fit(self, X: npt.ArrayLike, y: Sequence[str]) -> LabelClassifier:
        """Fit on embeddings ``X`` (n, d) and label ids ``y``."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        model = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
        # Small problems: one BLAS thread is ten times faster than two here.
        with threadpool_limits(limits=1):
            model.fit(np.asarray(X, dtype=np.float64), list(y))
        self.classes_ = [str(c) for c in model.classes_]
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(self.classes_) == 2:
            # Binary sklearn models keep one row; expand to a softmax pair.
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_, self.intercept_ = coef, intercept
        return self

    def predict_proba(self, X: npt.ArrayLike) -> _FloatArray:
        """Class probabilities, columns in the order of ``classes_``."""
        if self.coef_ is None or self.intercept_ is None:
            raise ConfigError("classifier", "must be fitted before use", None)
        scores = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        return _softmax(scores)

    def save(self, path: str | Path, meta: dict[str, object] | None = None) -> None:
        """Write the coefficients and ``meta`` to an ``.npz`` file."""
        if self.coef_ is None or self.intercept_ is None:
            raise ConfigError("classifier", "must be fitted before saving", None)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(
                handle,
                coef=self.coef_,
                intercept=self.intercept_,
                classes=np.array(self.classes_),
                meta=np.array(json.dumps(meta or {})),
            )
        logger.info("wrote label classifier to %s", path)

    @classmethod
    def load(cls, path: str | Path) -> tuple[LabelClassifier, dict[str, object]]:
        """Read a classifier written by :meth:`save` and its metadata."""
        with np.load(Path(path), allow_pickle=False) as data:
            model = cls(
                classes_=[str(c) for c in data["classes"]],
                coef_=np.asarray(data["coef"], dtype=np.float64),
                intercept_=np.asarray(data["intercept"], dtype=np.float64),
            )
            meta = json.loads(str(data["meta"]))
        return model, meta


@dataclass(frozen=True)
class CrossValidation:
    """Cross-validated scores of the label classifier.

    Attributes
    ----------
    macro_f1 : float
        Unweighted mean of the per-label F1 over the pooled out-of-fold
        predictions.
    per_label_f1 : dict of str to float
    n : int
        Labelled posts.
    n_splits : int
        Folds (stratified, shuffled with ``seed``).
    """

    macro_f1: float
    per_label_f1: dict[str, float]
    n: int
    n_splits: int
    seed: int


def cross_validate_labels(
    embeddings: npt.ArrayLike,
    labels: Sequence[str],
    *,
    n_splits: int = 5,
    seed: int = 0,
    C: float = 10.0,
    groups: Sequence[str] | None = None,
) -> CrossValidation:
    """Stratified k-fold macro-F1 of :class:`LabelClassifier`.

    Parameters
    ----------
    embeddings
        (n, d) sentence embeddings.
    labels
        Label id of each row.
    n_splits
        Folds; every label needs at least this many posts.
    seed
        Seed of the fold shuffle.
    groups
        Posts sharing a group stay in the same fold; the taxonomy's examples
        are translations of each other across languages, and a translation in
        the training folds would flatter the score.
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    X = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(list(labels))
    counts = {str(label): int((y == label).sum()) for label in np.unique(y)}
    too_few = {label: n for label, n in counts.items() if n < n_splits}
    if too_few:
        raise InputError(
            "labels",
            f"must have at least {n_splits} posts per label for {n_splits}-fold "
            "cross-validation",
            too_few,
            fix="Label more posts or lower the number of folds.",
        )
    predicted = np.empty_like(y)
    if groups is None:
        splits = StratifiedKFold(
            n_splits=n_splits, shuffle=True, random_state=seed
        ).split(X, y)
    else:
        splits = StratifiedGroupKFold(
            n_splits=n_splits, shuffle=True, random_state=seed
        ).split(X, y, groups=list(groups))
    for train, test in splits:
        model = LabelClassifier(C=C).fit(X[train], y[train].tolist())
        proba = model.predict_proba(X[test])
        predicted[test] = np.asarray(model.classes_)[proba.argmax(axis=1)]
    names = sorted(counts)
    per_label = f1_score(y, predicted, labels=names, average=None, zero_division=0)
    return CrossValidation(
        macro_f1=float(np.mean(per_label)),
        per_label_f1={
            str(name): float(f) for name, f in zip(names, per_label, strict=True)
        },
        n=len(y),
        n_splits=n_splits,
        seed=seed,
    )


# Longer than any post a label is learnt from; the csv module's default limit.
MAX_LABELLED_TEXT_CHARS = 131_072


def read_labelled_csv(
    path: str | Path, taxonomy: Taxonomy
) -> tuple[list[str], list[str]]:
    """Read ``text,label`` rows from a CSV file with a header.

    Invalid UTF-8 is replaced by U+FFFD rather than rejected; rows with an
    empty text are skipped; a label that is not in the taxonomy is an error
    naming the line.
    """
    from veedel.text.tokenize import clean_text

    path = Path(path)
    if not path.is_file():
        raise InputError("file", "must be an existing CSV file", str(path))
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(raw))
    if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
        raise DataError(
            "header",
            "must name the columns 'text' and 'label'",
            reader.fieldnames,
            where=str(path),
        )
    known = set(taxonomy.ids)
    texts: list[str] = []
    labels: list[str] = []
    try:
        for row in reader:
            text = clean_text(row.get("text")).strip()
            label = (row.get("label") or "").strip()
            if not text:
                continue
            # The csv module's own field limit is process-wide and the ingest
            # raises it, so the rule is checked here, whatever was imported.
            if len(text) > MAX_LABELLED_TEXT_CHARS:
                raise DataError(
                    "text",
                    f"must be at most {MAX_LABELLED_TEXT_CHARS:,} characters",
                    f"{len(text):,} characters",
                    where=f"{path}:{reader.line_num}",
                    fix="Shorten the post; a label needs only its first lines.",
                )
            if label not in known:
                raise DataError(
                    "label",
                    f"must be one of {sorted(known)}",
                    label,
                    where=f"{path}:{reader.line_num}",
                    fix="Fix the label or add it to the taxonomy.",
                )
            texts.append(text)
            labels.append(label)
    except csv.Error as exc:
        raise DataError(
            "text",
            f"must be a CSV field Python's csv module can read ({exc})",
            f"line {reader.line_num}",
            where=str(path),
            fix="Shorten the field to under 131,072 characters or fix its quotes.",
        ) from None
    return texts, labels


def train_labels(
    texts: Sequence[str],
    labels: Sequence[str],
    encoder: SentenceEncoder,
    output: str | Path,
    *,
    n_splits: int = 5,
    seed: int = 0,
) -> CrossValidation:
    """Cross-validate, then fit on all posts and save the classifier.

    Returns the cross-validated scores, which are also stored in the file.
    """
    if len(texts) != len(labels):
        raise InputError("labels", "must have one label per text", len(labels))
    X = encoder.encode(list(texts))
    scores = cross_validate_labels(X, labels, n_splits=n_splits, seed=seed)
    model = LabelClassifier().fit(X, labels)
    model.save(
        output,
        meta={
            "n": scores.n,
            "cv_macro_f1": scores.macro_f1,
            "n_splits": n_splits,
            "seed": seed,
        },
    )
    return scores


class Labeler:
    """Assign each text one label of a taxonomy.

    Parameters
    ----------
    taxonomy
        The labels.
    encoder
        Sentence encoder.
    model_path
        A classifier saved by :func:`train_labels`; used when the file exists
        and its labels are the taxonomy's.

    Attributes
    ----------
    mode : str
        ``trained`` (the saved classifier), ``examples`` (fitted on the
        taxonomy's example posts) or ``descriptions`` (similarity with the
        label descriptions, when the taxonomy has no examples).
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        encoder: SentenceEncoder,
        model_path: str | Path | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.model_path = Path(model_path) if model_path else None
        self._model: LabelClassifier | None = None
        self._descriptions: _FloatArray | None = None
        self.mode: Mode = self._choose_mode()

    def _choose_mode(self) -> Mode:
        if self.model_path is not None and self.model_path.is_file():
            model, _ = LabelClassifier.load(self.model_path)
            # A classifier trained on some of the labels is still the user's
            # choice; one with labels outside the taxonomy is stale.
            if set(model.classes_) <= set(self.taxonomy.ids):
                self._model = model
                return "trained"
            logger.warning(
                "label classifier %s has labels %s outside the taxonomy's %s;"
                " ignoring it",
                self.model_path,
                model.classes_,
                self.taxonomy.ids,
            )
        texts, _ = self.taxonomy.examples()
        return "examples" if texts else "descriptions"

    def _fitted(self) -> LabelClassifier:
        if self._model is None:
            texts, ids = self.taxonomy.examples()
            self._model = LabelClassifier().fit(self.encoder.encode(texts), ids)
        return self._model

    def _description_vectors(self) -> _FloatArray:
        if self._descriptions is None:
            texts = [f"{lab.name}. {lab.description}" for lab in self.taxonomy.labels]
            self._descriptions = self.encoder.encode(texts).astype(np.float64)
        return self._descriptions

    def probabilities(self, texts: Sequence[str]) -> tuple[list[str], _FloatArray]:
        """Label ids and an (n, k) matrix of label probabilities."""
        X = self.encoder.encode(list(texts)).astype(np.float64)
        if self.mode == "descriptions":
            similarity = X @ self._description_vectors().T
            return self.taxonomy.ids, _softmax(similarity / _DESCRIPTION_TEMPERATURE)
        model = self._fitted()
        return model.classes_, model.predict_proba(X)

    def label_many(self, texts: Sequence[str]) -> list[LabelResult]:
        """The most probable label of each text; None for blank texts."""
        results = [LabelResult(None, 0.0)] * len(texts)
        index = [i for i, text in enumerate(texts) if text.strip()]
        if not index:
            return results
        classes, proba = self.probabilities([texts[i] for i in index])
        best = proba.argmax(axis=1)
        for row, i in enumerate(index):
            results[i] = LabelResult(classes[best[row]], float(proba[row, best[row]]))
        return results
