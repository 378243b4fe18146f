"""Benchmark: ``enrich_posts`` against the bare model calls on the same posts.

Run with ``uv run python benchmarks/text_enrich.py [--n 400]``. Reports, in one
run and on the same real posts (titles and texts of the bundled Reddit city
communities, German and English, with one-word and emoji posts mixed in):

* posts per second of the bare model calls (language detection, tokenising and
  HanTa tagging, the German NER pipeline, sentence embedding and the label
  classifier), each timed on its own and summed;
* posts per second of ``enrich_posts`` over an in-memory DuckDB warehouse
  (reading, analysing, writing), and its ratio to the bare calls: the price of
  batching, cleaning and the warehouse round trips;
* peak resident memory of a fresh process that loads each language detector
  and detects the languages of the same posts, above a bare interpreter.

Models are loaded and warmed before timing, the tagger's remembered lemmas
are cleared before each timed pass, and each figure is the best of three
rounds. No assertion on time: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from veedel.data import bundled

REDDIT = bundled("reddit_geo")
SHORT = ["Hallo", "lol", "😂😂😂", "", "Danke!", "#berlin"]


def load_posts(n: int) -> list[str]:
    """``n`` real posts: Reddit titles and texts from German and English cities.

    One post in twenty is a short one ("Hallo", emoji) as in a real feed.
    """
    texts: list[str] = []
    for name in ("berlin", "de", "germany", "london", "nyc", "toronto"):
        frame = pd.read_csv(REDDIT / f"{name}.csv", usecols=["title", "selftext"])
        for title, body in zip(frame.title, frame.selftext.fillna(""), strict=True):
            texts.append(f"{title} {body}".strip()[:2000])
    # Every seventh post, so that any prefix mixes the cities and languages.
    texts = texts[::7]
    n_short = n // 20
    short = [SHORT[i % len(SHORT)] for i in range(n_short)]
    return texts[: n - n_short] + short


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def bare_calls(analyzer: Any, texts: list[str]) -> dict[str, float]:
    """Seconds of each model call over ``texts``, outside the pipeline."""
    from veedel.text.tokenize import blank_pipeline, tokens_of

    languages = analyzer.detector.detect_many(texts)
    codes = [r.language for r in languages]
    german = [t for t, c in zip(texts, codes, strict=True) if c == "de"]
    tagged_texts = [
        (t, c) for t, c in zip(texts, codes, strict=True) if c in ("de", "en")
    ]

    def tag() -> None:
        analyzer.tagger.clear_cache()
        for text, code in tagged_texts:
            analyzer.tagger.tag(tokens_of(blank_pipeline(code)(text)), code)

    return {
        "language": _timed(lambda: analyzer.detector.detect_many(texts)),
        "tokenize+tag": _timed(tag),
        "ner (German posts)": _timed(lambda: analyzer.recognizer.german(german)),
        "embed+label": _timed(lambda: analyzer.labeler.label_many(texts)),
    }


def enrich_run(analyzer: Any, texts: list[str]) -> float:
    """Seconds of enrich_posts over a fresh in-memory warehouse of ``texts``."""
    import ibis

    from veedel.text import enrich_posts

    con = ibis.duckdb.connect()
    posts = pd.DataFrame({"post_id": [f"p{i:06d}" for i in range(len(texts))]})
    posts["text"] = texts
    con.create_table("posts", posts)
    analyzer.tagger.clear_cache()
    start = time.perf_counter()
    result = enrich_posts(con, analyzer=analyzer)
    seconds = time.perf_counter() - start
    assert result.n_enriched == len(texts)
    return seconds


def _peak_rss_mib() -> float:
    # VmHWM starts afresh with the new program; ru_maxrss would carry the
    # parent's peak across exec on Linux.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(detector: str, n: int) -> None:
    """In a fresh process: load one detector, detect, print peak RSS in MiB."""
    texts = load_posts(n)
    if detector != "none":
        from veedel.text.language import make_detector
        from veedel.text.settings import TextSettings

        make_detector(TextSettings(language_detector=detector)).detect_many(texts)
    print(_peak_rss_mib())


def peak_memory(detector: str, n: int) -> float:
    output = subprocess.run(
        [sys.executable, __file__, "--memory-child", detector, "--n", str(n)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="posts to analyse")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.n)
        return

    from veedel.text import TextAnalyzer, TextSettings

    texts = load_posts(args.n)
    settings = TextSettings(label_model_path=Path("/nonexistent/label_model.npz"))
    analyzer = TextAnalyzer(settings)
    analyzer.analyze_many(texts[:20])  # load and warm every model

    # Best of three rounds, bare and enrich alternating, so that load from
    # other processes hits both alike.
    rounds = [(bare_calls(analyzer, texts), enrich_run(analyzer, texts)) for _ in "abc"]
    parts = {key: min(r[0][key] for r in rounds) for key in rounds[0][0]}
    bare = min(sum(r[0].values()) for r in rounds)
    enrich = min(r[1] for r in rounds)
    baseline = peak_memory("none", args.n)
    memory = {
        name: peak_memory(name, args.n) - baseline for name in ("lingua", "py3langid")
    }

    report = {
        "posts": len(texts),
        "bare_seconds": parts,
        "bare_posts_per_second": len(texts) / bare,
        "enrich_posts_per_second": len(texts) / enrich,
        "enrich_to_bare_ratio": bare / enrich,
        "detector_peak_mib_above_interpreter": memory,
        "interpreter_peak_mib": baseline,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{len(texts)} real posts (Reddit city communities, de + en, short posts)")
    rows = [*(("bare " + k, v) for k, v in parts.items()), ("bare, all calls", bare)]
    rows.append(("enrich_posts", enrich))
    for name, seconds in rows:
        rate = len(texts) / seconds
        print(f"  {name:<25} {seconds:7.2f} s  {rate:8.1f} posts/s")
    print(f"  enrich speed / bare speed: {bare / enrich:.2f}")
    for name, mib in memory.items():
        print(f"  peak memory with {name:<10} +{mib:6.0f} MiB above the interpreter")


if __name__ == "__main__":
    main()
