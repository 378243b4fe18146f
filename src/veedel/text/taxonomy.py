"""The taxonomy of content labels, read from YAML."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from veedel.errors import ConfigError

__all__ = ["Label", "Taxonomy", "default_taxonomy_path", "load_taxonomy"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def default_taxonomy_path() -> Path:
    """The taxonomy bundled with veedel: seven buckets for a local app."""
    return Path(__file__).parent / "data" / "taxonomy.yaml"


@dataclass(frozen=True)
class Label:
    """One content label: id, readable name, description and example posts."""

    id: str
    name: str
    description: str
    examples: dict[str, tuple[str, ...]]

    def all_examples(self) -> list[str]:
        """The examples of every language, in file order."""
        return [text for texts in self.examples.values() for text in texts]


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of content labels."""

    labels: tuple[Label, ...]
    source: str = "<memory>"

    @property
    def ids(self) -> list[str]:
        """Label ids in file order."""
        return [label.id for label in self.labels]

    def get(self, label_id: str) -> Label:
        """The label with this id; ConfigError if there is none."""
        for label in self.labels:
            if label.id == label_id:
                return label
        raise ConfigError("label", f"must be one of {self.ids}", label_id)

    def examples(self) -> tuple[list[str], list[str]]:
        """All example posts and their label ids, as two parallel lists."""
        texts: list[str] = []
        ids: list[str] = []
        for label in self.labels:
            for text in label.all_examples():
                texts.append(text)
                ids.append(label.id)
        return texts, ids

    def example_groups(self) -> list[str]:
        """A group per example, parallel to :meth:`examples`.

        The n-th example of a label is a group across languages, because the
        bundled examples are written as translations of each other.
        """
        return [
            f"{label.id}:{position}"
            for label in self.labels
            for texts in label.examples.values()
            for position in range(len(texts))
        ]

    @classmethod
    def from_dict(cls, document: Any, source: str = "<memory>") -> Taxonomy:
        """Validate a parsed YAML document and build the taxonomy."""
        if not isinstance(document, dict) or not isinstance(
            document.get("labels"), list
        ):
            raise ConfigError(
                "labels",
                "must be a list under the top-level key 'labels'",
                type(document).__name__,
                where=source,
            )
        labels = [
            _label(entry, index, source)
            for index, entry in enumerate(document["labels"])
        ]
        if len(labels) < 2:
            raise ConfigError(
                "labels", "must hold at least two labels", len(labels), where=source
            )
        ids = [label.id for label in labels]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigError("labels.id", "must be unique", duplicates, where=source)
        return cls(tuple(labels), source)


def _label(entry: Any, index: int, source: str) -> Label:
    where = f"{source}: labels[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError("label", "must be a mapping", entry, where=where)
    label_id = entry.get("id")
    if not isinstance(label_id, str) or not _ID.match(label_id):
        raise ConfigError(
            "id",
            "must be lower-case letters, digits and underscores, starting "
            "with a letter",
            label_id,
            where=where,
        )
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ConfigError(
            "description", "must be a non-empty text", description, where=where
        )
    raw_examples = entry.get("examples") or {}
    if not isinstance(raw_examples, dict):
        raise ConfigError(
            "examples",
            "must map a language code to a list of posts",
            raw_examples,
            where=where,
        )
    examples = {
        str(language): tuple(str(text) for text in (texts or []))
        for language, texts in raw_examples.items()
    }
    name = entry.get("name") or label_id
    return Label(label_id, str(name), description.strip(), examples)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read a taxonomy YAML file (the bundled one if ``path`` is None)."""
    path = Path(path) if path is not None else default_taxonomy_path()
    if not path.is_file():
        raise ConfigError("taxonomy_path", "must name an existing file", str(path))
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            "taxonomy_path", "must be valid YAML", str(exc), where=str(path)
        ) from None
    taxonomy = Taxonomy.from_dict(document, str(path))
    logger.debug("taxonomy %s with %d labels", path, len(taxonomy.labels))
    return taxonomy
