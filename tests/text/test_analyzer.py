"""The analyzer end to end, on the edge cases posts bring."""

from __future__ import annotations

import pytest

from veedel.errors import InputError
from veedel.text import TextAnalyzer


def test_edge_cases_in_one_batch(analyzer: TextAnalyzer) -> None:
    """Empty, emoji only, mixed scripts, 10,000 characters, bytes, None."""
    long_post = ("Wir suchen für den Flohmarkt am Samstag noch Helfer. " * 200)[:10_000]
    texts: list[object] = [
        "",
        "😂🔥👍🏽",
        "Привет Berlin! مرحبا, wer kommt heute Abend mit ins Kino? 🎬",
        long_post,
        b"Wer hat meinen Schl\xfcssel am Bahnhof gefunden?",
        None,
    ]
    results = analyzer.analyze_many(texts)
    assert len(results) == 6

    empty, emoji, mixed, long, latin1, missing = results
    for blank in (empty, emoji, missing):
        assert (blank.language, blank.label, blank.nouns, blank.entities) == (
            "unknown",
            None,
            [],
            [],
        )
    assert mixed.language in analyzer.detector.languages
    assert (long.language, long.truncated, len(long.text)) == ("de", False, 10_000)
    assert long.noun_lemmas().count("Flohmarkt") == long_post.count("Flohmarkt")
    assert latin1.text == "Wer hat meinen Schl\ufffdssel am Bahnhof gefunden?"
    assert latin1.language == "de"


def test_texts_over_max_chars_are_cut(analyzer: TextAnalyzer) -> None:
    """max_chars (20,000) cuts and says so."""
    result = analyzer.analyze("Das ist ein Satz. " * 2_000)
    assert result.truncated and len(result.text) == 20_000


def test_one_string_is_not_a_batch(analyzer: TextAnalyzer) -> None:
    """analyze_many refuses a bare string, which would be analysed per letter."""
    with pytest.raises(InputError, match="list of texts"):
        analyzer.analyze_many("Hallo Welt")


def test_result_serialises_and_renders(analyzer: TextAnalyzer) -> None:
    """to_dict is JSON-ready; the Rich rendering names every part."""
    import json

    from rich.console import Console

    result = analyzer.analyze(
        "Angela Merkel besuchte gestern die Siemens AG in München."
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["entities"][0] == {"text": "Angela Merkel", "label": "PER"}
    console = Console(record=True, width=100)
    console.print(result)
    text = console.export_text()
    assert "PER:Angela Merkel" in text and "language" in text
